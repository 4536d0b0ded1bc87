//! Two nodes on loopback, authenticated and encrypted (session shadow), in
//! one process, each against a raw TCP baseline measured in the same run (a
//! plain mio echo server with length-prefixed frames):
//!
//! - `req_resp/1` and `req_resp/64`: 1 KiB request, 1 KiB reply, with one
//!   and with 64 requests in flight (messages/s; the p50/p99 latencies are
//!   printed after the group);
//! - `bulk`: 16 MiB one way in 64 KiB messages, acknowledged at the end;
//!   the session shadow in its default suite (ChaCha20-Poly1305) and in
//!   AES-256-GCM (`*_aes`); the raw baseline is a plain socket at its best
//!   (its own blocking server; writes of 1 MiB, sixteen frames, where the
//!   node writes four 64 KiB sealed chunks at once; reads into 1 MiB);
//! - the blocking style (`*_threaded_blocking`, `*_may_blocking`) in every
//!   group: read and write services on threads of their own, and as may
//!   coroutines over `MayTcpTransport`;
//! - `connect`: connect + authenticate + first reply between two running
//!   nodes (`node_*`: disconnected again, untimed, after each), as the raw
//!   baseline connects to its running server; and on a fresh node pair
//!   (`fresh_*`: the nodes' threads' first connection, with their first
//!   allocations and openssl's per-thread setup).
//!
//! Every node bench is timed alternately with its raw baseline inside each
//! sample (the order alternating from one sample or iteration to the next);
//! at the end one table gives this run's medians, their ratios and
//! the medians of the per-sample ratios.
//!
//! `cargo bench -p mydht --bench node -- --warm-up-time 1 --measurement-time 3`

use std::collections::VecDeque;
use std::future::Future;
use std::io::{Read, Write};
use std::marker::PhantomData;
use std::net::{SocketAddr, TcpStream};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use mydht::service::PeersView;
use mydht::{
    Bincode, GlobalCommand, LocalCommand, MyDHTConf, NoShadow, NodeHandle, PeerCount, PeerId,
    PeerInfo, QueryId, Reply, SessionShadow,
};
use mydht::{ChallengeCache, Handshake, Identity, LocalPeer};
use mydht_base::{Peer, Result, Service, SpawnerYield};
use mydht_tcp::{BlockingTcpTransport, MayTcpTransport, TcpTransport};
use serde::{Deserialize, Serialize};

const MSG: usize = 1024;
const CHUNK: usize = 64 * 1024;
const BULK: usize = 16 << 20;
const TIMEOUT: Duration = Duration::from_secs(30);
/// The I/O timeout of the blocking transports: how soon a blocked service
/// notices a stop.
const IO_TIMEOUT: Duration = Duration::from_millis(50);

// ---- the echo application -------------------------------------------------

#[derive(Debug)]
enum EchoCmd {
    Ask(PeerId, Vec<u8>),
    Bulk(PeerId, usize),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum EchoMsg {
    Ping(QueryId, Bytes),
    Pong(QueryId, Bytes),
    Chunk(QueryId, Shared, bool),
    Ack(QueryId),
}

/// A payload serialized as one byte string (serde's default for `Vec<u8>`
/// is a sequence, encoded and decoded byte by byte).
#[derive(Debug, Clone)]
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> std::result::Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(
                self,
                v: Vec<u8>,
            ) -> std::result::Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// A bulk payload: the sender encodes one buffer for every chunk message,
/// as the raw TCP baseline writes one frame (filling 16 MiB of fresh
/// buffers would measure the allocator and the cache, not the node); the
/// receiver still decodes each message into a buffer of its own.
#[derive(Debug, Clone)]
struct Shared(Arc<Vec<u8>>);

impl Serialize for Shared {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Shared {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Bytes::deserialize(d).map(|b| Shared(Arc::new(b.0)))
    }
}

trait EchoConf: MyDHTConf<GlobalCmd = EchoCmd, ProtoMsg = EchoMsg, ApiReply = usize> {}
impl<C: MyDHTConf<GlobalCmd = EchoCmd, ProtoMsg = EchoMsg, ApiReply = usize>> EchoConf for C {}

struct EchoGlobal<C>(PhantomData<fn() -> C>);
struct EchoLocal<C>(PhantomData<fn() -> C>);

impl<C: EchoConf> Service for EchoGlobal<C> {
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(match cmd {
            GlobalCommand::Api(qid, EchoCmd::Ask(to, payload)) => {
                Reply::Send(to, EchoMsg::Ping(qid, Bytes(payload)))
            }
            GlobalCommand::Api(qid, EchoCmd::Bulk(to, n)) => {
                let payload = Arc::new(vec![7; CHUNK]);
                Reply::Many(
                    (0..n)
                        .map(|i| {
                            let chunk = Shared(Arc::clone(&payload));
                            Reply::Send(to, EchoMsg::Chunk(qid, chunk, i + 1 == n))
                        })
                        .collect(),
                )
            }
            _ => Reply::None,
        })
    }
}

