//! A large attachment through 8 relays: it arrives intact (SHA-256 of
//! what Bob's inner service got against the sender's), and the process's
//! peak heap does not grow with the payload (64 MiB against 256 MiB,
//! measured and printed): no hop holds more than its buffers.
//!
//! `cargo test -p mydht-tunnel --test big -- --nocapture` prints the
//! figures (about 7 s in a debug build).

use mydht_base::service::spawn::idle_service_threads;
use mydht_basetest::alloc_count;

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

/// The tests of this file measure the whole process (heap, threads): one
/// at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::time::{Duration, Instant};

use mydht::prelude::*;
use mydht_basetest::harness::nodes::{connect, stop_all};
use mydht_tunnel::{
    Attachment, Destination, InnerCommand, InnerReply, MyDHTTunnelConf, ReplyRoute, Threaded,
    TunnelNode, TunnelSend, TunnelSendError,
};
use openssl::sha::Sha256;
use serde::{Deserialize, Serialize};

/// How long a transfer may take.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);

/// Bytes `o` = `(o % 251) ^ seed`, made from one block, never held whole.
struct Pattern {
    block: Vec<u8>,
    offset: u64,
    len: u64,
}

const BLOCK: usize = 64 << 10;

impl Pattern {
    fn new(len: u64, seed: u8) -> Self {
        let block = (0..BLOCK + 251).map(|i| (i % 251) as u8 ^ seed).collect();
        Pattern {
            block,
            offset: 0,
            len,
        }
    }

    fn digest(len: u64, seed: u8) -> [u8; 32] {
        let mut p = Pattern::new(len, seed);
        let mut sha = Sha256::new();
        let mut buf = vec![0u8; BLOCK];
        loop {
            let n = p.read(&mut buf).expect("pattern");
            if n == 0 {
                return sha.finish();
            }
            sha.update(&buf[..n]);
        }
    }
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len - self.offset;
        let n = (buf.len() as u64).min(left).min(BLOCK as u64) as usize;
        let start = (self.offset % 251) as usize;
        buf[..n].copy_from_slice(&self.block[start..start + n]);
        self.offset += n as u64;
        Ok(n)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Msg {
    /// A file follows.
    File,
    /// What the exit got: its length and SHA-256.
    Got(u64, [u8; 32]),
}

#[derive(Debug)]
struct Send {
    to: PeerId,
    hops: usize,
    len: u64,
    seed: u8,
    /// Told once this many bytes were read from the source.
    signal: Option<(u64, SyncSender<()>)>,
}

/// A source that tells when `at` bytes were read from it.
struct Signal<R> {
    inner: R,
    read: u64,
    at: u64,
    tx: Option<SyncSender<()>>,
}

impl<R: Read> Read for Signal<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read >= self.at {
            if let Some(tx) = self.tx.take() {
                let _ = tx.send(());
            }
        }
        Ok(n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Got(u64, [u8; 32]);

#[derive(Default)]
struct Inner {
    sha: Option<Sha256>,
    len: u64,
}

impl Service for Inner {
    type CommandIn = InnerCommand<Files>;
    type CommandOut = InnerReply<Files>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: Self::CommandIn,
        _: &mut Y,
    ) -> Result<Self::CommandOut> {
        Ok(match cmd {
            InnerCommand::Api(s) => {
                let source: Box<dyn Read + std::marker::Send> = match s.signal {
                    Some((at, tx)) => Box::new(Signal {
                        inner: Pattern::new(s.len, s.seed),
                        read: 0,
                        at,
                        tx: Some(tx),
                    }),
                    None => Box::new(Pattern::new(s.len, s.seed)),
                };
                InnerReply::Send(TunnelSend {
                    to: Destination::Peer(s.to),
                    hops: s.hops,
                    reply: ReplyRoute::SameRoute,
                    msg: Msg::File,
                    attachment: Some(Attachment(source)),
                })
            }
            InnerCommand::Exit { attached: true, .. } => {
                self.sha = Some(Sha256::new());
                self.len = 0;
                InnerReply::None
            }
            InnerCommand::Attached(bytes) => {
                self.len += bytes.len() as u64;
                self.sha.get_or_insert_with(Sha256::new).update(&bytes);
                InnerReply::None
            }
            InnerCommand::AttachedEnd { .. } => {
                let sha = self.sha.take().unwrap_or_default();
                InnerReply::Reply(Msg::Got(self.len, sha.finish()))
            }
            InnerCommand::Replied(Msg::Got(len, digest)) => InnerReply::Api(Got(len, digest)),
            _ => InnerReply::None,
        })
    }
}

struct Files;

impl MyDHTTunnelConf for Files {
    type Msg = Msg;
    type Cmd = Send;
    type Answer = Got;
    type InnerService = Inner;

