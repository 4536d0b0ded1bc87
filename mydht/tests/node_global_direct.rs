//! The global service's messages to an online peer go straight to that
//! peer's connection's write service under `threaded!` (`GlobalDest`), in
//! order, and through the main loop once the peer is offline (dropped and
//! logged there, as before); under `restartable!` they all go through the
//! main loop. Real TCP on loopback.

mod log_capture;

use std::marker::PhantomData;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

use log_capture::Captured;
use mydht::service::PeersView;
use mydht::{
    GlobalCommand, LocalCommand, MyDHTConf, NodeHandle, PeerId, PeerInfo, PeerStatus, Reply,
};
use mydht_base::{Peer, Result, Service, SpawnerYield};
use mydht_basetest::harness::nodes::{connect, TIMEOUT};
use mydht_basetest::loopback_conf_items;
use serde::{Deserialize, Serialize};

/// Messages per query.
const N: u32 = 200;

/// What a node's services tell the test.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    /// The global service heard this peer's status.
    Status(PeerId, PeerStatus),
    /// A local service got message `1` from peer `0`.
    Got(PeerId, u32),
}

/// Asks the global service to send `to` the messages `from..from + n`,
/// then answer.
#[derive(Debug)]
struct SendRun {
    to: PeerId,
    from: u32,
    n: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Num(u32);

trait DirectConf: MyDHTConf<GlobalCmd = SendRun, ProtoMsg = Num, ApiReply = ()> {}
impl<C: MyDHTConf<GlobalCmd = SendRun, ProtoMsg = Num, ApiReply = ()>> DirectConf for C {}

struct Global<C>(SyncSender<Event>, PhantomData<fn() -> C>);

impl<C: DirectConf> Service for Global<C> {
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(match cmd {
            GlobalCommand::Api(qid, SendRun { to, from, n }) => {
                let mut out: Vec<Reply<C>> =
                    (from..from + n).map(|i| Reply::Send(to, Num(i))).collect();
                out.push(Reply::Api(qid, ()));
                Reply::Many(out)
            }
            GlobalCommand::PeerStatus(peer, status) => {
                let _ = self.0.send(Event::Status(*peer.get_id(), status));
                Reply::None
            }
            _ => Reply::None,
        })
    }
}

struct Local<C>(SyncSender<Event>, PhantomData<fn() -> C>);

impl<C: DirectConf> Service for Local<C> {
    type CommandIn = LocalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        let _ = self.0.send(Event::Got(*cmd.from.get_id(), cmd.msg.0));
        Ok(Reply::None)
    }
}

macro_rules! direct_conf {
    ($name:ident, $profile:ident) => {
        struct $name {
            events: SyncSender<Event>,
            log: Captured,
        }

        impl MyDHTConf for $name {
            loopback_conf_items!();
            type ProtoMsg = Num;
            type GlobalCmd = SendRun;
            type ApiReply = ();
            type GlobalService = Global<Self>;
            type LocalService = Local<Self>;
            mydht::$profile!();

            fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Global<Self>> {
                Ok(Global(self.events.clone(), PhantomData))
            }
            fn init_local(
                &mut self,
                _: &PeerInfo,
                _: &PeerInfo,
                _: &PeersView,
            ) -> Result<Local<Self>> {
                Ok(Local(self.events.clone(), PhantomData))
            }
            fn logger(&self) -> slog::Logger {
                self.log.logger()
            }
        }
    };
}

direct_conf!(Threaded, threaded);
direct_conf!(Restart, restartable);

/// A node, what its services tell and what it logs.
struct Node<C: MyDHTConf> {
    handle: NodeHandle<C>,
    events: Receiver<Event>,
    log: Captured,
}

impl<C: MyDHTConf> Node<C> {
    fn id(&self) -> PeerId {
        *self.handle.local_peer().get_id()
    }