impl<C: EchoConf> Service for EchoLocal<C> {
    type CommandIn = LocalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        let from = *cmd.from.get_id();
        Ok(match cmd.msg {
            EchoMsg::Ping(qid, p) => Reply::Send(from, EchoMsg::Pong(qid, p)),
            EchoMsg::Pong(qid, p) => Reply::Api(qid, p.0.len()),
            EchoMsg::Chunk(qid, _, true) => Reply::Send(from, EchoMsg::Ack(qid)),
            EchoMsg::Chunk(..) => Reply::None,
            EchoMsg::Ack(qid) => Reply::Api(qid, 0),
        })
    }
}

macro_rules! echo_conf {
    ($name:ident, $profile:ident) => {
        echo_conf!($name, $profile, SessionShadow, false);
    };
    ($name:ident, $profile:ident, $shadow:ident, $direct:expr) => {
        echo_conf!($name, $profile, $shadow, $direct, ChaCha20Poly1305);
    };
    ($name:ident, $profile:ident, $shadow:ident, $direct:expr, $suite:ident) => {
        echo_conf!(
            $name,
            $profile,
            $shadow,
            $direct,
            $suite,
            TcpTransport,
            TcpTransport::bind(loopback())
        );
    };
    ($name:ident, $profile:ident, $shadow:ident, $direct:expr, $suite:ident,
        $transport:ty, $bind:expr) => {
        struct $name;
        impl MyDHTConf for $name {
            type Transport = $transport;
            type MsgEnc = Bincode;
            type Shadow = $shadow;
            type ProtoMsg = EchoMsg;
            type GlobalCmd = EchoCmd;
            type ApiReply = usize;
            type GlobalService = EchoGlobal<Self>;
            type LocalService = EchoLocal<Self>;
            mydht::$profile!();
            fn init_transport(&mut self) -> Result<$transport> {
                $bind
            }
            fn init_msg_enc(&mut self) -> Bincode {
                Bincode
            }
            fn constants(&self) -> mydht::NodeConstants {
                mydht::NodeConstants {
                    direct_replies: $direct,
                    cipher_suite: mydht::CipherSuite::$suite,
                    ..Default::default()
                }
            }
            fn init_shadow(&mut self) -> $shadow {
                $shadow::default()
            }
            fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Self::GlobalService> {
                Ok(EchoGlobal(PhantomData))
            }
            fn init_local(
                &mut self,
                _: &PeerInfo,
                _: &PeerInfo,
                _: &PeersView,
            ) -> Result<Self::LocalService> {
                Ok(EchoLocal(PhantomData))
            }
        }
    };
}