    fn init_inner(&mut self, _: &PeerInfo) -> Result<Inner> {
        Ok(Inner::default())
    }
    fn tunnel_timeout(&self) -> Duration {
        TRANSFER_TIMEOUT
    }
}

/// Sends `len` bytes through 8 relays; the peak heap above the start.
fn transfer(nodes: &[NodeHandle<TunnelNode<Files, Threaded>>], len: u64, seed: u8) -> usize {
    let start = alloc_count::reset_peak();
    let started = Instant::now();
    let send = Send {
        to: *nodes[9].local_peer().get_id(),
        hops: 8,
        len,
        seed,
        signal: None,
    };
    let got = nodes[0]
        .query(send.into(), 1, TRANSFER_TIMEOUT)
        .expect("query");
    let took = started.elapsed();
    match &got[..] {
        [Ok(Got(l, d))] => {
            assert_eq!(*l, len, "length");
            assert_eq!(*d, Pattern::digest(len, seed), "digest");
        }
        other => panic!("{other:?}"),
    }
    let peak = alloc_count::peak().saturating_sub(start);
    println!(
        "{} MiB through 8 relays in {took:.2?} ({:.1} MB/s): peak heap +{} KiB",
        len >> 20,
        len as f64 / took.as_secs_f64() / 1e6,
        peak >> 10
    );
    peak
}

#[test]
fn test_256_mib_through_8_hops_intact_with_bounded_memory() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let nodes: Vec<_> = (0..10)
        .map(|_| start_loop(TunnelNode::<Files, Threaded>::new(Files)).expect("start"))
        .collect();
    for node in &nodes[1..] {
        connect(&nodes[0], node).expect("connect");
    }
    // A small one first: every thread and buffer of the path exists.
    transfer(&nodes, 1 << 20, 1);
    let small = transfer(&nodes, 64 << 20, 2);
    let large = transfer(&nodes, 256 << 20, 3);
    stop_all(nodes).expect("stop");
    println!(
        "peak heap: 64 MiB +{} KiB, 256 MiB +{} KiB",
        small >> 10,
        large >> 10
    );
    // Four times the payload, not more memory: within 25% and 4 MiB.
    assert!(
        large <= small + small / 4 + (4 << 20),
        "64 MiB: +{small} B, 256 MiB: +{large} B"
    );
}

/// This process's threads (Linux) but the idle ones of the service
/// threads' reuse pool (bounded, each gone after `IDLE_TIMEOUT` unless
/// reused): the threads that hold something.
fn busy_threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let all: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("thread count");
    all.saturating_sub(idle_service_threads())
}

/// Waits, at most `TIMEOUT`, until `done` holds of `ask()`.
fn until<T: std::fmt::Debug>(what: &str, mut ask: impl FnMut() -> T, done: impl Fn(&T) -> bool) {
    let start = Instant::now();
    loop {
        let got = ask();
        if done(&got) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{what}: {got:?}");
    }
}

fn open_connections(node: &NodeHandle<TunnelNode<Files, Threaded>>) -> usize {
    node.stats(Duration::from_secs(10))
        .expect("stats")
        .open_connections
}

#[test]
fn a_relay_stopped_mid_transfer_gives_the_sender_a_typed_error_in_time_and_leaves_nothing_open() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Alice, 4 relays, Bob.
    let mut nodes: Vec<_> = (0..6)
        .map(|_| start_loop(TunnelNode::<Files, Threaded>::new(Files)).expect("start"))
        .collect();
    for node in &nodes[1..] {
        connect(&nodes[0], node).expect("connect");
    }
    until("star", || open_connections(&nodes[0]), |n| *n == 5);
    let before = busy_threads();
    let (tx, rx) = sync_channel(1);
    let send = Send {
        to: *nodes[5].local_peer().get_id(),
        hops: 4,
        len: 4 << 30,
        seed: 9,
        signal: Some((16 << 20, tx)),
    };
    let alice = nodes[0].clone();
    let sending = std::thread::spawn(move || alice.query(send.into(), 1, TRANSFER_TIMEOUT));
    rx.recv_timeout(TRANSFER_TIMEOUT).expect("16 MiB sent");
    // A relay goes down in the middle of the transfer.
    let stopped_at = Instant::now();
    nodes.remove(2).stop().expect("stop a relay");
    let got = sending.join().expect("sender thread").expect("query");
    let took = stopped_at.elapsed();
    match &got[..] {
        // The hop before the stopped one reports it unreachable; the
        // sender herself if it was her first hop; or, if that report is
        // later than four graces, the sender's node saw a relay of both
        // routes go offline.
        [Err(TunnelSendError::Tunnel(tunnel::TunnelError::HopFailed {
            failure: tunnel::HopFailure::Unreachable,
            ..
        }))]
        | [Err(TunnelSendError::Unreachable)]
        | [Err(TunnelSendError::ReplyRelayOffline { .. })] => {}
        other => panic!("expected an unreachable hop: {other:?}"),
    }
    assert!(took < Duration::from_secs(10), "typed error after {took:?}");
    // Nothing of the tunnel stays open: Alice keeps her pooled
    // connections to the 4 nodes left, each of them its one.
    until(
        "alice's connections",
        || open_connections(&nodes[0]),
        |n| *n == 4,
    );
    for node in &nodes[1..] {
        until(
            "a peer's connections",
            || open_connections(node),
            |n| *n == 1,
        );
    }
    // No more busy threads than before the transfer, though the cut
    // tunnel's connections came and went (the stopped node's are gone
    // too; the count before may miss connection threads still starting,
    // so this checks no growth, not the exact difference).
    until("busy threads", busy_threads, |n| *n <= before);
    println!(
        "stopped relay: typed error after {took:.2?} ({got:?}); busy threads {before} -> {}",
        busy_threads()
    );
    stop_all(nodes).expect("stop");
}
