//! A large attachment through 8 relays: it arrives intact (SHA-256 of
//! what Bob's inner service got against the sender's), and the process's
//! peak heap does not grow with the payload (64 MiB against 256 MiB,
//! measured and printed): no hop holds more than its buffers.
//!
//! `cargo test -p mydht-tunnel --test big -- --nocapture` prints the
//! figures (about 7 s in a debug build).

mod alloc_count {
    //! A global allocator that counts the bytes in use and their peak.
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub struct Counting;
    static IN_USE: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
            System.alloc(layout)
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
            System.dealloc(ptr, layout)
        }
    }

    /// Starts a new peak from the bytes in use now; returns them.
    pub fn reset_peak() -> usize {
        let now = IN_USE.load(Ordering::Relaxed);
        PEAK.store(now, Ordering::Relaxed);
        now
    }

    pub fn peak() -> usize {
        PEAK.load(Ordering::Relaxed)
    }
}

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

use std::io::{self, Read};
use std::time::{Duration, Instant};

use mydht::prelude::*;
use mydht_basetest::harness::nodes::{connect, stop_all};
use mydht_tunnel::{
    Attachment, Destination, InnerCommand, InnerReply, MyDHTTunnelConf, ReplyRoute, Threaded,
    TunnelNode, TunnelSend,
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
            InnerCommand::Api(s) => InnerReply::Send(TunnelSend {
                to: Destination::Peer(s.to),
                hops: s.hops,
                reply: ReplyRoute::SameRoute,
                msg: Msg::File,
                attachment: Some(Attachment(Box::new(Pattern::new(s.len, s.seed)))),
            }),
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