echo_conf!(Threaded, threaded);
echo_conf!(Restart, restartable);
// Not a goal: shows what the session cipher costs in bulk.
echo_conf!(RestartClear, restartable, NoShadow, false);
// Replies straight to the write service instead of through the main loop.
echo_conf!(ThreadedDirect, threaded, SessionShadow, true);
// The session shadow in AES-256-GCM (the default is ChaCha20-Poly1305).
echo_conf!(ThreadedAes, threaded, SessionShadow, false, Aes256Gcm);
echo_conf!(RestartAes, restartable, SessionShadow, false, Aes256Gcm);
// The blocking style: read and write services on threads of their own,
// and as may coroutines (`may_blocking!`, `MayTcpTransport`).
echo_conf!(
    Blocking,
    threaded_blocking,
    SessionShadow,
    false,
    ChaCha20Poly1305,
    BlockingTcpTransport,
    Ok(BlockingTcpTransport::bind(loopback())?.with_io_timeout(Some(IO_TIMEOUT)))
);
echo_conf!(
    May,
    may_blocking,
    SessionShadow,
    false,
    ChaCha20Poly1305,
    MayTcpTransport,
    Ok(MayTcpTransport::bind(loopback())?.with_io_timeout(Some(IO_TIMEOUT)))
);

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("literal")
}

struct Pair<C: MyDHTConf> {
    n1: NodeHandle<C>,
    n2: NodeHandle<C>,
    to: PeerId,
}

impl<C: MyDHTConf> Pair<C> {
    fn stop(self) {
        self.n1.stop().expect("stop node 1");
        self.n2.stop().expect("stop node 2");
    }
}

fn bulk_once<C: EchoConf>(p: &Pair<C>) {
    let r = p.n1.query(EchoCmd::Bulk(p.to, BULK / CHUNK), 1, TIMEOUT);
    assert_eq!(r.expect("ack"), vec![0]);
}

fn pair<C: EchoConf>(mk: fn() -> C) -> Pair<C> {
    let n1 = mydht::start_loop(mk()).expect("node 1");
    let n2 = mydht::start_loop(mk()).expect("node 2");
    let addr = n2.local_peer().get_address().parse().ok().expect("address");
    let to = *n1.connect(addr, TIMEOUT).expect("connect").get_id();
    Pair { n1, n2, to }
}

// ---- a minimal executor for the node's futures ------------------------------

struct Unpark(Thread);
impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

/// `n` request/responses through the node with `window` in flight; the
/// latency of each.
fn node_requests<C: EchoConf>(p: &Pair<C>, n: usize, window: usize) -> Vec<Duration> {
    let mut lat = Vec::with_capacity(n);
    let mut flight = VecDeque::with_capacity(window);
    let mut sent = 0;
    while lat.len() < n {
        while sent < n && flight.len() < window {
            let f =
                p.n1.query_future(EchoCmd::Ask(p.to, vec![1; MSG]), 1, TIMEOUT)
                    .expect("query");
            flight.push_back((Instant::now(), f));
            sent += 1;
        }
        let (t, f) = flight.pop_front().expect("in flight");
        let r = block_on(f).expect("reply");
        assert_eq!(r, vec![MSG]);
        lat.push(t.elapsed());
    }
    lat
}

// ---- the raw TCP baseline ---------------------------------------------------

/// A server connection: its socket, bytes read, bytes to write.
type EchoConn = (mio::net::TcpStream, Vec<u8>, Vec<u8>);

