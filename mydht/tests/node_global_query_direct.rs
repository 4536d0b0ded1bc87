//! Under `threaded!` the node handle's queries go straight into the global
//! service's channel (`MyDHTConf::direct_global`), not through the main
//! loop: counted by `NodeHandle::direct_queries`, answered as before,
//! timed out as before, behind the peer's online event when sent as soon
//! as `connect` answers; through the main loop when that channel is full
//! or the global service's loop has ended (directly again once it runs),
//! and failed, not left waiting, when the node stops. Under `restartable!`
//! and `single_thread!` they all go through the main loop. Real TCP on
//! loopback.

use std::collections::BTreeSet;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use mydht::service::PeersView;
use mydht::{
    GlobalCommand, LocalCommand, MyDHTConf, NodeError, NodeHandle, PeerCount, PeerId, PeerInfo,
    PeerStatus, QueryId, Reply,
};
use mydht_base::{Error, ErrorKind, ErrorLevel, Peer, Result, Service, SpawnerYield};
use mydht_basetest::harness::nodes::{connect, TIMEOUT};
use mydht_basetest::loopback_conf_items;
use serde::{Deserialize, Serialize};

/// A query's time when the test waits for its timeout.
const SHORT: Duration = Duration::from_millis(200);

/// What the test asks the global service.
#[derive(Debug)]
enum Ask {
    /// The peers it heard online.
    Online,
    /// This number back.
    Echo(u32),
    /// No answer.
    Never,
    /// A ping to this peer, answered by the pong its local service sends.
    Ping(PeerId),
    /// Its call fails: the global service's loop ends.
    Fail,
    /// It says it holds (the first), then waits for the test's go (the
    /// second) before it answers: its channel fills meanwhile.
    Hold(SyncSender<()>, Arc<Mutex<Receiver<()>>>),
}

/// What the queries answer.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Online(BTreeSet<PeerId>),
    Echo(u32),
    Pong,
    Held,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Msg {
    Ping(QueryId),
    Pong(QueryId),
}

trait QueryConf: MyDHTConf<GlobalCmd = Ask, ProtoMsg = Msg, ApiReply = Answer> {}
impl<C: MyDHTConf<GlobalCmd = Ask, ProtoMsg = Msg, ApiReply = Answer>> QueryConf for C {}

struct Global<C> {
    online: BTreeSet<PeerId>,
    _conf: PhantomData<fn() -> C>,
}

impl<C: QueryConf> Service for Global<C> {
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(match cmd {
            GlobalCommand::PeerStatus(peer, PeerStatus::Online) => {
                self.online.insert(*peer.get_id());
                Reply::None
            }
            GlobalCommand::PeerStatus(peer, PeerStatus::Offline) => {
                self.online.remove(peer.get_id());
                Reply::None
            }
            GlobalCommand::Api(qid, ask) => match ask {
                Ask::Online => Reply::Api(qid, Answer::Online(self.online.clone())),
                Ask::Echo(n) => Reply::Api(qid, Answer::Echo(n)),
                Ask::Never => Reply::None,
                Ask::Ping(to) => Reply::Send(to, Msg::Ping(qid)),
                Ask::Fail => {
                    return Err(Error::new(
                        ErrorKind::Other,
                        ErrorLevel::ShutDown,
                        "the test's global service fails",
                    ))
                }
                Ask::Hold(holding, go) => {
                    let _ = holding.send(());
                    let go = go.lock().unwrap_or_else(|e| e.into_inner());
                    go.recv_timeout(TIMEOUT).expect("the test's go");
                    Reply::Api(qid, Answer::Held)
                }
            },
            _ => Reply::None,
        })
    }
}

struct Local<C>(PhantomData<fn() -> C>);