    /// The next message its local services got (its global service's
    /// peer events skipped), waiting at most [`TIMEOUT`].
    fn next_got(&self) -> Event {
        loop {
            match self
                .events
                .recv_timeout(TIMEOUT)
                .expect("a message in time")
            {
                Event::Status(..) => {}
                got => return got,
            }
        }
    }

    /// Skips events until `want`, waiting at most [`TIMEOUT`] in all.
    fn wait(&self, want: Event) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) if e == want => return,
                Ok(_) => {}
                Err(e) => panic!("no {want:?}: {e}"),
            }
        }
    }
}

fn start<C: MyDHTConf>(make: impl FnOnce(SyncSender<Event>, Captured) -> C) -> Node<C> {
    let (tx, events) = sync_channel(4 * N as usize);
    let log = Captured::new();
    let handle = mydht::start_loop(make(tx, log.clone())).expect("node");
    Node {
        handle,
        events,
        log,
    }
}

/// `a`'s global service sends `b` the messages `from..from + n`; `b` gets
/// them all, in order, and nothing else.
fn run_reaches<C: DirectConf, D: MyDHTConf>(a: &Node<C>, b: &Node<D>, from: u32, n: u32) {
    let ask = SendRun {
        to: b.id(),
        from,
        n,
    };
    a.handle.query(ask, 1, TIMEOUT).expect("query answered");
    for i in from..from + n {
        assert_eq!(b.next_got(), Event::Got(a.id(), i), "message {i} in order");
    }
}

/// Two nodes of configuration `C`, `a` connected to `b`, `a`'s global
/// service told that `b` is online.
fn pair<C: DirectConf>(make: fn(SyncSender<Event>, Captured) -> C) -> (Node<C>, Node<C>) {
    let (a, b) = (start(make), start(make));
    connect(&a.handle, &b.handle).expect("connect");
    a.wait(Event::Status(b.id(), PeerStatus::Online));
    (a, b)
}

#[test]
fn threaded_global_sends_go_straight_to_the_write_service_in_order() {
    let (a, b) = pair(|events, log| Threaded { events, log });
    assert_eq!(a.handle.direct_sends(), 0);
    run_reaches(&a, &b, 0, N);
    run_reaches(&a, &b, N, N);
    // Every message took the direct way: none went through the main loop.
    assert_eq!(a.handle.direct_sends(), u64::from(2 * N));
    let dropped = a.log.wait_for(Duration::ZERO, |l| l.contains("dropped"));
    assert_eq!(dropped, None);
    a.handle.stop().expect("stop a");
    b.handle.stop().expect("stop b");
}

#[test]
fn threaded_global_send_to_a_peer_gone_offline_is_dropped_and_logged() {
    let (a, b) = pair(|events, log| Threaded { events, log });
    run_reaches(&a, &b, 0, 1);
    assert_eq!(a.handle.direct_sends(), 1);
    let b_id = b.id();
    b.handle.stop().expect("stop b");
    a.wait(Event::Status(b_id, PeerStatus::Offline));

    // Not into the closed connection's channel: through the main loop,
    // which drops it and says so.
    let ask = SendRun {
        to: b_id,
        from: 1,
        n: 1,
    };
    a.handle.query(ask, 1, TIMEOUT).expect("query answered");
    let dropped = a.log.wait_for(TIMEOUT, |l| {
        l.contains("message for a peer that is not connected dropped")
            && l.contains(&b_id.to_string())
    });
    assert!(dropped.is_some(), "drop not logged: {:?}", a.log.lines());
    assert_eq!(a.handle.direct_sends(), 1);
    a.handle.stop().expect("stop a");
}

#[test]
fn restartable_global_sends_go_through_the_main_loop() {
    let (a, b) = pair(|events, log| Restart { events, log });
    run_reaches(&a, &b, 0, N);
    assert_eq!(a.handle.direct_sends(), 0);
    a.handle.stop().expect("stop a");
    b.handle.stop().expect("stop b");
}
