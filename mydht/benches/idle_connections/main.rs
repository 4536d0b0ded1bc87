//! One node (the hub) holding many authenticated, idle connections from
//! other nodes: its memory per idle connection (heap asked for, counted
//! by this binary's allocator, and resident memory), its threads, the
//! time for all peers to connect and authenticate, and the latency of a
//! request/response to one peer (p50, p99) with only that peer connected
//! and with all the others connected too, in the same run.
//!
//! The hub runs in this process, under `restartable!` (its loop driven on
//! a thread of its own), `threaded!` or `may_blocking!`. The peers are
//! driven `restartable!` touch nodes in child processes (this binary again,
//! `--peers-process`), 2,500 per process, one thread turning them: a
//! process may hold 20,000 open files here and cannot raise its hard
//! limit, and each peer holds four (poll, waker, listener, connection).
//! The probe, the one peer the hub touches, has a thread of its own.
//!
//! `cargo bench -p mydht --bench idle_connections -- [--peers 10000] [--profile restartable,threaded,may] [--may-io-timeout-ms 50] [--hub-log]`

mod count;
mod hub_log;
mod peers;
mod shared;
mod stacks;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use count::Snapshot;
use hub_log::hub_logger;
use mydht::{MainLoopSpawn, MyDHTConf, NodeConstants, NodeHandle, PeerCount};
use mydht_base::service::spawn::{
    idle_service_threads, MayCoroutine, ThreadIdle, IDLE_AFTER, IDLE_TIMEOUT, THREAD_IDLE_AFTER,
};
use mydht_base::{Peer, Result};
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::touch::{Touch, Touched};
use mydht_basetest::touch_conf_items;
use mydht_tcp::{MayTcpTransport, TcpTransport};
use shared::{raise_open_files, start_counting, Counting};
use stacks::StackPages;

#[global_allocator]
static ALLOC: Counting = Counting;

/// Long: 10,000 handshakes on a loaded 2-core machine take minutes.
const TIMEOUT: Duration = Duration::from_secs(900);
/// Peers per child process.
const PER_PROCESS: usize = 2_500;
/// Request/responses timed per series (after 100 untimed).
const SAMPLES: usize = 2_000;
/// The stack of the may profile's read and write coroutines (its default).
const MAY_STACK: usize = 128 * 1024;

fn constants() -> NodeConstants {
    let room = peer_count() + 64;
    NodeConstants {
        max_connections: room,
        max_peers: room,
        peer_store_capacity: room,
        challenge_cache: room,
        ..NodeConstants::default()
    }
}

/// The may hub's I/O timeout (`--may-io-timeout-ms`, 50 ms by default):
/// how long its listener thread waits on a silent peer's handshake (the
/// connections' coroutines wait without a timer).
fn may_loopback() -> Result<MayTcpTransport> {
    let ms = arg("--may-io-timeout-ms").map_or(50, |n| n.parse().expect("--may-io-timeout-ms N"));
    Ok(MayTcpTransport::bind(([127, 0, 0, 1], 0).into())?
        .with_io_timeout(Some(Duration::from_millis(ms))))
}

/// What every hub's configuration says besides its profile and transport.
macro_rules! hub_items {
    () => {
        fn constants(&self) -> NodeConstants {
            constants()
        }
        fn logger(&self) -> slog::Logger {
            hub_logger()
        }
    };
}

/// The `threaded!` hub, on a thread of its own.
struct HubThreaded;

impl MyDHTConf for HubThreaded {
    touch_conf_items!(threaded, TcpTransport);
    hub_items!();

    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
}

/// The `may_blocking!` hub, on a thread of its own.
struct HubMay;

impl MyDHTConf for HubMay {
    touch_conf_items!(may_blocking, MayTcpTransport);
    hub_items!();

    fn init_transport(&mut self) -> Result<MayTcpTransport> {
        may_loopback()
    }
}

/// The `restartable!` hub: its loop on a thread the bench drives.
struct HubRestartable;

impl MyDHTConf for HubRestartable {
    touch_conf_items!(restartable, TcpTransport);
    hub_items!();

    fn main_loop_spawn(&self) -> MainLoopSpawn {
        MainLoopSpawn::Caller
    }
    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

fn peer_count() -> usize {
    arg("--peers").map_or(10_000, |n| n.parse().expect("--peers N"))
}

/// The peers' processes and what they say.
struct PeerProcesses {
    children: Vec<Child>,
    stdins: Vec<ChildStdin>,
    lines: mpsc::Receiver<(usize, String)>,
}

impl PeerProcesses {
    fn start(hub: SocketAddr, peers: usize) -> Self {
        let exe = std::env::current_exe().expect("this binary");
        let (tx, lines) = mpsc::channel();
        let (mut children, mut stdins) = (Vec::new(), Vec::new());
        for (i, start) in (0..peers).step_by(PER_PROCESS).enumerate() {
            let count = PER_PROCESS.min(peers - start) - usize::from(i == 0);
            let mut child = Command::new(&exe)
                .args(["--peers-process", &hub.to_string(), &count.to_string()])
                .arg(if i == 0 { "1" } else { "0" })
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("peers process");
            stdins.push(child.stdin.take().expect("stdin"));
            let out = BufReader::new(child.stdout.take().expect("stdout"));
            let tx = tx.clone();
            thread::spawn(move || {
                for line in out.lines().map_while(std::io::Result::ok) {
                    let _ = tx.send((i, line));
                }
            });
            children.push(child);
        }
        let processes = PeerProcesses {
            children,
            stdins,
            lines,
        };
        processes.answers("ready");
        processes
    }

