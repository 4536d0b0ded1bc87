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
//! The workload (echo application, node pair, raw servers) is
//! `mydht-cli`'s `bench::link::workload`, included below by path: `mydht
//! bench link` runs the same code.
//!
//! `cargo bench -p mydht --bench node -- --warm-up-time 1 --measurement-time 3`

use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use mydht::{ChallengeCache, Handshake, Identity, LocalPeer};
use mydht_tcp::{BlockingTcpTransport, MayTcpTransport};
use workload::raw::{
    bulk_server, connect_raw, connect_raw_once, echo_server, raw_bulk, raw_bulk_64k,
    raw_bulk_block, raw_requests,
};
use workload::{
    link_echo_conf, loopback, EchoCmd, EchoConf, EchoGlobal, EchoLocal, EchoMsg, Pair, BULK,
};

const TIMEOUT: Duration = Duration::from_secs(30);
/// The I/O timeout of the blocking transports: how soon a blocked service
/// notices a stop.
const IO_TIMEOUT: Duration = Duration::from_millis(50);

// ---- the node configurations ---------------------------------------------------

link_echo_conf!(Threaded, threaded);
link_echo_conf!(Restart, restartable);
// Not a goal: shows what the session cipher costs in bulk.
link_echo_conf!(RestartClear, restartable, NoShadow, false);
// The local service's replies through the main loop instead of straight
// to the write service (`direct_replies` off; on by default).
link_echo_conf!(ThreadedLoopReplies, threaded, SessionShadow, false);
/// `threaded!` with its write service's thread taking every frame (as
/// before the main loop wrote frames itself while it is idle).
struct ThreadedWriteThread;

impl mydht::MyDHTConf for ThreadedWriteThread {
    type Transport = mydht::tcp::TcpTransport;
    type MsgEnc = mydht::Bincode;
    type Shadow = mydht::SessionShadow;
    type ProtoMsg = EchoMsg;
    type GlobalCmd = EchoCmd;
    type ApiReply = usize;
    type GlobalService = EchoGlobal<Self>;
    type LocalService = EchoLocal<Self>;
    mydht::threaded!(write: ThreadPark, MpscChannel;);
    fn init_transport(&mut self) -> mydht_base::Result<mydht::tcp::TcpTransport> {
        mydht::tcp::TcpTransport::bind(loopback())
    }
    fn init_msg_enc(&mut self) -> mydht::Bincode {
        mydht::Bincode
    }
    fn init_shadow(&mut self) -> mydht::SessionShadow {
        mydht::SessionShadow::default()
    }
    fn init_global(
        &mut self,
        _: &mydht::PeerInfo,
        _: &mydht::service::PeersView,
    ) -> mydht_base::Result<Self::GlobalService> {
        Ok(Default::default())
    }
    fn init_local(
        &mut self,
        _: &mydht::PeerInfo,
        _: &mydht::PeerInfo,
        _: &mydht::service::PeersView,
    ) -> mydht_base::Result<Self::LocalService> {
        Ok(Default::default())
    }
}
// The session shadow in AES-256-GCM (the default is ChaCha20-Poly1305).
link_echo_conf!(ThreadedAes, threaded, SessionShadow, true, Aes256Gcm);
link_echo_conf!(RestartAes, restartable, SessionShadow, false, Aes256Gcm);
// The blocking style: read and write services on threads of their own,
// and as may coroutines (`may_blocking!`, `MayTcpTransport`).
link_echo_conf!(
    Blocking,
    threaded_blocking,
    SessionShadow,
    true,
    ChaCha20Poly1305,
    BlockingTcpTransport,
    Ok(BlockingTcpTransport::bind(loopback())?.with_io_timeout(Some(IO_TIMEOUT)))
);
link_echo_conf!(
    May,
    may_blocking,
    SessionShadow,
    true,
    ChaCha20Poly1305,
    MayTcpTransport,
    Ok(MayTcpTransport::bind(loopback())?.with_io_timeout(Some(IO_TIMEOUT)))
);

// ---- the workload, failing loudly ----------------------------------------------

fn pair<C: EchoConf>(mk: fn() -> C) -> Pair<C> {
    Pair::start(mk, TIMEOUT).expect("a node pair")
}

fn stop<C: EchoConf>(p: Pair<C>) {
    p.stop().expect("stop the pair");
}

fn bulk_once<C: EchoConf>(p: &Pair<C>) {
    workload::bulk_once(p, TIMEOUT).expect("bulk acknowledged");
}

fn node_requests<C: EchoConf>(p: &Pair<C>, n: usize, window: usize) -> Vec<Duration> {
    workload::node_requests(p, n, window, TIMEOUT).expect("node requests")
}

fn raw_reqs(s: &mut TcpStream, n: usize, window: usize) -> Vec<Duration> {
    raw_requests(s, n, window).expect("raw requests")
}

