//! Under `threaded!` the global service is `InPlaceGlobal`: a node
//! handle's query that finds it idle runs on the caller's thread (its
//! frame to a peer written there too), counted by
//! `NodeHandle::queries_in_place`; one that finds it busy (another
//! caller's query running in place) queues and is run by the service's
//! own thread, after what it queued behind; the main loop's commands
//! (peer events) are never run in place; `global: ThreadPark,
//! MpscChannel;` and `restartable!` run none in place. Real TCP on
//! loopback.

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

use mydht::service::PeersView;
use mydht::{
    GlobalCommand, LocalCommand, MyDHTConf, NodeHandle, PeerId, PeerInfo, PeerStatus, QueryId,
    Reply,
};
use mydht_base::{Peer, Result, Service, SpawnerYield};
use mydht_basetest::harness::nodes::{connect, TIMEOUT};
use mydht_basetest::loopback_conf_items;
use serde::{Deserialize, Serialize};

/// What the test asks the global service.
#[derive(Debug)]
enum Ask {
    /// The thread that runs the call, and the call's number.
    Where,
    /// A ping to this peer, answered by the pong its local service sends.
    Ping(PeerId),
    /// It says it holds (the first), then waits for the test's go (the
    /// second) before it answers.
    Hold(SyncSender<()>, Arc<Mutex<Receiver<()>>>),
    /// The peers it heard online, and the names of the threads that ran
    /// the peer events.
    Events,
}

/// What the queries answer.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Where(ThreadId, u64),
    Pong,
    Held(u64),
    Events(BTreeSet<PeerId>, Vec<Option<String>>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Msg {
    Ping(QueryId),
    Pong(QueryId),
}

trait PlaceConf: MyDHTConf<GlobalCmd = Ask, ProtoMsg = Msg, ApiReply = Answer> {}
impl<C: MyDHTConf<GlobalCmd = Ask, ProtoMsg = Msg, ApiReply = Answer>> PlaceConf for C {}

struct Global<C> {
    calls: u64,
    online: BTreeSet<PeerId>,
    event_threads: Vec<Option<String>>,
    _conf: PhantomData<fn() -> C>,
}

impl<C: PlaceConf> Service for Global<C> {
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        self.calls += 1;
        Ok(match cmd {
            GlobalCommand::PeerStatus(peer, status) => {
                let name = thread::current().name().map(str::to_string);
                self.event_threads.push(name);
                match status {
                    PeerStatus::Online => self.online.insert(*peer.get_id()),
                    _ => self.online.remove(peer.get_id()),
                };
                Reply::None
            }
            GlobalCommand::Api(qid, ask) => match ask {
                Ask::Where => Reply::Api(qid, Answer::Where(thread::current().id(), self.calls)),
                Ask::Ping(to) => Reply::Send(to, Msg::Ping(qid)),
                Ask::Hold(holding, go) => {
                    let _ = holding.send(());
                    let go = go.lock().unwrap_or_else(|e| e.into_inner());
                    go.recv_timeout(TIMEOUT).expect("the test's go");
                    Reply::Api(qid, Answer::Held(self.calls))
                }
                Ask::Events => Reply::Api(
                    qid,
                    Answer::Events(self.online.clone(), self.event_threads.clone()),
                ),
            },
            _ => Reply::None,
        })
    }
}

struct Local<C>(PhantomData<fn() -> C>);

impl<C: PlaceConf> Service for Local<C> {
    type CommandIn = LocalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        let from = *cmd.from.get_id();
        Ok(match cmd.msg {
            Msg::Ping(qid) => Reply::Send(from, Msg::Pong(qid)),
            Msg::Pong(qid) => Reply::Api(qid, Answer::Pong),
        })
    }
}

macro_rules! place_conf {
    ($name:ident, $profile:ident, [$($mix:tt)*] $($items:item)*) => {
        struct $name;

        impl MyDHTConf for $name {
            loopback_conf_items!();
            type ProtoMsg = Msg;
            type GlobalCmd = Ask;
            type ApiReply = Answer;
            type GlobalService = Global<Self>;
            type LocalService = Local<Self>;
            mydht::$profile!($($mix)*);

            fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Global<Self>> {
                Ok(Global {
                    calls: 0,
                    online: BTreeSet::new(),
                    event_threads: Vec::new(),
                    _conf: PhantomData,
                })
            }
            fn init_local(
                &mut self,
                _: &PeerInfo,
                _: &PeerInfo,
                _: &PeersView,
            ) -> Result<Local<Self>> {
                Ok(Local(PhantomData))
            }
            fn logger(&self) -> slog::Logger {
                slog::Logger::root(slog::Discard, slog::o!())
            }
            $($items)*
        }
    };
}

