//! The tunnel bench: 64 MiB streamed through 1, 3 and 8 relays of live
//! nodes on loopback (MB/s, time to first byte), beside, in the same run
//! and round by round, (i) a chain of plain TCP relays with as many hops
//! and the same 64 KiB buffer, no crypto, and (ii) the crypto-only limit:
//! the same bytes through the same onion layers in memory, alone and with
//! each link's session shadow (every AEAD pass the tunnel makes, on one
//! thread); the CPU the process used per MB; and the round
//! trip of a 1 KiB query through 3 relays and back (p50, p99) beside the
//! same query with no relay.
//!
//! `cargo bench -p mydht-tunnel --bench tunnel` (`-- --rounds N`, 5 by
//! default; `-- --rtt-only`: the round trips alone; `-- --frames`: queries
//! carried whole in a frame per hop; `-- --suite chacha`: the nodes' session
//! shadows in ChaCha20-Poly1305 instead of AES-256-GCM). Prints medians, ratios of medians and the median of the
//! per-round ratios (both sides of a round saw the same machine load).

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use mydht::auth::{CipherSuite, SessionKey, SessionKeys};
use mydht::prelude::*;
use mydht::{SessionShadow, Shadow};
use mydht_tunnel::{
    Attachment, Carriage, Destination, InnerCommand, InnerReply, MyDHTTunnelConf, ReplyRoute,
    Restartable, Threaded, TunnelConfOf, TunnelNode, TunnelSend,
};
use readwrite_comp::{CompR, CompW, ExtRead, ExtWrite};
use serde::{Deserialize, Serialize};
use tunnel::crypto::X25519Secret;
use tunnel::{FullTunnel, RouteHop, TunnelConfig};

const PAYLOAD: u64 = 64 << 20;
const BUF: usize = 64 << 10;
const TIMEOUT: Duration = Duration::from_secs(120);
/// Round trips of each series left out before the samples.
const WARM_UP: usize = 60;

/// The session shadows' suite of every node and of the in-memory session
/// passes: AES-256-GCM (as the cells), or ChaCha20-Poly1305 with
/// `--suite chacha`.
static SUITE: OnceLock<CipherSuite> = OnceLock::new();

fn suite() -> CipherSuite {
    *SUITE.get_or_init(|| CipherSuite::Aes256Gcm)
}

/// Zero bytes, `len` of them, never held whole.
struct Zeros(u64);

impl Read for Zeros {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.0) as usize;
        buf[..n].fill(0);
        self.0 -= n as u64;
        Ok(n)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Msg {
    File,
    Ping(Vec<u8>),
    Got(u64),
}

#[derive(Debug)]
enum Ask {
    File { to: PeerId, hops: usize },
    Ping { to: PeerId, hops: usize },
}

#[derive(Debug)]
struct Got(u64);

/// When the exit got its first attachment bytes.
type FirstByte = Arc<Mutex<Option<Instant>>>;

struct Inner {
    first: FirstByte,
    len: u64,
}

impl Service for Inner {
    type CommandIn = InnerCommand<Bench>;
    type CommandOut = InnerReply<Bench>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: Self::CommandIn,
        _: &mut Y,
    ) -> Result<Self::CommandOut> {
        Ok(match cmd {
            InnerCommand::Api(Ask::File { to, hops }) => InnerReply::Send(TunnelSend {
                to: Destination::Peer(to),
                hops,
                reply: ReplyRoute::SameRoute,
                msg: Msg::File,
                attachment: Some(Attachment(Box::new(Zeros(PAYLOAD)))),
            }),
            InnerCommand::Api(Ask::Ping { to, hops }) => InnerReply::Send(TunnelSend {
                to: Destination::Peer(to),
                hops,
                reply: ReplyRoute::SameRoute,
                msg: Msg::Ping(vec![7; 1024]),
                attachment: None,
            }),
            InnerCommand::Exit {
                msg: Msg::Ping(b), ..
            } => InnerReply::Reply(Msg::Ping(b)),
            InnerCommand::Attached(bytes) => {
                if self.len == 0 {
                    *self.first.lock().unwrap() = Some(Instant::now());
                }
                self.len += bytes.len() as u64;
                InnerReply::None
            }
            InnerCommand::AttachedEnd { .. } => InnerReply::Reply(Msg::Got(self.len)),
            InnerCommand::Replied(Msg::Got(n)) => InnerReply::Api(Got(n)),
            InnerCommand::Replied(Msg::Ping(b)) => InnerReply::Api(Got(b.len() as u64)),
            _ => InnerReply::None,
        })
    }
}