fn raw_connection(server: std::net::SocketAddr) -> TcpStream {
    connect_raw(server).expect("connect to the raw server")
}

fn connect_node<C: EchoConf>(iters: u64, mk: fn() -> C) -> Duration {
    workload::connect_fresh(iters, mk, TIMEOUT).expect("fresh connects")
}

fn connect_running<C: EchoConf>(iters: u64, p: &Pair<C>) -> Duration {
    workload::connect_running(iters, p, TIMEOUT).expect("connects")
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
            |n| timed(|| drop(raw_reqs(raw, n as usize, window))),
        )
    });
    run.compare(
        &format!("1 KiB req/resp, {window} in flight, `{name}` vs raw TCP"),
        &ids.0,
        &ids.1,
    );
}

fn req_resp(c: &mut Criterion, run: &ratio::Run) {
    let server = echo_server().expect("echo server");
    let mut raw = raw_connection(server);
    let th = pair(|| Threaded);
    let tl = pair(|| ThreadedLoopReplies);
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
                timed(|| drop(raw_reqs(&mut raw, iters as usize, window)))
            })
        });
        let names = (
            "node_threaded",
            "node_threaded_loop_replies",
            "node_restartable",
        );
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
            let lat = raw_reqs(&mut raw, 5000, window);
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
    stop(th);
    stop(tl);
    stop(rs);
    stop(bl);
    stop(my);
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
            || raw_bulk(raw, block).expect("raw bulk"),
        )
    });
    run.compare(&format!("bulk 16 MiB, {figure} vs raw TCP"), &ids.0, &ids.1);
}

fn bulk(c: &mut Criterion, run: &ratio::Run) {
    let mut raw = raw_connection(bulk_server().expect("bulk server"));
    let block = raw_bulk_block();
    let mut raw_64k = raw_connection(echo_server().expect("echo server"));
    let th = pair(|| Threaded);
    let th_wt = pair(|| ThreadedWriteThread);
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
        run.iter(b, "bulk/raw_tcp", || {
            raw_bulk(&mut raw, &block).expect("raw bulk")
        })
    });
    g.bench_function("raw_tcp_64k_writes", |b| {
        run.iter(b, "bulk/raw_tcp_64k_writes", || {
            raw_bulk_64k(&mut raw_64k).expect("raw bulk")
        })
    });
    run.compare(
        "bulk 16 MiB, the former baseline (64 KiB writes, mio echo server) vs raw TCP",
        "bulk/raw_tcp_64k_writes",
        "bulk/raw_tcp",
    );
    let r = (&mut raw, &block[..]);
    bulk_node(&mut g, run, ("node_threaded", "`threaded!`"), &th, r.0, r.1);
    let names = (
        "node_threaded_write_thread",
        "`threaded!(write: ThreadPark, MpscChannel;)`",
    );
    bulk_node(&mut g, run, names, &th_wt, r.0, r.1);
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
    stop(th);
    stop(th_wt);
    stop(rs);
    stop(th_aes);
    stop(rs_aes);
    stop(clear);
    stop(bl);
    stop(my);
}

fn connect(c: &mut Criterion, run: &ratio::Run) {
    let server = echo_server().expect("echo server");
    let raw_iters =
        |n: u64| timed(|| (0..n).for_each(|_| connect_raw_once(server).expect("raw connect")));
    let mut g = c.benchmark_group("connect");
    g.sample_size(run.samples());
    g.bench_function("raw_tcp", |b| {
        run.iter(b, "connect/raw_tcp", || {
            connect_raw_once(server).expect("raw connect")
        })
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
    let raw = "connect/raw_tcp";
    g.bench_function("node_threaded", |b| {
        run.paired_custom(
            b,
            ("connect/node_threaded", raw),
            |n| connect_running(n, &th),
            raw_iters,
        )
    });
    g.bench_function("node_restartable", |b| {
        run.paired_custom(
            b,
            ("connect/node_restartable", raw),
            |n| connect_running(n, &rs),
            raw_iters,
        )
    });
    g.bench_function("node_threaded_blocking", |b| {
        run.paired_custom(
            b,
            ("connect/node_threaded_blocking", raw),
            |n| connect_running(n, &bl),
            raw_iters,
        )
    });
    g.bench_function("node_may_blocking", |b| {
        run.paired_custom(
            b,
            ("connect/node_may_blocking", raw),
            |n| connect_running(n, &my),
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
    stop(th);
    stop(rs);
    stop(bl);
    stop(my);
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

/// The link workload, shared with `mydht bench link`.
#[path = "../../mydht-cli/src/bench/link/workload/mod.rs"]
mod workload;

/// This run's medians and ratios (see the module's docs).
#[path = "../../mydht-base/benches/support/ratio.rs"]
mod ratio;