/// A mio echo server of length-prefixed frames (a `u32` length, then the
/// bytes); a one-byte frame ends a bulk transfer and is echoed.
fn echo_server() -> SocketAddr {
    use mio::net::TcpListener;
    use mio::{Events, Interest, Poll as MioPoll, Token};
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().expect("literal")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        let mut poll = MioPoll::new().expect("poll");
        poll.registry()
            .register(&mut listener, Token(0), Interest::READABLE)
            .expect("register");
        let mut conns: Vec<Option<EchoConn>> = Vec::new();
        let mut events = Events::with_capacity(256);
        loop {
            poll.poll(&mut events, None).expect("poll");
            for ev in events.iter() {
                if ev.token() == Token(0) {
                    while let Ok((mut s, _)) = listener.accept() {
                        s.set_nodelay(true).expect("nodelay");
                        let t = Token(conns.len() + 1);
                        poll.registry()
                            .register(&mut s, t, Interest::READABLE | Interest::WRITABLE)
                            .expect("register");
                        conns.push(Some((s, Vec::new(), Vec::new())));
                    }
                    continue;
                }
                let i = ev.token().0 - 1;
                let Some((s, inb, out)) = conns[i].as_mut() else {
                    continue;
                };
                let mut buf = [0u8; 64 * 1024];
                let mut closed = false;
                loop {
                    match s.read(&mut buf) {
                        Ok(0) => {
                            closed = true;
                            break;
                        }
                        Ok(k) => inb.extend_from_slice(&buf[..k]),
                        Err(_) => break,
                    }
                }
                // Echo every whole frame, except bulk chunks (ack the last).
                let mut at = 0;
                while inb.len() >= at + 4 {
                    let len = u32::from_be_bytes(inb[at..at + 4].try_into().expect("4")) as usize;
                    if inb.len() < at + 4 + len {
                        break;
                    }
                    if len != CHUNK {
                        out.extend_from_slice(&inb[at..at + 4 + len]);
                    }
                    at += 4 + len;
                }
                inb.drain(..at);
                while !out.is_empty() {
                    match s.write(out) {
                        Ok(k) => {
                            out.drain(..k);
                        }
                        Err(_) => break,
                    }
                }
                if closed {
                    conns[i] = None;
                }
            }
        }
    });
    addr
}

fn frame(len: usize) -> Vec<u8> {
    let mut f = (len as u32).to_be_bytes().to_vec();
    f.resize(4 + len, 1);
    f
}

fn read_frame(s: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("len");
    buf.resize(u32::from_be_bytes(len) as usize, 0);
    s.read_exact(buf).expect("body");
}

fn raw_requests(s: &mut TcpStream, n: usize, window: usize) -> Vec<Duration> {
    let req = frame(MSG);
    let mut buf = Vec::new();
    let mut lat = Vec::with_capacity(n);
    let mut flight = VecDeque::with_capacity(window);
    let mut sent = 0;
    while lat.len() < n {
        while sent < n && flight.len() < window {
            s.write_all(&req).expect("write");
            flight.push_back(Instant::now());
            sent += 1;
        }
        read_frame(s, &mut buf);
        lat.push(flight.pop_front().expect("in flight").elapsed());
    }
    lat
}

fn connect_raw(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}

// ---- the raw bulk baseline: a plain socket at its best ----------------------

/// Frames per write of the raw bulk sender: 1 MiB and a bit (sixteen
/// 64 KiB frames), where the node's chunk writer writes four sealed 64 KiB
/// chunks (256 KiB) per socket write.
const RAW_BULK_FRAMES: usize = 16;
/// The raw bulk receiver's read buffer. Its socket keeps the kernel's
/// receive buffer autotuning (up to `tcp_rmem`'s maximum, 32 MiB here).
/// Variants tried against this one, paired in the same samples: a mio
/// (epoll) receiver with 1 MiB reads and 1 MiB or 256 KiB writes (0.96–1.14
/// of its time), a busy-polling receiver (0.67–0.95: faster, by spinning
/// a core on `WouldBlock`, which the node does not do), 256 KiB writes to
/// this server (0.98–1.25), the
/// former 64 KiB-write baseline (1.16–1.35); fixed 4 MiB
/// `SO_RCVBUF`/`SO_SNDBUF` (`rmem_max`, which turns autotuning off) was not
/// faster in a standalone test.
const RAW_BULK_READ: usize = 1 << 20;