    fn tell(&mut self, which: Option<usize>, command: &str) {
        for (i, stdin) in self.stdins.iter_mut().enumerate() {
            if which.is_none_or(|w| w == i) {
                writeln!(stdin, "{command}").expect("tell a peers process");
            }
        }
    }

    /// One answer starting with `word` from each process, or from `n` of
    /// them; what follows the word.
    fn answers_from(&self, n: usize, word: &str) -> Vec<String> {
        (0..n)
            .map(|_| {
                let (i, line) = self.lines.recv_timeout(TIMEOUT).expect("a peers process");
                let rest = line.strip_prefix(word);
                rest.unwrap_or_else(|| panic!("process {i}: `{line}`, not `{word}`"))
                    .trim()
                    .to_string()
            })
            .collect()
    }

    fn answers(&self, word: &str) -> Vec<String> {
        self.answers_from(self.children.len(), word)
    }

    fn stop(mut self) {
        self.tell(None, "stop");
        self.answers("stopped");
        for mut child in self.children {
            child.wait().expect("peers process");
        }
    }
}

/// Waits until every service of a suspending spawner is suspended (idle
/// since `idle_after`; `counts` gives (live, suspended)), at most `2 ×
/// idle_after` past the last suspension: (live, suspended).
fn wait_suspended(counts: fn() -> (usize, usize), idle_after: Duration) -> (usize, usize) {
    let mut last = (0, 0);
    let mut since = Instant::now();
    loop {
        let now = counts();
        if now.0 == now.1 {
            return now;
        }
        if now.1 != last.1 {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() > 2 * idle_after {
            return now;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// `threaded!`: waits until its idle read services gave their threads
/// back (`ThreadIdle`), then until the reuse pool's idle threads exited
/// (`IDLE_TIMEOUT`), so the figures count what idle connections hold.
fn wait_threads_given_back() {
    let (live, suspended) = wait_suspended(ThreadIdle::idle_services, THREAD_IDLE_AFTER);
    let pooled = idle_service_threads();
    let deadline = Instant::now() + 2 * IDLE_TIMEOUT;
    while idle_service_threads() > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "threaded!: {suspended} of {live} ThreadIdle services suspended idle; \
         {pooled} idle pool threads then, {} after waiting",
        idle_service_threads()
    );
}

/// Latencies of `SAMPLES` touches of `probe`: (p50, p99).
fn latencies<C>(hub: &NodeHandle<C>, probe: mydht::PeerId) -> (Duration, Duration)
where
    C: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
{
    let mut times = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES + 100 {
        let start = Instant::now();
        let replies = hub.query(Touch(probe), 2, TIMEOUT).expect("touch");
        let took = start.elapsed();
        assert!(replies.contains(&Touched(probe)), "the probe answered");
        if i >= 100 {
            times.push(took);
        }
    }
    times.sort();
    (times[SAMPLES / 2], times[SAMPLES * 99 / 100])
}

/// One profile's figures.
struct Figures {
    profile: &'static str,
    peers: usize,
    connect: Duration,
    /// The hub process's CPU time per connection while they connected.
    connect_cpu: Duration,
    heap: isize,
    rss: isize,
    threads: isize,
    breakdown: String,
    alone: (Duration, Duration),
    crowd: (Duration, Duration),
    /// Peers (the probe aside) whose touch the hub answered.
    touched: usize,
    touch_all: Duration,
}

impl Figures {
    /// Its line of the table; the breakdown on stderr. Printed as soon as
    /// the figures are in, before the hub stops (a `threaded!` hub with
    /// 10,000 connections took minutes to stop, or hung, in our runs).
    fn print(&self) {
        eprintln!(
            "{}: {} peers; heap per connection by size class: {}",
            self.profile, self.peers, self.breakdown
        );
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "| {} | {} | {:.2} s | {:.0} µs | {} B | {} B | {} | {:.0} / {:.0} µs | \
             {:.0} / {:.0} µs | {} of {} answered in {:.2} s |",
            self.profile,
            self.peers,
            self.connect.as_secs_f64(),
            us(self.connect_cpu),
            self.heap,
            self.rss,
            self.threads,
            us(self.alone.0),
            us(self.alone.1),
            us(self.crowd.0),
            us(self.crowd.1),
            self.touched,
            self.peers - 1,
            self.touch_all.as_secs_f64(),
        );
    }
}

fn processes_count(peers: usize) -> usize {
    peers.div_ceil(PER_PROCESS)
}

/// Runs the scenario against a started hub; `harness` is the process's
/// thread count before the hub started.
fn scenario<C>(profile: &'static str, hub: &NodeHandle<C>, harness: isize) -> Figures
where
    C: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
{
    let peers = peer_count();
    let address = hub.local_peer().get_address().parse().expect("address");
    let mut processes = PeerProcesses::start(address, peers);
    let base = Snapshot::now();
    processes.tell(Some(0), "probe");
    let probe_address = processes.answers_from(1, "probe").remove(0);
    let probe = hub
        .wait_peers(PeerCount::AtLeast(1), TIMEOUT)
        .expect("the probe online")
        .into_iter()
        .find(|p| *p.get_address() == probe_address)
        .expect("the probe is connected");
    let alone = latencies(hub, *probe.get_id());

    let start = Instant::now();
    let connecting = Snapshot::now();
    processes.tell(None, "connect");
    let connected = 1 + processes
        .answers("connected")
        .iter()
        .map(|n| n.parse::<usize>().expect("count"))
        .sum::<usize>();
    hub.wait_peers(PeerCount::AtLeast(connected), TIMEOUT)
        .expect("every peer connected online");
    let connect = start.elapsed();
    processes.tell(None, "rest");
    if profile == "may_blocking!" {
        let (live, suspended) = wait_suspended(MayCoroutine::idle_services, IDLE_AFTER);
        eprintln!("may_blocking!: {suspended} of {live} coroutine services suspended idle");
    }
    if profile == "threaded!" {
        wait_threads_given_back();
    }
    let idle = Snapshot::now();
    if profile == "may_blocking!" {
        eprintln!(
            "may_blocking!: coroutine stacks with all connected: {}",
            StackPages::now(MAY_STACK).summary()
        );
    }
    let crowd = latencies(hub, *probe.get_id());

    let start = Instant::now();
    processes.tell(None, "touch");
    let touched = processes
        .answers("touched")
        .iter()
        .map(|n| n.parse::<usize>().expect("count"))
        .sum::<usize>();
    let touch_all = start.elapsed();
    if profile == "may_blocking!" {
        eprintln!(
            "may_blocking!: coroutine stacks after every peer's touch: {}",
            StackPages::now(MAY_STACK).summary()
        );
    }
    processes.stop();
    let n = connected as isize;
    Figures {
        profile,
        peers: connected,
        connect,
        connect_cpu: idle.cpu.saturating_sub(connecting.cpu) / (connected as u32 - 1).max(1),
        heap: (idle.heap.live - base.heap.live) / n,
        rss: (idle.rss - base.rss) / n,
        // Less this thread's and the readers of the processes' answers.
        threads: idle.threads - harness - processes_count(peers) as isize,
        breakdown: idle.heap.breakdown(&base.heap, connected),
        alone,
        crowd,
        touched,
        touch_all,
    }
}

fn restartable() {
    let harness = Snapshot::now().threads;
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let hub = thread::spawn(move || {
        let (mut driver, handle) = mydht::start_driven(HubRestartable).expect("hub");
        tx.send(handle.clone()).expect("hub handle");
        while !stopping.load(Ordering::Acquire) {
            driver
                .run_once(Duration::from_millis(10))
                .expect("hub turn");
        }
        handle.stop().expect("stop asked");
        while driver.run_once(Duration::ZERO).expect("hub turn") {}
    });
    let handle = rx.recv().expect("hub started");
    let figures = scenario("restartable!", &handle, harness);
    figures.print();
    stop.store(true, Ordering::Release);
    hub.join().expect("hub thread");
}

fn on_own_thread<C>(profile: &'static str, conf: C)
where
    C: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
{
    let harness = Snapshot::now().threads;
    let hub = mydht::start_loop(conf).expect("hub");
    let figures = scenario(profile, &hub, harness);
    figures.print();
    hub.stop().expect("hub stopped");
}

fn main() {
    if let Some(hub) = arg("--peers-process") {
        let args: Vec<String> = std::env::args().collect();
        let at = args.len() - 2;
        let count = args[at].parse().expect("count");
        peers::run(
            hub.parse().expect("hub address"),
            count,
            args[at + 1] == "1",
        );
        return;
    }
    raise_open_files();
    start_counting(true);
    let profiles = arg("--profile").unwrap_or_else(|| "restartable,threaded,may".into());
    println!(
        "| hub profile | peers | connect + authenticate, all | hub CPU / connection | \
         heap / idle connection | \
         RSS / idle connection | hub threads | touch p50 / p99, probe alone | \
         touch p50 / p99, all connected | every peer touches the hub |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for profile in profiles.split(',') {
        match profile {
            "restartable" => restartable(),
            "threaded" => on_own_thread("threaded!", HubThreaded),
            "may" => on_own_thread("may_blocking!", HubMay),
            other => panic!("unknown profile {other}"),
        }
    }
}