place_conf!(Threaded, threaded, []);
place_conf!(OwnThread, threaded, [global: ThreadPark, MpscChannel;]);
place_conf!(Restart, restartable, []);
place_conf!(
    NoSpin,
    threaded,
    []
    fn constants(&self) -> mydht::NodeConstants {
        mydht::NodeConstants {
            caller_spin: std::time::Duration::ZERO,
            ..Default::default()
        }
    }
);

fn id<C: MyDHTConf>(node: &NodeHandle<C>) -> PeerId {
    *node.local_peer().get_id()
}

/// The one answer of query `ask`.
fn ask<C: PlaceConf>(node: &NodeHandle<C>, ask: Ask) -> Answer {
    let mut got = node.query(ask, 1, TIMEOUT).expect("query answered");
    assert_eq!(got.len(), 1, "one answer");
    got.remove(0)
}

/// The thread that ran query `Where` and its call's number.
fn where_run<C: PlaceConf>(node: &NodeHandle<C>) -> (ThreadId, u64) {
    match ask(node, Ask::Where) {
        Answer::Where(t, n) => (t, n),
        other => panic!("not a thread: {other:?}"),
    }
}

/// Two nodes of configuration `make`, the first connected to the second.
fn pair<C: PlaceConf>(make: fn() -> C) -> (NodeHandle<C>, NodeHandle<C>) {
    let a = mydht::start_loop(make()).expect("node a");
    let b = mydht::start_loop(make()).expect("node b");
    connect(&a, &b).expect("connect");
    (a, b)
}

/// True once a query `Where` of `a` from this thread runs in place, 100
/// tries at most, each after a ping to `b` answered. A query that finds
/// the service's thread at work (on the peer's online event, or on the
/// last query it ran: it gives the answer before it lets go of the
/// service) queues; a ping is answered by the peer, a round trip after
/// the global service sent it, its thread done by then.
fn settle<C: PlaceConf>(a: &NodeHandle<C>, b: &NodeHandle<C>) -> bool {
    let me = thread::current().id();
    (0..100).any(|_| {
        assert_eq!(ask(a, Ask::Ping(id(b))), Answer::Pong);
        where_run(a).0 == me
    })
}

/// `a`'s queries (`Where` and pings to `b`) from this thread once
/// [`settle`]d: the thread each `Where` ran on, how many ran in place,
/// and how many messages went straight to a write service meanwhile.
fn queries<C: PlaceConf>(a: &NodeHandle<C>, b: &NodeHandle<C>) -> (Vec<ThreadId>, u64, u64) {
    settle(a, b);
    let sends = a.direct_sends();
    let before = a.queries_in_place();
    let mut threads = Vec::new();
    for _ in 0..20 {
        threads.push(where_run(a).0);
        assert_eq!(ask(a, Ask::Ping(id(b))), Answer::Pong);
    }
    (
        threads,
        a.queries_in_place() - before,
        a.direct_sends() - sends,
    )
}

#[test]
fn a_query_to_the_idle_global_service_runs_on_the_callers_thread() {
    let (a, b) = pair(|| Threaded);
    let (threads, in_place, sends) = queries(&a, &b);
    let me = thread::current().id();
    let mine: Vec<bool> = threads.iter().map(|t| *t == me).collect();
    assert!(mine.iter().all(|m| *m), "every one in place: {mine:?}");
    assert_eq!(in_place, 40, "counted");
    // The pings' frames went straight to the write service (written on
    // this thread while it is idle), not through the main loop.
    assert_eq!(sends, 20);
    // A future's query too, before `query_future` returns.
    let before = a.queries_in_place();
    let f = a.query_future(Ask::Where, 1, TIMEOUT).expect("sent");
    assert_eq!(a.queries_in_place() - before, 1, "run before it returned");
    match wait(f).expect("answer").as_slice() {
        [Answer::Where(t, _)] => assert_eq!(*t, me),
        other => panic!("not a thread: {other:?}"),
    }
    a.stop().expect("stop a");
    b.stop().expect("stop b");
}

