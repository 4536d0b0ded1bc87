//! Where a request's time goes under `threaded!`: two nodes on loopback in
//! one process (authenticated, session shadow, bincode), a 1 KiB
//! request/response, against a raw mio echo server of length-prefixed
//! frames timed in the same rounds (the order alternating from one round
//! to the next), for:
//!
//! - `lat1`: 1 in flight, the p50 and p99 of every request's latency, the
//!   median of the per-round p50 ratios (node / raw), and the context
//!   switches and CPU time of the whole process per request (every
//!   thread's, voluntary and not: the thread crossings one request costs,
//!   and the work, spinning included, it takes), then the deciles of the
//!   node's and the raw echo's latencies;
//! - `lat1_sync`: the same through the synchronous call
//!   (`NodeHandle::query`, whose lone caller spins up to
//!   `NodeConstants::caller_spin` for its reply before it sleeps; `lat1`'s
//!   futures never spin);
//! - `lat1_spin`: `lat1` with each future's first poll spinning up to
//!   100 µs for its reply (`ReplyFuture::spin_first_poll`, the caller's
//!   opt-in; the bench's `block_on` is the same);
//! - `req64`: 64 in flight, the time per message and the median of the
//!   per-round throughput ratios (raw time / node time), then the context
//!   switches and CPU time per message of the whole process, node and raw
//!   (how much of the two CPUs each keeps busy: CPU time over the time
//!   per message);
//! - `connect`: connect + authenticate + first reply between two running
//!   nodes (disconnected again, untimed), against a raw connect and first
//!   echo.
//!
//! Variants: `threaded` (the profile as it is: the local service inline
//! in the read service's thread, the api service on the main loop's,
//! `NodeConstants::direct_replies` on as by default),
//! `threaded_loop_replies` (`direct_replies` off: the local service's
//! replies through the main loop; `threaded_direct` before it was the
//! default), the write service
//! as it was before the main loop and the inline local service wrote
//! frames themselves while it is idle (`threaded_write_thread`, and
//! `threaded_write_thread_direct`: `write: ThreadPark, MpscChannel;`),
//! the profile as it was (`threaded_old_profile`: api and local services
//! on threads of their own, the write service as it was), mixes that
//! keep more off their own threads (`threaded_all_inline`: the global
//! service on the loop's thread too; `threaded_write_on_loop`: and the
//! write services restartable there; `*_local_thread`: the local service
//! back on its own thread; `threaded_all_inline_direct`: the global
//! service on the loop's thread with `direct_replies`), then `restartable`
//! for reference, then on the blocking transport (`BlockingTcpTransport`,
//! each read service waiting in its own socket): `blocking` (the
//! `threaded_blocking!` profile as it is, `direct_replies` on),
//! `blocking_inline` (local
//! service inline, api on the loop, the write service's senders writing
//! in place, `direct_replies`) and `blocking_all_inline` (and the global
//! service on the loop's thread).
//!
//! `cargo bench -p mydht --bench latency -- [FILTER] [--rounds N]`: FILTER
//! keeps the measures whose name contains it or, ending in `$`, ends with
//! it (`threaded/lat1$`). The first line printed says how the machine's
//! idle CPUs wait (a virtual machine's cpuidle driver and its
//! `guest_halt_poll_ns`): `lat1` depends on it more than on the node.

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

use mydht::service::PeersView;
use mydht::{
    Bincode, GlobalCommand, LocalCommand, MyDHTConf, NodeHandle, PeerCount, PeerId, PeerInfo,
    QueryId, Reply, SessionShadow,
};
use mydht_base::{Peer, Result, Service, SpawnerYield};
use mydht_tcp::{BlockingTcpTransport, TcpTransport};
use serde::{Deserialize, Serialize};

const MSG: usize = 1024;
const TIMEOUT: Duration = Duration::from_secs(30);
/// Requests per round and side at 1 in flight.
const LAT_PER_ROUND: usize = 400;
/// Messages per round and side at 64 in flight.
const THR_PER_ROUND: usize = 4096;
/// Connects per round and side.
const CONNECTS_PER_ROUND: usize = 8;

// ---- the echo application -------------------------------------------------

#[derive(Debug)]
struct Ask(PeerId);