/// A blocking server, a thread per connection, that reads frames into a
/// large buffer and drops them without a copy, then answers a one-byte
/// frame (the end of a transfer) with a one-byte frame.
fn bulk_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for s in listener.incoming() {
            let mut s = s.expect("accept");
            s.set_nodelay(true).expect("nodelay");
            thread::spawn(move || {
                let mut buf = vec![0u8; RAW_BULK_READ];
                // The length prefix read so far, and the body bytes left.
                let (mut len, mut have, mut left) = ([0u8; 4], 0, 0usize);
                loop {
                    let k = match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(k) => k,
                    };
                    let mut at = 0;
                    while at < k {
                        if left == 0 {
                            let take = (4 - have).min(k - at);
                            len[have..have + take].copy_from_slice(&buf[at..at + take]);
                            (have, at) = (have + take, at + take);
                            if have == 4 {
                                (have, left) = (0, u32::from_be_bytes(len) as usize);
                            }
                            continue;
                        }
                        let take = left.min(k - at);
                        (left, at) = (left - take, at + take);
                        if left == 0 && u32::from_be_bytes(len) == 1 {
                            s.write_all(&frame(1)).expect("ack");
                        }
                    }
                }
            });
        }
    });
    addr
}

/// `RAW_BULK_FRAMES` frames of `CHUNK` bytes, written as one buffer.
fn raw_bulk_block() -> Vec<u8> {
    frame(CHUNK).repeat(RAW_BULK_FRAMES)
}

/// 16 MiB in `CHUNK` frames, written `RAW_BULK_FRAMES` at a time, then the
/// end frame; waits for the acknowledgement.
fn raw_bulk(s: &mut TcpStream, block: &[u8]) {
    for _ in 0..BULK / CHUNK / RAW_BULK_FRAMES {
        s.write_all(block).expect("write");
    }
    s.write_all(&frame(1)).expect("end");
    let mut buf = Vec::new();
    read_frame(s, &mut buf);
}

/// The baseline this bench used before: one 64 KiB frame per write, to the
/// mio echo server (which copies what it reads into a frame buffer).
fn raw_bulk_64k(s: &mut TcpStream) {
    let chunk = frame(CHUNK);
    for _ in 0..BULK / CHUNK {
        s.write_all(&chunk).expect("write");
    }
    s.write_all(&frame(1)).expect("end");
    let mut buf = Vec::new();
    read_frame(s, &mut buf);
}

// ---- the benchmarks ---------------------------------------------------------

/// Samples per benchmark.
const SAMPLES: usize = 10;

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn percentiles(name: &str, mut lat: Vec<Duration>) {
    lat.sort();
    let at = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize];
    println!(
        "latency {name}: p50 {:.1} µs, p99 {:.1} µs ({} samples)",
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        lat.len()
    );
}

/// `window` in flight through `p`, each sample followed by as many raw
/// requests on `raw`.
fn req_resp_node<C: EchoConf>(
    g: &mut BenchmarkGroup<WallTime>,
    run: &ratio::Run,
    (group, name): (&str, &str),
    p: &Pair<C>,
    raw: &mut TcpStream,
    window: usize,
) {
    let ids = (format!("{group}/{name}"), format!("{group}/raw_tcp"));
    g.bench_function(name, |b| {
        run.paired_custom(
            b,
            (&ids.0, &ids.1),
            |n| timed(|| drop(node_requests(p, n as usize, window))),
            |n| timed(|| drop(raw_requests(raw, n as usize, window))),
        )
    });
    run.compare(
        &format!("1 KiB req/resp, {window} in flight, `{name}` vs raw TCP"),
        &ids.0,
        &ids.1,
    );
}