struct Bench {
    first: FirstByte,
    /// Every connection with the signed handshake (`known_key` off): the
    /// known-key flight's baseline.
    signed_only: bool,
    /// Queries carried whole in one frame per hop (`--frames`).
    carriage: Carriage,
}

impl MyDHTTunnelConf for Bench {
    type Msg = Msg;
    type Cmd = Ask;
    type Answer = Got;
    type InnerService = Inner;
    fn init_inner(&mut self, _: &PeerInfo) -> Result<Inner> {
        Ok(Inner {
            first: self.first.clone(),
            len: 0,
        })
    }
    fn tunnel_timeout(&self) -> Duration {
        TIMEOUT
    }
    fn carriage(&self) -> Carriage {
        self.carriage
    }
    fn constants(&self) -> NodeConstants {
        let mut c = NodeConstants {
            cipher_suite: suite(),
            ..NodeConstants::default()
        };
        if self.signed_only {
            c.known_key = false;
        }
        c
    }
}

/// Alice, 8 relays, Bob, all connected to Alice, under profile `P`.
fn start_nodes<P>(
    first: &FirstByte,
    signed_only: bool,
    carriage: Carriage,
) -> Vec<NodeHandle<TunnelNode<Bench, P>>>
where
    TunnelNode<Bench, P>: TunnelConfOf<Bench>,
{
    let nodes: Vec<NodeHandle<TunnelNode<Bench, P>>> = (0..10)
        .map(|_| {
            start_loop(TunnelNode::<Bench, P>::new(Bench {
                first: first.clone(),
                signed_only,
                carriage,
            }))
            .expect("start")
        })
        .collect();
    for node in &nodes[1..] {
        let address = node.local_peer().get_address().parse().expect("address");
        nodes[0].connect(address, TIMEOUT).expect("connect");
    }
    nodes
}

/// A 1 KiB query's round trip through `hops` relays each way, in ms.
fn rtt<P>(nodes: &[NodeHandle<TunnelNode<Bench, P>>], hops: usize) -> f64
where
    TunnelNode<Bench, P>: TunnelConfOf<Bench>,
{
    let to = *nodes[9].local_peer().get_id();
    let start = Instant::now();
    let got = nodes[0]
        .query(Ask::Ping { to, hops }.into(), 1, TIMEOUT)
        .expect("ping");
    assert!(matches!(&got[..], [Ok(Got(1024))]), "{got:?}");
    start.elapsed().as_secs_f64() * 1e3
}

type Node = NodeHandle<TunnelNode<Bench, Threaded>>;
type OneThreadNode = NodeHandle<TunnelNode<Bench, Restartable>>;

/// One transfer through the tunnel: (seconds, seconds to the first byte).
fn tunnel_transfer(nodes: &[Node], first: &FirstByte, hops: usize) -> (f64, f64) {
    *first.lock().unwrap() = None;
    let to = *nodes[nodes.len() - 1].local_peer().get_id();
    let start = Instant::now();
    let got = nodes[0]
        .query(Ask::File { to, hops }.into(), 1, TIMEOUT)
        .expect("query");
    let took = start.elapsed().as_secs_f64();
    assert!(matches!(&got[..], [Ok(Got(n))] if *n == PAYLOAD), "{got:?}");
    let ttfb = first.lock().unwrap().expect("first byte") - start;
    (took, ttfb.as_secs_f64())
}

/// Baseline (i): the sender, `hops` relay threads copying with a 64 KiB
/// buffer, the sink; plain TCP on loopback. (seconds, to the first byte).
fn tcp_chain(hops: usize) -> (f64, f64) {
    let sink = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut next = sink.local_addr().expect("addr");
    let mut relays = Vec::new();
    for _ in 0..hops {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let to = next;
        next = l.local_addr().expect("addr");
        relays.push(std::thread::spawn(move || {
            let (mut from, _) = l.accept().expect("accept");
            let mut out = TcpStream::connect(to).expect("connect");
            let mut buf = vec![0u8; BUF];
            loop {
                let n = from.read(&mut buf).expect("read");
                if n == 0 {
                    return;
                }
                out.write_all(&buf[..n]).expect("write");
            }
        }));
    }
    let start = Instant::now();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = sink.accept().expect("accept");
        let mut buf = vec![0u8; BUF];
        let mut first = None;
        let mut total = 0u64;
        loop {
            let n = s.read(&mut buf).expect("read");
            if n == 0 {
                return (total, first);
            }
            first.get_or_insert_with(Instant::now);
            total += n as u64;
        }
    });
    let mut out = TcpStream::connect(next).expect("connect");
    let mut src = Zeros(PAYLOAD);
    let mut buf = vec![0u8; BUF];
    loop {
        let n = src.read(&mut buf).expect("zeros");
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).expect("write");
    }
    drop(out);
    let (total, first) = reader.join().expect("sink");
    let took = start.elapsed().as_secs_f64();
    for r in relays {
        r.join().expect("relay");
    }
    assert_eq!(total, PAYLOAD);
    (took, (first.expect("first byte") - start).as_secs_f64())
}