#[test]
fn a_query_to_a_busy_global_service_queues_behind_and_runs_on_its_thread() {
    let (a, b) = pair(|| Threaded);
    assert!(settle(&a, &b), "idle");
    let (holding_tx, holding) = sync_channel(1);
    let (go, go_rx) = sync_channel(1);
    let holder = a.clone();
    let held = thread::spawn(move || {
        let got = holder.query(
            Ask::Hold(holding_tx, Arc::new(Mutex::new(go_rx))),
            1,
            TIMEOUT,
        );
        (thread::current().id(), got)
    });
    holding.recv_timeout(TIMEOUT).expect("the service holds");
    // The holder's query runs in place (on its thread), holding the
    // service: these queue behind it, in order.
    let before = a.queries_in_place();
    let flight: Vec<_> = (0..3)
        .map(|_| a.query_future(Ask::Where, 1, TIMEOUT).expect("sent"))
        .collect();
    assert_eq!(a.queries_in_place(), before, "none ran in place");
    go.send(()).expect("go");
    let (holder_thread, got) = held.join().expect("holder");
    let held_call = match got.expect("answer").as_slice() {
        [Answer::Held(n)] => *n,
        other => panic!("not held: {other:?}"),
    };
    let me = thread::current().id();
    let mut last = held_call;
    for f in flight {
        let got = wait(f).expect("answer");
        match got.as_slice() {
            [Answer::Where(t, n)] => {
                assert!(
                    *t != me && *t != holder_thread,
                    "run by the service's thread"
                );
                assert!(*n > last, "in order, behind the held one");
                last = *n;
            }
            other => panic!("not a thread: {other:?}"),
        }
    }
    // Idle again: they run in place again.
    assert!(settle(&a, &b), "in place again");
    a.stop().expect("stop a");
    b.stop().expect("stop b");
}

/// Waits for a query future on this thread.
fn wait<F: std::future::Future>(f: F) -> F::Output
where
    F::Output: std::fmt::Debug,
{
    struct Unpark(thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        assert!(!left.is_zero(), "answered in time");
        thread::park_timeout(left);
    }
}

#[test]
fn peer_events_are_never_run_in_place() {
    let (a, b) = pair(|| Threaded);
    let c = mydht::start_loop(Threaded).expect("node c");
    connect(&a, &c).expect("connect c");
    let gone = a.disconnect(&id(&c), TIMEOUT).expect("disconnect");
    assert!(gone.is_some(), "c was connected");
    match ask(&a, Ask::Events) {
        Answer::Events(online, threads) => {
            assert_eq!(online, BTreeSet::from([id(&b)]), "b online, c not");
            assert_eq!(threads.len(), 3, "b and c online, c offline");
            let me = thread::current().name().map(str::to_string);
            for t in threads {
                assert!(t != me, "not on this thread");
                assert!(t.as_deref() != Some("mydht-mainloop"), "not on the loop");
            }
        }
        other => panic!("not the events: {other:?}"),
    }
    for n in [a, b, c] {
        n.stop().expect("stop");
    }
}

#[test]
fn the_global_service_on_its_own_thread_runs_none_in_place() {
    let (a, b) = pair(|| OwnThread);
    let (threads, in_place, _) = queries(&a, &b);
    let me = thread::current().id();
    assert!(threads.iter().all(|t| *t != me), "none in place");
    assert_eq!(in_place, 0);
    a.stop().expect("stop a");
    b.stop().expect("stop b");
}

#[test]
fn callers_that_never_spin_get_their_answers_in_place_too() {
    let (a, b) = pair(|| NoSpin);
    let (threads, in_place, sends) = queries(&a, &b);
    let me = thread::current().id();
    assert!(threads.iter().all(|t| *t == me), "every one in place");
    assert_eq!((in_place, sends), (40, 20));
    a.stop().expect("stop a");
    b.stop().expect("stop b");
}

#[test]
fn restartable_runs_none_in_place() {
    let (a, b) = pair(|| Restart);
    let (_, in_place, _) = queries(&a, &b);
    assert_eq!(in_place, 0);
    a.stop().expect("stop a");
    b.stop().expect("stop b");
}