fn req_resp(c: &mut Criterion, run: &ratio::Run) {
    let server = echo_server();
    let mut raw = connect_raw(server);
    let th = pair(|| Threaded);
    let tl = pair(|| ThreadedDirect);
    let rs = pair(|| Restart);
    let bl = pair(|| Blocking);
    let my = pair(|| May);
    for window in [1usize, 64] {
        let group = format!("req_resp/{window}");
        let id = |name: &str| format!("{group}/{name}");
        let mut g = c.benchmark_group(&group);
        g.sample_size(run.samples());
        g.throughput(Throughput::Elements(1));
        g.bench_function("raw_tcp", |b| {
            run.custom(b, &id("raw_tcp"), |iters| {
                timed(|| drop(raw_requests(&mut raw, iters as usize, window)))
            })
        });
        let names = ("node_threaded", "node_threaded_direct", "node_restartable");
        req_resp_node(&mut g, run, (&group, names.0), &th, &mut raw, window);
        req_resp_node(&mut g, run, (&group, names.1), &tl, &mut raw, window);
        req_resp_node(&mut g, run, (&group, names.2), &rs, &mut raw, window);
        let blocking = ("node_threaded_blocking", "node_may_blocking");
        req_resp_node(&mut g, run, (&group, blocking.0), &bl, &mut raw, window);
        req_resp_node(&mut g, run, (&group, blocking.1), &my, &mut raw, window);
        g.finish();
        // Latency percentiles of the benches the command line's filter kept.
        let ran = |name: &str| run.median(&id(name)).is_some();
        if ran("raw_tcp") {
            let lat = raw_requests(&mut raw, 5000, window);
            percentiles(&format!("raw_tcp/{window}"), lat);
        }
        if ran(names.0) {
            let lat = node_requests(&th, 5000, window);
            percentiles(&format!("{}/{window}", names.0), lat);
        }
        if ran(names.1) {
            let lat = node_requests(&tl, 5000, window);
            percentiles(&format!("{}/{window}", names.1), lat);
        }
        if ran(names.2) {
            let lat = node_requests(&rs, 5000, window);
            percentiles(&format!("{}/{window}", names.2), lat);
        }
        if ran(blocking.0) {
            let lat = node_requests(&bl, 5000, window);
            percentiles(&format!("{}/{window}", blocking.0), lat);
        }
        if ran(blocking.1) {
            let lat = node_requests(&my, 5000, window);
            percentiles(&format!("{}/{window}", blocking.1), lat);
        }
    }
    th.stop();
    tl.stop();
    rs.stop();
    bl.stop();
    my.stop();
}

/// One bulk transfer through `p`, each followed by a raw one.
fn bulk_node<C: EchoConf>(
    g: &mut BenchmarkGroup<WallTime>,
    run: &ratio::Run,
    (name, figure): (&str, &str),
    p: &Pair<C>,
    raw: &mut TcpStream,
    block: &[u8],
) {
    let ids = (format!("bulk/{name}"), "bulk/raw_tcp".to_string());
    g.bench_function(name, |b| {
        run.paired(
            b,
            (&ids.0, &ids.1),
            || bulk_once(p),
            || raw_bulk(raw, block),
        )
    });
    run.compare(&format!("bulk 16 MiB, {figure} vs raw TCP"), &ids.0, &ids.1);
}

fn bulk(c: &mut Criterion, run: &ratio::Run) {
    let mut raw = connect_raw(bulk_server());
    let block = raw_bulk_block();
    let mut raw_64k = connect_raw(echo_server());
    let th = pair(|| Threaded);
    let rs = pair(|| Restart);
    let th_aes = pair(|| ThreadedAes);
    let rs_aes = pair(|| RestartAes);
    let clear = pair(|| RestartClear);
    let bl = pair(|| Blocking);
    let my = pair(|| May);
    let mut g = c.benchmark_group("bulk");
    g.sample_size(run.samples());
    g.throughput(Throughput::Bytes(BULK as u64));
    g.bench_function("raw_tcp", |b| {
        run.iter(b, "bulk/raw_tcp", || raw_bulk(&mut raw, &block))
    });
    g.bench_function("raw_tcp_64k_writes", |b| {
        run.iter(b, "bulk/raw_tcp_64k_writes", || raw_bulk_64k(&mut raw_64k))
    });
    run.compare(
        "bulk 16 MiB, the former baseline (64 KiB writes, mio echo server) vs raw TCP",
        "bulk/raw_tcp_64k_writes",
        "bulk/raw_tcp",
    );
    let r = (&mut raw, &block[..]);
    bulk_node(&mut g, run, ("node_threaded", "`threaded!`"), &th, r.0, r.1);
    bulk_node(
        &mut g,
        run,
        ("node_restartable", "`restartable!`"),
        &rs,
        r.0,
        r.1,
    );
    let names = ("node_threaded_aes", "`threaded!` AES-256-GCM");
    bulk_node(&mut g, run, names, &th_aes, r.0, r.1);
    let names = ("node_restartable_aes", "`restartable!` AES-256-GCM");
    bulk_node(&mut g, run, names, &rs_aes, r.0, r.1);
    let names = ("node_restartable_noshadow", "`restartable!` without shadow");
    bulk_node(&mut g, run, names, &clear, r.0, r.1);
    let names = ("node_threaded_blocking", "`threaded_blocking!`");
    bulk_node(&mut g, run, names, &bl, r.0, r.1);
    let names = ("node_may_blocking", "`may_blocking!`");
    bulk_node(&mut g, run, names, &my, r.0, r.1);
    g.finish();
    th.stop();
    rs.stop();
    th_aes.stop();
    rs_aes.stop();
    clear.stop();
    bl.stop();
    my.stop();
}