#[derive(Debug, Clone, Serialize, Deserialize)]
enum EchoMsg {
    Ping(QueryId, #[serde(with = "serde_bytes_vec")] Vec<u8>),
    Pong(QueryId, #[serde(with = "serde_bytes_vec")] Vec<u8>),
}

/// A payload as one byte string (serde's default for `Vec<u8>` is a
/// sequence, coded byte by byte).
mod serde_bytes_vec {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_bytes(V)
    }
}

trait EchoConf: MyDHTConf<GlobalCmd = Ask, ProtoMsg = EchoMsg, ApiReply = usize> {}
impl<C: MyDHTConf<GlobalCmd = Ask, ProtoMsg = EchoMsg, ApiReply = usize>> EchoConf for C {}

struct EchoGlobal<C>(PhantomData<fn() -> C>);
struct EchoLocal<C>(PhantomData<fn() -> C>);

impl<C: EchoConf> Service for EchoGlobal<C> {
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(match cmd {
            GlobalCommand::Api(qid, Ask(to)) => Reply::Send(to, EchoMsg::Ping(qid, vec![1; MSG])),
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
            EchoMsg::Pong(qid, p) => Reply::Api(qid, p.len()),
        })
    }
}

macro_rules! echo_conf {
    ($name:ident, $direct:expr, $profile:ident ( $($mix:tt)* )) => {
        echo_conf!($name, $direct, $profile ( $($mix)* ), TcpTransport);
    };
    ($name:ident, $direct:expr, $profile:ident ( $($mix:tt)* ), $transport:ident) => {
        struct $name;
        impl MyDHTConf for $name {
            type Transport = $transport;
            type MsgEnc = Bincode;
            type Shadow = SessionShadow;
            type ProtoMsg = EchoMsg;
            type GlobalCmd = Ask;
            type ApiReply = usize;
            type GlobalService = EchoGlobal<Self>;
            type LocalService = EchoLocal<Self>;
            mydht::$profile!($($mix)*);
            fn init_transport(&mut self) -> Result<$transport> {
                <$transport as Bind>::bind_loopback()
            }
            fn init_msg_enc(&mut self) -> Bincode {
                Bincode
            }
            fn constants(&self) -> mydht::NodeConstants {
                mydht::NodeConstants {
                    direct_replies: $direct,
                    ..Default::default()
                }
            }
            fn init_shadow(&mut self) -> SessionShadow {
                SessionShadow::default()
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

echo_conf!(Threaded, true, threaded());
echo_conf!(ThreadedLoopReplies, false, threaded());
echo_conf!(
    OldProfile,
    false,
    threaded(api: ThreadPark, MpscChannel; local: ThreadPark, MpscChannel;
        write: ThreadPark, MpscChannel;)
);
echo_conf!(
    AllInline,
    false,
    threaded(api: RestartOrError, LocalRcChannel; local: Blocker, MpscChannel;
        global: Blocker, MpscChannel;)
);
echo_conf!(
    WriteOnLoop,
    false,
    threaded(api: RestartOrError, LocalRcChannel; local: Blocker, MpscChannel;
        global: Blocker, MpscChannel; write: RestartOrError, MpscChannel;)
);
echo_conf!(
    WriteOnLoopLocalThread,
    false,
    threaded(api: RestartOrError, LocalRcChannel; global: Blocker, MpscChannel;
        write: RestartOrError, MpscChannel;)
);
echo_conf!(WriteThread, false, threaded(write: ThreadPark, MpscChannel;));
echo_conf!(WriteThreadDirect, true, threaded(write: ThreadPark, MpscChannel;));
echo_conf!(Restart, false, restartable());
echo_conf!(
    AllInlineDirect,
    true,
    threaded(global: Blocker, MpscChannel;)
);
echo_conf!(
    BlockingAllInline,
    true,
    threaded_blocking(local: Blocker, MpscChannel; api: RestartOrError, LocalRcChannel;
        write: ThreadParkIdleInline, MpscChannelIdleInline; global: Blocker, MpscChannel;),
    BlockingTcpTransport
);
echo_conf!(Blocking, true, threaded_blocking(), BlockingTcpTransport);
echo_conf!(
    BlockingInline,
    true,
    threaded_blocking(local: Blocker, MpscChannel; api: RestartOrError, LocalRcChannel;
        write: ThreadParkIdleInline, MpscChannelIdleInline;),
    BlockingTcpTransport
);

/// A transport on a loopback port.
trait Bind: Sized {
    /// Listens on a free loopback port.
    fn bind_loopback() -> Result<Self>;
}

impl Bind for TcpTransport {
    fn bind_loopback() -> Result<Self> {
        TcpTransport::bind(loopback())
    }
}

impl Bind for BlockingTcpTransport {
    /// Reads give up after a while so that a stop is noticed.
    fn bind_loopback() -> Result<Self> {
        Ok(BlockingTcpTransport::bind(loopback())?
            .with_io_timeout(Some(Duration::from_millis(200))))
    }
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("literal")
}

struct Pair<C: MyDHTConf> {
    n1: NodeHandle<C>,
    n2: NodeHandle<C>,
    to: PeerId,
}

fn pair<C: EchoConf>(mk: fn() -> C) -> Pair<C> {
    let n1 = mydht::start_loop(mk()).expect("node 1");
    let n2 = mydht::start_loop(mk()).expect("node 2");
    let addr = n2.local_peer().get_address().parse().ok().expect("address");
    let to = *n1.connect(addr, TIMEOUT).expect("connect").get_id();
    Pair { n1, n2, to }
}

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

/// `n` requests through the node, `window` in flight: each one's latency.
fn node_requests<C: EchoConf>(p: &Pair<C>, n: usize, window: usize) -> Vec<Duration> {
    let mut lat = Vec::with_capacity(n);
    let mut flight = VecDeque::with_capacity(window);
    let mut sent = 0;
    while lat.len() < n {
        while sent < n && flight.len() < window {
            let f = p.n1.query_future(Ask(p.to), 1, TIMEOUT).expect("query");
            flight.push_back((Instant::now(), f));
            sent += 1;
        }
        let (t, f) = flight.pop_front().expect("in flight");
        assert_eq!(block_on(f).expect("reply"), vec![MSG]);
        lat.push(t.elapsed());
    }
    lat
}

/// `n` requests through the node one at a time by the synchronous call
/// (`NodeHandle::query`, whose lone caller spins a moment for its reply:
/// `NodeConstants::caller_spin`): each one's latency.
/// `n` requests one at a time through `query_future`, each future's
/// first poll spinning up to [`SPIN_FIRST_POLL`] (`lat1_spin`).
fn node_requests_spin<C: EchoConf>(p: &Pair<C>, n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let f = p.n1.query_future(Ask(p.to), 1, TIMEOUT).expect("query");
            let got = block_on(f.spin_first_poll(SPIN_FIRST_POLL)).expect("reply");
            let lat = t.elapsed();
            assert_eq!(got, vec![MSG]);
            lat
        })
        .collect()
}

/// How long `lat1_spin`'s futures spin at their first poll.
const SPIN_FIRST_POLL: Duration = Duration::from_micros(100);

fn node_requests_sync<C: EchoConf>(p: &Pair<C>, n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let got = p.n1.query(Ask(p.to), 1, TIMEOUT).expect("reply");
            let lat = t.elapsed();
            assert_eq!(got, vec![MSG]);
            lat
        })
        .collect()
}

