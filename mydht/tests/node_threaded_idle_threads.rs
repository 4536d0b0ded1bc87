//! A `threaded!` node over TCP holds no thread for an idle connection: its
//! read service has one while it reads and gives it back to the reuse pool
//! once idle (`ThreadIdle`, after `THREAD_IDLE_AFTER`); the write
//! service's thread starts only when a write would block, and goes back to
//! the pool once it has written everything. A burst to a peer that does
//! not read fills the socket, so that thread starts in the middle of it;
//! every message still arrives, once, in the order it was sent. One test
//! in this binary: it counts the process's threads.

use std::marker::PhantomData;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use mydht::service::PeersView;
use mydht::{GlobalCommand, LocalCommand, MyDHTConf, PeerId, PeerInfo, Reply};
use mydht_base::service::spawn::{idle_service_threads, ThreadIdle};
use mydht_base::{Peer, Result, Service, SpawnerYield};
use mydht_basetest::harness::nodes::{connect, stop_all, TIMEOUT};
use mydht_basetest::loopback_conf_items;
use serde::{Deserialize, Serialize};

/// Peers connected to the hub.
const PEERS: usize = 4;
/// The hub's services with a thread of their own (the global service
/// kept on its own thread, `global: ThreadPark, MpscChannel;`).
const HUB_SERVICES: usize = 3;
/// The burst's large messages: 32 of 256 KiB, far more than the socket
/// buffers hold (4 MiB send, 128 KiB receive while the peer reads
/// nothing).
const BIG: usize = 32;
const BIG_BYTES: usize = 256 << 10;
/// Small messages after each part of the burst.
const SMALL: usize = 500;

/// What the application asks the hub.
#[derive(Debug, Clone)]
enum Ask {
    /// Send `big` large and then `small` small messages to this peer.
    Burst(PeerId, usize, usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Sent(u64);

/// A message with its sequence number.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Blob(u64, String);

/// Numbers the messages it sends.
struct Global<C> {
    next: u64,
    _conf: PhantomData<fn() -> C>,
}

impl<C> Default for Global<C> {
    fn default() -> Self {
        Global {
            next: 0,
            _conf: PhantomData,
        }
    }
}

impl<C: MyDHTConf<GlobalCmd = Ask, ApiReply = Sent, ProtoMsg = Blob>> Service for Global<C> {
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        let GlobalCommand::Api(qid, Ask::Burst(to, big, small)) = cmd else {
            return Ok(Reply::None);
        };
        let mut out = Vec::with_capacity(big + small + 1);
        for i in 0..big + small {
            let body = if i < big {
                "x".repeat(BIG_BYTES)
            } else {
                String::new()
            };
            out.push(Reply::Send(to, Blob(self.next, body)));
            self.next += 1;
        }
        out.push(Reply::Api(qid, Sent(self.next)));
        Ok(Reply::Many(out))
    }
}

/// Opened once: the first message may be read.
type Gate = Arc<Mutex<Receiver<()>>>;

/// A peer's per-connection service: notes each message's number; the
/// first one waits for the gate (the peer's only thread waits: it reads
/// nothing meanwhile). The hub's notes nothing.
struct Local<C> {
    seen: Option<(Sender<u64>, Gate)>,
    _conf: PhantomData<fn() -> C>,
}

impl<C: MyDHTConf<ProtoMsg = Blob>> Service for Local<C> {
    type CommandIn = LocalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        let (Blob(n, _), Some((seen, gate))) = (cmd.msg, &self.seen) else {
            return Ok(Reply::None);
        };
        if n == 0 {
            let opened = gate.lock().unwrap().recv_timeout(TIMEOUT);
            assert!(opened.is_ok(), "the gate never opened");
        }
        // The test may have given up: nobody to tell.
        let _ = seen.send(n);
        Ok(Reply::None)
    }
}

/// The node under test.
struct Hub;

impl MyDHTConf for Hub {
    loopback_conf_items!();
    type ProtoMsg = Blob;
    type GlobalCmd = Ask;
    type ApiReply = Sent;
    type GlobalService = Global<Self>;
    type LocalService = Local<Self>;
    // The global service on a thread of its own, counted below (under
    // `threaded!` it holds one only while commands queue).
    mydht::threaded!(global: ThreadPark, MpscChannel;);

    fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Self::GlobalService> {
        Ok(Global::default())
    }
    fn init_local(
        &mut self,
        _: &PeerInfo,
        _: &PeerInfo,
        _: &PeersView,
    ) -> Result<Self::LocalService> {
        Ok(Local {
            seen: None,
            _conf: PhantomData,
        })
    }
}

/// A peer: its whole node on its main loop's thread, so it adds no thread
/// per connection to the count.
struct Spoke {
    seen: Sender<u64>,
    gate: Gate,
}

impl MyDHTConf for Spoke {
    loopback_conf_items!();
    type ProtoMsg = Blob;
    type GlobalCmd = Ask;
    type ApiReply = Sent;
    type GlobalService = Global<Self>;
    type LocalService = Local<Self>;
    mydht::restartable!();

    fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Self::GlobalService> {
        Ok(Global::default())
    }
    fn init_local(
        &mut self,
        _: &PeerInfo,
        _: &PeerInfo,
        _: &PeersView,
    ) -> Result<Self::LocalService> {
        Ok(Local {
            seen: Some((self.seen.clone(), self.gate.clone())),
            _conf: PhantomData,
        })
    }
}

/// Threads running now, idle pool threads left out.
fn live_threads() -> usize {
    loop {
        let idle = idle_service_threads();
        let n = std::fs::read_dir("/proc/self/task")
            .expect("procfs")
            .count();
        // Both counts from one moment: no thread went idle or busy between.
        if idle == idle_service_threads() {
            return n - idle;
        }
    }
}

/// Whether the live thread count gets to `n` within the harness timeout.
fn live_settles(n: usize) -> bool {
    settles(|| live_threads() == n)
}

/// Whether `done` holds within the harness timeout (polled, no sleep).
fn settles(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        thread::yield_now();
    }
    true
}

#[test]
fn one_thread_per_idle_connection_and_bursts_in_order() {
    let base = live_threads();
    let hub = mydht::start_loop(Hub).expect("hub");
    let mut peers = Vec::new();
    let mut gates = Vec::new();
    let mut seens = Vec::new();
    for _ in 0..PEERS {
        let (seen, seen_rx) = channel();
        let (gate_tx, gate) = channel();
        let peer = mydht::start_loop(Spoke {
            seen,
            gate: Arc::new(Mutex::new(gate)),
        })
        .expect("peer");
        peers.push(peer);
        gates.push(gate_tx);
        seens.push(seen_rx);
    }
    // Every node's main loop; the hub's global service, peer store and
    // peer management (started by their first command: a query, then the
    // first connection), each on a thread of its own.
    let started = base + 1 + PEERS + HUB_SERVICES;
    let to = *peers[0].local_peer().get_id();
    let none = hub.query(Ask::Burst(to, 0, 0), 1, TIMEOUT).expect("query");
    assert_eq!(none, vec![Sent(0)]);

    // Each connection's read service reads on a thread, then gives it
    // back once idle: the idle connections hold none.
    for peer in &peers {
        connect(peer, &hub).expect("connect");
    }
    assert!(
        settles(|| ThreadIdle::idle_services() == (PEERS, PEERS)),
        "read services suspended: {:?}",
        ThreadIdle::idle_services()
    );
    assert!(
        live_settles(started),
        "{PEERS} idle connections: {} threads, {started} expected",
        live_threads()
    );

    // A burst to peer 0, which reads nothing until its gate opens: the
    // socket fills and the write service's thread takes over.
    let first = hub
        .query(Ask::Burst(to, BIG, SMALL), 1, TIMEOUT)
        .expect("burst");
    assert_eq!(first, vec![Sent((BIG + SMALL) as u64)]);
    assert!(
        live_settles(started + 1),
        "a blocked write holds one thread: {}",
        live_threads()
    );
    // Sent while that thread writes: queued behind it.
    let second = hub
        .query(Ask::Burst(to, 0, SMALL), 1, TIMEOUT)
        .expect("more");
    let total = (BIG + 2 * SMALL) as u64;
    assert_eq!(second, vec![Sent(total)]);
    gates[0].send(()).expect("gate");
    for n in 0..total {
        let got = seens[0].recv_timeout(TIMEOUT).expect("message delivered");
        assert_eq!(got, n, "messages out of order");
    }
    assert!(seens[0].try_recv().is_err(), "a message twice");

    // All written: the write thread went back to the pool.
    assert!(
        live_settles(started),
        "thread given back: {} threads",
        live_threads()
    );
    stop_all(peers).expect("stop peers");
    hub.stop().expect("stop hub");
}