/// Connect, authenticate and a first reply on `iters` fresh node pairs;
/// starting and stopping the nodes is not timed.
fn connect_node<C: EchoConf>(iters: u64, mk: fn() -> C) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let n1 = mydht::start_loop(mk()).expect("node 1");
        let n2 = mydht::start_loop(mk()).expect("node 2");
        let addr = n2.local_peer().get_address().parse().ok().expect("address");
        let t = Instant::now();
        let to = *n1.connect(addr, TIMEOUT).expect("connect").get_id();
        let r = n1.query(EchoCmd::Ask(to, vec![1; MSG]), 1, TIMEOUT);
        total += t.elapsed();
        assert_eq!(r.expect("reply"), vec![MSG]);
        n1.stop().expect("stop");
        n2.stop().expect("stop");
    }
    total
}

/// Connect, authenticate and a first reply between two running nodes,
/// `iters` times; the disconnection after each is not timed.
fn connect_running<C: EchoConf>(iters: u64, p: &Pair<C>, address: &str) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let addr = address.parse().ok().expect("address");
        let t = Instant::now();
        let to = *p.n1.connect(addr, TIMEOUT).expect("connect").get_id();
        let r = p.n1.query(EchoCmd::Ask(to, vec![1; MSG]), 1, TIMEOUT);
        total += t.elapsed();
        assert_eq!(r.expect("reply"), vec![MSG]);
        p.n1.disconnect(&to, TIMEOUT).expect("disconnect");
        p.n2.wait_peers(PeerCount::AtMost(0), TIMEOUT)
            .expect("closed on both sides");
    }
    total
}

/// A raw connection to the echo server and its first reply.
fn connect_raw_once(server: SocketAddr) {
    let mut s = connect_raw(server);
    s.write_all(&frame(MSG)).expect("write");
    let mut buf = Vec::new();
    read_frame(&mut s, &mut buf);
}