thread_local! {
    /// The crypto-only baselines' buffers, kept from one call to the next
    /// so that their pages are mapped once (in the warm-up round): a fresh
    /// 64 MiB buffer per pass cost them more in page faults than in cipher.
    static BUFFERS: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An empty buffer with room for a whole onion, from [`BUFFERS`].
fn take_buffer() -> Vec<u8> {
    let mut v = BUFFERS.with(|b| b.borrow_mut().pop()).unwrap_or_default();
    v.clear();
    v.reserve(PAYLOAD as usize + (PAYLOAD as usize >> 4));
    v
}

/// Gives a buffer back to [`BUFFERS`].
fn give_buffer(v: Vec<u8>) {
    BUFFERS.with(|b| b.borrow_mut().push(v));
}

/// Seals `bytes` as one message of a session shadow (the nodes' suite and
/// chunks), as a node writes a link, and opens it as the next
/// node reads it: the two session passes of one link, in memory.
fn session_link(bytes: Vec<u8>) -> Vec<u8> {
    let key = SessionKey::from_bytes([9; 32]);
    let keys = SessionKeys {
        send: key.clone(),
        recv: key,
        suite: suite(),
    };
    let shadow = SessionShadow::default();
    let mut w = CompW::new(take_buffer(), shadow.writer(&keys).expect("writer"));
    for part in bytes.chunks(BUF) {
        w.write_all(part).expect("seal");
    }
    w.write_end().expect("end");
    let wire = w.into_inner();
    give_buffer(bytes);
    let mut r = CompR::new(&wire[..], shadow.reader(&keys).expect("reader"));
    let mut out = take_buffer();
    r.read_to_end(&mut out).expect("open");
    r.read_end().expect("end");
    give_buffer(wire);
    out
}

/// Baseline (ii): the same payload through the same onion layers in
/// memory: the sender's cells, each relay's, the exit's reading; with
/// `sessions`, each link's session shadow too (sealed by the node writing
/// it, opened by the next). Seconds.
fn crypto_only(hops: usize, sessions: bool) -> f64 {
    let config = TunnelConfig::default();
    let node = || {
        let s = X25519Secret::generate().expect("key");
        let hop = RouteHop {
            public_key: *s.public_key(),
            address: vec![4, 127, 0, 0, 1, 0, 1],
        };
        (FullTunnel::new(config, s).expect("tunnel"), hop)
    };
    let mut alice = node();
    let route: Vec<_> = (0..=hops).map(|_| node()).collect();
    let hops_route: Vec<RouteHop> = route.iter().map(|(_, h)| h.clone()).collect();
    let start = Instant::now();
    let mut w = alice
        .0
        .new_writer(&hops_route, Some(&[alice.1.clone()]))
        .expect("writer");
    let mut onion = take_buffer();
    w.write_header(&mut onion).expect("header");
    let mut src = Zeros(PAYLOAD);
    let mut buf = vec![0u8; BUF];
    loop {
        let n = src.read(&mut buf).expect("zeros");
        if n == 0 {
            break;
        }
        w.write_all_into(&mut onion, &buf[..n]).expect("cells");
    }
    w.write_end(&mut onion).expect("end");
    for (t, _) in &route[..hops] {
        if sessions {
            onion = session_link(onion);
        }
        let mut r = t.view().new_reader();
        let mut input = &onion[..];
        r.read_header(&mut input).expect("relay header");
        let mut next = take_buffer();
        r.pump(&mut input, &mut next).expect("pump");
        give_buffer(std::mem::replace(&mut onion, next));
    }
    if sessions {
        onion = session_link(onion);
    }
    let mut r = route[hops].0.view().new_reader();
    let mut input = &onion[..];
    r.read_header(&mut input).expect("exit header");
    let mut total = 0u64;
    loop {
        let n = r.read_from(&mut input, &mut buf).expect("exit");
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    let took = start.elapsed().as_secs_f64();
    give_buffer(onion);
    assert!(total >= PAYLOAD);
    took
}

/// CPU seconds this process used so far (every thread, user and system).
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

/// `f` timed with the CPU it used: (its result, CPU seconds of the whole
/// process meanwhile: every node's threads, or the chain's).
fn with_cpu<R>(f: impl FnOnce() -> R) -> (R, f64) {
    let before = cpu_seconds();
    let r = f();
    (r, cpu_seconds() - before)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn mb_s(seconds: f64) -> f64 {
    PAYLOAD as f64 / seconds / 1e6
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `--suite chacha`: the session shadows in ChaCha20-Poly1305.
    if let Some(i) = args.iter().position(|a| a == "--suite") {
        let chosen = match args.get(i + 1).map(String::as_str) {
            Some("chacha") => CipherSuite::ChaCha20Poly1305,
            Some("aes") => CipherSuite::Aes256Gcm,
            other => panic!("--suite chacha or aes, not {other:?}"),
        };
        SUITE.set(chosen).expect("suite set once");
    }
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(5usize);
    // `--rtt-only`: the round trips alone.
    let transfers = !args.iter().any(|a| a == "--rtt-only");
    let first = FirstByte::default();
    // Alice, 8 relays, Bob: routes of 1, 3, 8 relays among them.
    // `--frames`: queries carried whole in a frame per hop (attachments
    // are streamed either way).
    let carriage = if args.iter().any(|a| a == "--frames") {
        Carriage::Frame
    } else {
        Carriage::Streamed
    };
    // `--relays N`: the transfers through N relays only (1, 3 and 8 by
    // default); `--transfers-only`: no round trips.
    let relays: Vec<usize> = match args.iter().position(|a| a == "--relays") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .into_iter()
            .collect(),
        None => vec![1, 3, 8],
    };
    let round_trips_too = !args.iter().any(|a| a == "--transfers-only");
    // `--series 0,3`: only these round-trip series (numbered as printed,
    // from 0), for profiling one of them.
    let series: Vec<usize> = match args.iter().position(|a| a == "--series") {
        Some(i) => args
            .get(i + 1)
            .map(|l| l.split(',').filter_map(|n| n.parse().ok()).collect())
            .unwrap_or_default(),
        None => (0..SERIES).collect(),
    };
    let nodes = start_nodes::<Threaded>(&first, false, carriage);
    if transfers {
        transfer_table(&nodes, &first, rounds, &relays);
    }
    if round_trips_too {
        round_trips(nodes, &first, rounds, carriage, &series);
    }
}

/// Round-trip series: 3 relays each way, none, 3 relays signed, 3 relays
/// and none on `Restartable` nodes.
const SERIES: usize = 5;

/// The throughput table: 64 MiB through 1, 3 and 8 relays beside the TCP
/// chain and the crypto-only limit, `rounds` rounds after a warm-up.
fn transfer_table(nodes: &[Node], first: &FirstByte, rounds: usize, relays: &[usize]) {
    println!(
        "64 MiB per transfer, {rounds} rounds, medians (per-round ratios' median in brackets); \
         session shadows {}, cells AES-256-GCM; crypto only: the cells' layers, \
         crypto + sessions: with each link's session shadow too (the tunnel's every AEAD pass, one thread)",
        suite()
    );
    println!("| relays | tunnel MB/s | TCP chain MB/s | crypto only MB/s | crypto + sessions MB/s | tunnel/TCP | tunnel/crypto | tunnel/(crypto + sessions) | TTFB tunnel | TTFB TCP | CPU ms/MB tunnel | CPU ms/MB TCP |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &hops in relays {
        let (mut t, mut tf, mut c, mut cf, mut k) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut r_tcp, mut r_crypto) = (vec![], vec![]);
        let (mut ks, mut r_sessions) = (vec![], vec![]);
        let (mut t_cpu, mut c_cpu) = (vec![], vec![]);
        for round in 0..rounds + 1 {
            // Alternate the order; the first round warms up.
            let tunnel = || with_cpu(|| tunnel_transfer(nodes, first, hops));
            let chain = || with_cpu(|| tcp_chain(hops));
            let (a, b, kt, kst) = if round % 2 == 0 {
                let a = tunnel();
                let b = chain();
                let kt = crypto_only(hops, false);
                (a, b, kt, crypto_only(hops, true))
            } else {
                let kst = crypto_only(hops, true);
                let kt = crypto_only(hops, false);
                let b = chain();
                (tunnel(), b, kt, kst)
            };
            if round == 0 {
                continue;
            }
            let (((tt, ttf), tc), ((ct, ctf), cc)) = (a, b);
            t.push(tt);
            tf.push(ttf);
            c.push(ct);
            cf.push(ctf);
            k.push(kt);
            r_tcp.push(ct / tt);
            r_crypto.push(kt / tt);
            ks.push(kst);
            r_sessions.push(kst / tt);
            let mb = PAYLOAD as f64 / 1e6;
            t_cpu.push(1e3 * tc / mb);
            c_cpu.push(1e3 * cc / mb);
        }
        let (mt, mc, mk) = (median(&mut t), median(&mut c), median(&mut k));
        let mks = median(&mut ks);
        println!(
            "| {hops} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0}% [{:.0}%] | {:.0}% [{:.0}%] | {:.0}% [{:.0}%] | {:.1} ms | {:.2} ms | {:.2} | {:.2} |",
            mb_s(mt),
            mb_s(mc),
            mb_s(mk),
            mb_s(mks),
            100.0 * mc / mt,
            100.0 * median(&mut r_tcp),
            100.0 * mk / mt,
            100.0 * median(&mut r_crypto),
            100.0 * mks / mt,
            100.0 * median(&mut r_sessions),
            1e3 * median(&mut tf),
            1e3 * median(&mut cf),
            median(&mut t_cpu),
            median(&mut c_cpu),
        );
    }
}

/// Round trips of a 1 KiB query: 3 relays each way, and none; then the
/// same on nodes whose connections all take the signed handshake (no
/// known-key flight), and on
/// nodes that run on one thread each (`Restartable`: no thread per
/// connection).
fn round_trips(
    nodes: Vec<Node>,
    first: &FirstByte,
    rounds: usize,
    carriage: Carriage,
    series: &[usize],
) {
    let signed_only = start_nodes::<Threaded>(first, true, carriage);
    let one_thread: Vec<OneThreadNode> = start_nodes::<Restartable>(first, false, carriage);
    let (mut three, mut none, mut ratio) = (vec![], vec![], vec![]);
    let (mut three_signed, mut three_one, mut none_one) = (vec![], vec![], vec![]);
    // CPU seconds of the whole process during each series' round trips
    // (every node's threads and the helper thread).
    let mut cpu = [0.0f64; SERIES];
    // The first round trips over a pair of nodes pay the signed handshake
    // (a node dials known-key an address it reached signed before): a
    // warm-up long enough for most of the 8 relays' pairs.
    for i in 0..20 * rounds + WARM_UP {
        // Each series in turn, the order reversed every other round.
        let mut s = [f64::NAN; SERIES];
        let mut c = [f64::NAN; SERIES];
        let order: [usize; SERIES] = if i % 2 == 0 {
            [0, 1, 2, 3, 4]
        } else {
            [4, 3, 2, 1, 0]
        };
        for k in order.into_iter().filter(|k| series.contains(k)) {
            (s[k], c[k]) = with_cpu(|| match k {
                0 => rtt(&nodes, 3),
                1 => rtt(&nodes, 0),
                2 => rtt(&signed_only, 3),
                3 => rtt(&one_thread, 3),
                _ => rtt(&one_thread, 0),
            });
        }
        if i >= WARM_UP {
            for (sum, c) in cpu.iter_mut().zip(c) {
                *sum += c;
            }
            three.push(s[0]);
            none.push(s[1]);
            three_signed.push(s[2]);
            three_one.push(s[3]);
            none_one.push(s[4]);
            ratio.push(s[0] / s[1]);
        }
    }
    println!();
    println!(
        "1 KiB query round trip, {} samples each, {carriage:?} carriage",
        three.len()
    );
    println!("| route | p50 | p99 | CPU per round trip |");
    println!("|---|---|---|---|");
    let samples = three.len() as f64;
    for ((name, v), cpu) in [
        ("3 relays each way", &mut three),
        ("no relay (baseline)", &mut none),
        (
            "3 relays each way, known-key off (signed)",
            &mut three_signed,
        ),
        ("3 relays each way, Restartable nodes", &mut three_one),
        ("no relay, Restartable nodes", &mut none_one),
    ]
    .into_iter()
    .zip(cpu)
    {
        if v.iter().any(|x| x.is_nan()) {
            continue;
        }
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:.2} ms |",
            percentile(&mut v.clone(), 0.5),
            percentile(v, 0.99),
            1e3 * cpu / samples
        );
    }
    println!(
        "p50 ratio (3 relays / none): per-pair median {:.2}",
        median(&mut ratio)
    );
    for node in signed_only {
        node.stop().expect("stop");
    }
    for node in one_thread {
        node.stop().expect("stop");
    }
    for node in nodes {
        node.stop().expect("stop");
    }
}