impl<C: QueryConf> Service for Local<C> {
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

macro_rules! query_conf {
    ($name:ident, $profile:ident) => {
        struct $name;

        impl MyDHTConf for $name {
            loopback_conf_items!();
            type ProtoMsg = Msg;
            type GlobalCmd = Ask;
            type ApiReply = Answer;
            type GlobalService = Global<Self>;
            type LocalService = Local<Self>;
            mydht::$profile!();

            fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Global<Self>> {
                Ok(Global {
                    online: BTreeSet::new(),
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
        }
    };
}

query_conf!(Threaded, threaded);
query_conf!(Restart, restartable);
query_conf!(Single, single_thread);

fn id<C: MyDHTConf>(node: &NodeHandle<C>) -> PeerId {
    *node.local_peer().get_id()
}

/// The one answer of query `ask`.
fn ask<C: QueryConf>(node: &NodeHandle<C>, ask: Ask) -> Answer {
    let mut got = node.query(ask, 1, TIMEOUT).expect("query answered");
    assert_eq!(got.len(), 1, "one answer");
    got.remove(0)
}

/// The peers `node`'s global service heard online.
fn online<C: QueryConf>(node: &NodeHandle<C>) -> BTreeSet<PeerId> {
    match ask(node, Ask::Online) {
        Answer::Online(peers) => peers,
        other => panic!("not the online peers: {other:?}"),
    }
}

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `f` on this thread until it is ready or [`TIMEOUT`] has passed
/// (`None`).
fn wait_for<F: Future>(f: F) -> Option<F::Output> {
    let deadline = Instant::now() + TIMEOUT;
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return Some(v);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        thread::park_timeout(left);
    }
}

/// Two nodes of configuration `make`, the first connected to the second.
fn pair<C: QueryConf>(make: fn() -> C) -> (NodeHandle<C>, NodeHandle<C>) {
    let a = mydht::start_loop(make()).expect("node a");
    let b = mydht::start_loop(make()).expect("node b");
    connect(&a, &b).expect("connect");
    (a, b)
}

/// Queries answered by the global service and by a peer's local service.
fn queries_answered<C: QueryConf>(a: &NodeHandle<C>, b: &NodeHandle<C>) {
    for n in 0..50 {
        assert_eq!(ask(a, Ask::Echo(n)), Answer::Echo(n));
    }
    for _ in 0..50 {
        assert_eq!(ask(a, Ask::Ping(id(b))), Answer::Pong);
    }
    let mut flight: Vec<_> = (0..64)
        .map(|n| a.query_future(Ask::Echo(n), 1, TIMEOUT).expect("sent"))
        .collect();
    for (n, f) in (0..64).zip(flight.drain(..)) {
        let got = wait_for(f).expect("answered in time").expect("answer");
        assert_eq!(got, vec![Answer::Echo(n)]);
    }
}

#[test]
fn threaded_queries_go_straight_to_the_global_service() {
    let (a, b) = pair(|| Threaded);
    let before = a.direct_queries();
    queries_answered(&a, &b);
    assert_eq!(a.direct_queries() - before, 164, "every query direct");
    a.stop().expect("stop a");
    b.stop().expect("stop b");
}

#[test]
fn restartable_queries_go_through_the_main_loop() {
    let (a, b) = pair(|| Restart);
    queries_answered(&a, &b);
    assert_eq!(a.direct_queries(), 0);
    a.stop().expect("stop a");
    b.stop().expect("stop b");
}

#[test]
fn single_thread_queries_go_through_the_main_loop() {
    let (a, b) = pair(|| Single);
    queries_answered(&a, &b);
    assert_eq!(a.direct_queries(), 0);
    a.stop().expect("stop a");
    b.stop().expect("stop b");
}

/// A query sent the moment `connect` (or a wait for the peer) answers
/// reaches the global service after the peer's online event; one sent the
/// moment `disconnect` (or a wait for no peer) answers, after its offline
/// event. Each round with a
/// new peer, kept running to the end (a port freed could be another
/// round's, at an address the first node knows another key for). The
/// first node's queries given straight to its global service.
fn queries_follow_the_peer_events<C: QueryConf>(make: fn() -> C) -> u64 {
    let a = mydht::start_loop(make()).expect("node a");
    let mut peers = Vec::new();
    for round in 0..20 {
        let b = mydht::start_loop(make()).expect("node b");
        connect(&a, &b).expect("connect");
        assert!(online(&a).contains(&id(&b)), "round {round}: b online at a");
        b.wait_peers(PeerCount::AtLeast(1), TIMEOUT)
            .expect("a online at b");
        assert!(online(&b).contains(&id(&a)), "round {round}: a online at b");
        let gone = a.disconnect(&id(&b), TIMEOUT).expect("disconnect");
        assert!(gone.is_some(), "round {round}: b was connected");
        assert!(
            !online(&a).contains(&id(&b)),
            "round {round}: b offline at a"
        );
        b.wait_peers(PeerCount::AtMost(0), TIMEOUT)
            .expect("a offline at b");
        assert!(
            !online(&b).contains(&id(&a)),
            "round {round}: a offline at b"
        );
        peers.push(b);
    }
    let direct = a.direct_queries();
    a.stop().expect("stop a");
    for b in peers {
        b.stop().expect("stop b");
    }
    direct
}

#[test]
fn threaded_a_query_right_after_connect_finds_the_peer_online() {
    assert_eq!(
        queries_follow_the_peer_events(|| Threaded),
        40,
        "all direct"
    );
}

#[test]
fn restartable_a_query_right_after_connect_finds_the_peer_online() {
    assert_eq!(queries_follow_the_peer_events(|| Restart), 0);
}

#[test]
fn threaded_a_query_nobody_answers_times_out() {
    let a = mydht::start_loop(Threaded).expect("node");
    let before = a.direct_queries();
    match a.query(Ask::Never, 1, SHORT) {
        Err(NodeError::Timeout(e)) => assert!(e.message().contains("0 of 1"), "{e}"),
        other => panic!("not a timeout: {other:?}"),
    }
    // A future has only the node's expiry (its query tick) to end it.
    let start = Instant::now();
    let f = a.query_future(Ask::Never, 1, SHORT).expect("sent");
    match wait_for(f) {
        Some(Err(e)) => assert_eq!(e.kind(), ErrorKind::Timeout, "{e}"),
        other => panic!("not a timeout by the node: {other:?}"),
    }
    assert!(start.elapsed() >= SHORT, "expired early");
    let partial = a.query_partial(Ask::Never, 1, SHORT).expect("partial");
    assert!(partial.replies.is_empty() && !partial.is_complete());
    assert_eq!(a.direct_queries() - before, 3, "all three direct");
    a.stop().expect("stop");
}

#[test]
fn threaded_a_stop_fails_the_queries_in_flight() {
    let a = mydht::start_loop(Threaded).expect("node");
    let f = a.query_future(Ask::Never, 1, TIMEOUT).expect("sent");
    assert_eq!(a.direct_queries(), 1);
    let start = Instant::now();
    a.stop().expect("stop");
    match wait_for(f) {
        Some(Err(e)) => assert_eq!(e.kind(), ErrorKind::ChannelClosed, "{e}"),
        other => panic!("not failed by the stop: {other:?}"),
    }
    assert!(
        start.elapsed() < TIMEOUT,
        "failed by the stop, not its timeout"
    );
}

#[test]
fn threaded_a_full_global_channel_sends_queries_through_the_main_loop() {
    let a = mydht::start_loop(Threaded).expect("node");
    let (holding_tx, holding) = sync_channel(1);
    let (go, go_rx) = sync_channel(1);
    // From a thread of its own: the idle global service runs it there
    // (`InPlaceGlobal`), and it waits for the go in that call.
    let holder = a.clone();
    let held = thread::spawn(move || {
        holder.query(
            Ask::Hold(holding_tx, Arc::new(Mutex::new(go_rx))),
            1,
            TIMEOUT,
        )
    });
    holding.recv_timeout(TIMEOUT).expect("the service holds");
    // More than its channel holds (`service_channel`, 1,024): the ones
    // that find it full go through the main loop.
    let n = mydht::NodeConstants::default().service_channel as u32 + 100;
    let before = a.direct_queries();
    let flight: Vec<_> = (0..n)
        .map(|i| a.query_future(Ask::Echo(i), 1, TIMEOUT).expect("sent"))
        .collect();
    let direct = a.direct_queries() - before;
    assert!(
        direct < u64::from(n),
        "{direct} of {n} direct: none found it full"
    );
    go.send(()).expect("go");
    assert_eq!(
        held.join().expect("holder").expect("answer"),
        vec![Answer::Held]
    );
    for (i, f) in (0..n).zip(flight) {
        let got = wait_for(f).expect("answered in time").expect("answer");
        assert_eq!(got, vec![Answer::Echo(i)]);
    }
    // A full channel leaves the way open: the next query is direct.
    let before = a.direct_queries();
    assert_eq!(ask(&a, Ask::Echo(7)), Answer::Echo(7));
    assert_eq!(a.direct_queries() - before, 1);
    a.stop().expect("stop");
}

#[test]
fn threaded_queries_after_the_global_service_failed_are_answered_then_direct_again() {
    let a = mydht::start_loop(Threaded).expect("node");
    let before = a.direct_queries();
    // Its call fails: no answer, and its loop ends.
    match a.query(Ask::Fail, 1, SHORT) {
        Err(NodeError::Timeout(_)) => {}
        other => panic!("not a timeout: {other:?}"),
    }
    assert_eq!(a.direct_queries() - before, 1);
    // Answered whatever way they take: through the main loop, which
    // starts the service again, or into its channel, which the restarted
    // service reads; then the way is open again.
    let mut direct_again = false;
    for n in 0..1000 {
        let before = a.direct_queries();
        assert_eq!(ask(&a, Ask::Echo(n)), Answer::Echo(n));
        if a.direct_queries() > before {
            direct_again = true;
            break;
        }
    }
    assert!(direct_again, "the way never opened again");
    a.stop().expect("stop");
}