fn connect(c: &mut Criterion, run: &ratio::Run) {
    let server = echo_server();
    let raw_iters = |n: u64| timed(|| (0..n).for_each(|_| connect_raw_once(server)));
    let mut g = c.benchmark_group("connect");
    g.sample_size(run.samples());
    g.bench_function("raw_tcp", |b| {
        run.iter(b, "connect/raw_tcp", || connect_raw_once(server))
    });
    // Not a baseline: the handshake's share of a connect (both sides, in
    // memory, no I/O).
    let a = Arc::new(LocalPeer::new(Identity::generate().expect("id"), "a".into()).expect("a"));
    let z = Arc::new(LocalPeer::new(Identity::generate().expect("id"), "z".into()).expect("z"));
    let mut seen = ChallengeCache::new(1 << 16, Duration::from_secs(60));
    g.bench_function("handshake_only", |b| {
        run.iter(b, "connect/handshake_only", || {
            let now = Instant::now();
            let t = Duration::from_secs(5);
            let (mut i, ping) = Handshake::initiate(a.clone(), None, t, now).expect("ping");
            let mut r = Handshake::respond(z.clone(), t, now);
            let pong = r.on_ping(&ping, &mut seen, now).expect("pong");
            let (fin, _) = i.on_pong(&pong, now).expect("final");
            r.on_final(&fin, now).expect("done")
        })
    });
    let th = pair(|| Threaded);
    let rs = pair(|| Restart);
    let bl = pair(|| Blocking);
    let my = pair(|| May);
    let th_addr = th.n2.local_peer().get_address().clone();
    let rs_addr = rs.n2.local_peer().get_address().clone();
    let bl_addr = bl.n2.local_peer().get_address().clone();
    let my_addr = my.n2.local_peer().get_address().clone();
    th.n1.disconnect(&th.to, TIMEOUT).expect("disconnect");
    rs.n1.disconnect(&rs.to, TIMEOUT).expect("disconnect");
    bl.n1.disconnect(&bl.to, TIMEOUT).expect("disconnect");
    my.n1.disconnect(&my.to, TIMEOUT).expect("disconnect");
    let raw = "connect/raw_tcp";
    g.bench_function("node_threaded", |b| {
        run.paired_custom(
            b,
            ("connect/node_threaded", raw),
            |n| connect_running(n, &th, &th_addr),
            raw_iters,
        )
    });
    g.bench_function("node_restartable", |b| {
        run.paired_custom(
            b,
            ("connect/node_restartable", raw),
            |n| connect_running(n, &rs, &rs_addr),
            raw_iters,
        )
    });
    g.bench_function("node_threaded_blocking", |b| {
        run.paired_custom(
            b,
            ("connect/node_threaded_blocking", raw),
            |n| connect_running(n, &bl, &bl_addr),
            raw_iters,
        )
    });
    g.bench_function("node_may_blocking", |b| {
        run.paired_custom(
            b,
            ("connect/node_may_blocking", raw),
            |n| connect_running(n, &my, &my_addr),
            raw_iters,
        )
    });
    g.bench_function("fresh_threaded", |b| {
        run.paired_custom(
            b,
            ("connect/fresh_threaded", raw),
            |n| connect_node(n, || Threaded),
            raw_iters,
        )
    });
    g.bench_function("fresh_restartable", |b| {
        run.paired_custom(
            b,
            ("connect/fresh_restartable", raw),
            |n| connect_node(n, || Restart),
            raw_iters,
        )
    });
    g.finish();
    th.stop();
    rs.stop();
    bl.stop();
    my.stop();
    for (name, figure) in [
        ("node_threaded", "two running nodes, `threaded!`"),
        ("node_restartable", "two running nodes, `restartable!`"),
        (
            "node_threaded_blocking",
            "two running nodes, `threaded_blocking!`",
        ),
        ("node_may_blocking", "two running nodes, `may_blocking!`"),
        ("fresh_threaded", "a fresh node pair, `threaded!`"),
        ("fresh_restartable", "a fresh node pair, `restartable!`"),
    ] {
        run.compare(
            &format!("connect + authenticate + first reply, {figure}, vs raw TCP"),
            &format!("connect/{name}"),
            raw,
        );
    }
    run.compare(
        "connect between running nodes, `restartable!`, vs the handshake's operations in sequence (not a baseline)",
        "connect/node_restartable",
        "connect/handshake_only",
    );
}

fn main() {
    let run = ratio::Run::new(SAMPLES);
    let mut c = Criterion::default().configure_from_args();
    req_resp(&mut c, &run);
    bulk(&mut c, &run);
    connect(&mut c, &run);
    c.final_summary();
    run.summary("node, times per message (req_resp), per 16 MiB (bulk), per connect");
}

/// This run's medians and ratios (see the module's docs).
#[path = "../../mydht-base/benches/support/ratio.rs"]
mod ratio;