// ---- the raw baseline ---------------------------------------------------------

/// A server connection: its socket, bytes read, bytes to write.
type EchoConn = (mio::net::TcpStream, Vec<u8>, Vec<u8>);

/// A mio echo server of length-prefixed frames (a `u32` length, then the
/// bytes), one thread.
fn echo_server() -> SocketAddr {
    use mio::net::TcpListener;
    use mio::{Events, Interest, Poll as MioPoll, Token};
    let mut listener = TcpListener::bind(loopback()).expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        let mut poll = MioPoll::new().expect("poll");
        let reg = poll.registry();
        reg.register(&mut listener, Token(0), Interest::READABLE)
            .expect("register");
        let mut conns: Vec<Option<EchoConn>> = Vec::new();
        let mut events = Events::with_capacity(256);
        let mut buf = vec![0u8; 64 * 1024];
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
                let mut at = 0;
                while inb.len() >= at + 4 {
                    let len = u32::from_be_bytes(inb[at..at + 4].try_into().expect("4")) as usize;
                    if inb.len() < at + 4 + len {
                        break;
                    }
                    at += 4 + len;
                }
                out.extend(inb.drain(..at));
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

fn connect_raw(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}

fn raw_requests(s: &mut TcpStream, n: usize, window: usize) -> Vec<Duration> {
    let mut req = (MSG as u32).to_be_bytes().to_vec();
    req.resize(4 + MSG, 1);
    let mut buf = vec![0u8; 4 + MSG];
    let mut lat = Vec::with_capacity(n);
    let mut flight = VecDeque::with_capacity(window);
    let mut sent = 0;
    while lat.len() < n {
        while sent < n && flight.len() < window {
            s.write_all(&req).expect("write");
            flight.push_back(Instant::now());
            sent += 1;
        }
        s.read_exact(&mut buf).expect("echo");
        lat.push(flight.pop_front().expect("in flight").elapsed());
    }
    lat
}

// ---- counting --------------------------------------------------------------

/// Context switches of every thread of this process so far, and their
/// time on a CPU in ns (Linux; zeros elsewhere).
fn thread_counters() -> (u64, u64) {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0);
    };
    let (mut switches, mut cpu) = (0, 0);
    let number = |s: Option<&str>| s.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    for t in tasks.flatten() {
        if let Ok(status) = std::fs::read_to_string(t.path().join("status")) {
            for line in status.lines() {
                if line.starts_with("voluntary_ctxt_switches")
                    || line.starts_with("nonvoluntary_ctxt_switches")
                {
                    switches += number(line.split_whitespace().last());
                }
            }
        }
        if let Ok(stat) = std::fs::read_to_string(t.path().join("schedstat")) {
            cpu += number(stat.split_whitespace().next());
        }
    }
    (switches, cpu)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn quantile(v: &mut [Duration], q: f64) -> f64 {
    v.sort();
    v[((v.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6
}

// ---- the measures -------------------------------------------------------------

/// How `lat1` waits for each reply.
#[derive(Clone, Copy, PartialEq)]
enum Wait {
    /// `query_future` and the bench's own `block_on`, which parks.
    Future,
    /// The same, the future's first poll spinning (its opt-in).
    FutureSpin,
    /// `NodeHandle::query`.
    Sync,
}

/// `lat1` (`Wait::Future`), `lat1_spin` or `lat1_sync`.
fn lat1<C: EchoConf>(name: &str, p: &Pair<C>, raw: &mut TcpStream, rounds: usize, wait: Wait) {
    let (mut node, mut base, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut switches, mut cpu) = (0, 0);
    let measure = match wait {
        Wait::Future => "lat1",
        Wait::FutureSpin => "lat1_spin",
        Wait::Sync => "lat1_sync",
    };
    for r in 0..rounds {
        let run_node = || {
            let before = thread_counters();
            let l = match wait {
                Wait::Future => node_requests(p, LAT_PER_ROUND, 1),
                Wait::FutureSpin => node_requests_spin(p, LAT_PER_ROUND),
                Wait::Sync => node_requests_sync(p, LAT_PER_ROUND),
            };
            let after = thread_counters();
            (l, (after.0 - before.0, after.1 - before.1))
        };
        let ((mut l, (cs, ns)), mut b) = if r % 2 == 0 {
            let b = raw_requests(raw, LAT_PER_ROUND, 1);
            (run_node(), b)
        } else {
            let n = run_node();
            (n, raw_requests(raw, LAT_PER_ROUND, 1))
        };
        switches += cs;
        cpu += ns;
        ratios.push(quantile(&mut l, 0.5) / quantile(&mut b, 0.5));
        node.extend(l);
        base.extend(b);
    }
    let n = (rounds * LAT_PER_ROUND) as f64;
    let (cs, cpu) = (switches as f64 / n, cpu as f64 / n / 1e3);
    println!(
        "| {name} | {measure} | p50 {:.1} µs, p99 {:.1} µs | raw p50 {:.1} µs | paired p50 ratio {:.2} | {cs:.1} switches, {cpu:.0} µs CPU per request |",
        quantile(&mut node, 0.5),
        quantile(&mut node, 0.99),
        quantile(&mut base, 0.5),
        median(ratios),
    );
    println!(
        "| {name} | {measure} deciles | {} µs | raw {} µs | | |",
        deciles(&mut node),
        deciles(&mut base)
    );
}

/// The 10th to 90th percentiles of `v` in whole µs: the shape of a
/// latency's distribution (how many requests paid a wake-up onto a halted
/// vCPU, ~25 µs each, shows as a step).
fn deciles(v: &mut [Duration]) -> String {
    let d: Vec<String> = (1..10)
        .map(|i| format!("{:.0}", quantile(v, i as f64 / 10.0)))
        .collect();
    d.join(" ")
}

fn req64<C: EchoConf>(name: &str, p: &Pair<C>, raw: &mut TcpStream, rounds: usize) {
    let (mut node, mut base, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut node_work, mut raw_work) = ((0, 0), (0, 0));
    let per = |d: Duration| d.as_secs_f64() * 1e6 / THR_PER_ROUND as f64;
    // The time per message, and the switches and CPU time it took.
    let timed = |run: &mut dyn FnMut()| {
        let (before, t) = (thread_counters(), Instant::now());
        run();
        let (elapsed, after) = (t.elapsed(), thread_counters());
        (per(elapsed), (after.0 - before.0, after.1 - before.1))
    };
    for r in 0..rounds {
        let mut run_node = || {
            node_requests(p, THR_PER_ROUND, 64);
        };
        let mut run_raw = || {
            raw_requests(raw, THR_PER_ROUND, 64);
        };
        let ((n, nw), (b, bw)) = if r % 2 == 0 {
            let b = timed(&mut run_raw);
            (timed(&mut run_node), b)
        } else {
            let n = timed(&mut run_node);
            (n, timed(&mut run_raw))
        };
        node_work = (node_work.0 + nw.0, node_work.1 + nw.1);
        raw_work = (raw_work.0 + bw.0, raw_work.1 + bw.1);
        ratios.push(b / n);
        node.push(n);
        base.push(b);
    }
    let m = (rounds * THR_PER_ROUND) as f64;
    let work = |(switches, ns): (u64, u64)| {
        format!(
            "{:.2} switches, {:.1} µs CPU",
            switches as f64 / m,
            ns as f64 / m / 1e3
        )
    };
    println!(
        "| {name} | req64 | {:.2} µs/msg | raw {:.2} µs/msg | paired raw/node {:.2} | per message: node {}, raw {} |",
        median(node),
        median(base),
        median(ratios),
        work(node_work),
        work(raw_work),
    );
}

fn connect<C: EchoConf>(name: &str, p: &Pair<C>, server: SocketAddr, rounds: usize) {
    let address = p.n2.local_peer().get_address().to_string();
    let (mut node, mut base, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let run_node = || {
        let mut lat = Vec::new();
        for _ in 0..CONNECTS_PER_ROUND {
            let addr = address.parse().ok().expect("address");
            let t = Instant::now();
            let to = *p.n1.connect(addr, TIMEOUT).expect("connect").get_id();
            let r = p.n1.query(Ask(to), 1, TIMEOUT);
            lat.push(t.elapsed());
            assert_eq!(r.expect("reply"), vec![MSG]);
            p.n1.disconnect(&to, TIMEOUT).expect("disconnect");
            p.n2.wait_peers(PeerCount::AtMost(0), TIMEOUT)
                .expect("closed on both sides");
        }
        lat
    };
    let run_raw = || {
        let mut lat = Vec::new();
        for _ in 0..CONNECTS_PER_ROUND {
            let t = Instant::now();
            let mut s = connect_raw(server);
            raw_requests(&mut s, 1, 1);
            lat.push(t.elapsed());
        }
        lat
    };
    for r in 0..rounds {
        let (mut n, mut b) = if r % 2 == 0 {
            let b = run_raw();
            (run_node(), b)
        } else {
            let n = run_node();
            (n, run_raw())
        };
        ratios.push(quantile(&mut n, 0.5) / quantile(&mut b, 0.5));
        node.extend(n);
        base.extend(b);
    }
    println!(
        "| {name} | connect | p50 {:.0} µs | raw p50 {:.0} µs | paired p50 ratio {:.2} | |",
        quantile(&mut node, 0.5),
        quantile(&mut base, 0.5),
        median(ratios),
    );
}

fn variant<C: EchoConf>(name: &str, mk: fn() -> C, args: &Args, server: SocketAddr) {
    let measures = ["lat1", "lat1_sync", "lat1_spin", "req64", "connect"];
    if !measures
        .iter()
        .any(|m| args.selects(&format!("{name}/{m}")))
    {
        return;
    }
    let p = pair(mk);
    let mut raw = connect_raw(server);
    // Warm-up: the threads' first wake-ups and allocations.
    node_requests(&p, 2000, 1);
    raw_requests(&mut raw, 2000, 1);
    if args.selects(&format!("{name}/lat1")) {
        lat1(name, &p, &mut raw, args.rounds, Wait::Future);
    }
    if args.selects(&format!("{name}/lat1_sync")) {
        lat1(name, &p, &mut raw, args.rounds, Wait::Sync);
    }
    if args.selects(&format!("{name}/lat1_spin")) {
        lat1(name, &p, &mut raw, args.rounds, Wait::FutureSpin);
    }
    if args.selects(&format!("{name}/req64")) {
        req64(name, &p, &mut raw, args.rounds);
    }
    if args.selects(&format!("{name}/connect")) {
        connect(name, &p, server, args.rounds);
    }
    p.n1.stop().expect("stop node 1");
    p.n2.stop().expect("stop node 2");
}

struct Args {
    filter: Option<String>,
    rounds: usize,
}

impl Args {
    fn parse() -> Self {
        let mut args = Args {
            filter: None,
            rounds: 10,
        };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            match a.as_str() {
                "--rounds" => {
                    args.rounds = it.next().and_then(|n| n.parse().ok()).expect("--rounds N")
                }
                // What cargo bench passes.
                "--bench" => {}
                f => args.filter = Some(f.to_string()),
            }
        }
        args
    }

    /// Whether the filter keeps `id`: a part of it, or with a trailing
    /// `$` its end (`threaded/lat1$` keeps `lat1` only).
    fn selects(&self, id: &str) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|f| match f.strip_suffix('$') {
                Some(end) => id.ends_with(end),
                None => id.contains(f.as_str()),
            })
    }
}

/// How this machine's idle CPUs wait, when Linux says: a guest whose
/// idle vCPU halts at once (`guest_halt_poll_ns` 0) pays a wake-up
/// through the host each time a thread is woken there, and `lat1`'s
/// three wake-ups show it.
fn idle_policy() -> String {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".to_string())
    };
    format!(
        "{} CPUs, cpuidle driver {}, guest_halt_poll_ns {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        read("/sys/devices/system/cpu/cpuidle/current_driver"),
        read("/sys/module/haltpoll/parameters/guest_halt_poll_ns"),
    )
}

fn main() {
    let args = Args::parse();
    let server = echo_server();
    println!("machine: {}\n", idle_policy());
    println!("| variant | measure | node | raw | ratio | |\n|---|---|---|---|---|---|");
    variant("threaded", || Threaded, &args, server);
    variant(
        "threaded_loop_replies",
        || ThreadedLoopReplies,
        &args,
        server,
    );
    variant("threaded_write_thread", || WriteThread, &args, server);
    variant(
        "threaded_write_thread_direct",
        || WriteThreadDirect,
        &args,
        server,
    );
    variant("threaded_old_profile", || OldProfile, &args, server);
    variant("threaded_all_inline", || AllInline, &args, server);
    variant("threaded_write_on_loop", || WriteOnLoop, &args, server);
    variant(
        "threaded_write_on_loop_local_thread",
        || WriteOnLoopLocalThread,
        &args,
        server,
    );
    variant(
        "threaded_all_inline_direct",
        || AllInlineDirect,
        &args,
        server,
    );
    variant("restartable", || Restart, &args, server);
    variant("blocking", || Blocking, &args, server);
    variant("blocking_inline", || BlockingInline, &args, server);
    variant("blocking_all_inline", || BlockingAllInline, &args, server);
}
