//! One node holding 2,000 authenticated, idle connections from other nodes
//! of this process: the heap it holds per connection stays within a bound,
//! and every peer still gets a reply. Under `restartable!` (its loop
//! driven on one thread) and under `threaded!`, whose idle connections hold
//! no thread either: each read service gives its thread back once idle
//! (`ThreadIdle`), so the node's threads do not grow with its connections.
//! The two tests run one at a time (each counts the heap).
//!
//! Connecting has no deadline of its own, which the machine's load would
//! decide: it fails when no peer connects for [`STALL`], and the work is
//! bounded instead, the `restartable!` hub's CPU time per connection
//! ([`CPU_BOUND`]).

#[path = "../benches/idle_connections/shared.rs"]
mod shared;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use mydht::{MainLoopDriver, MainLoopSpawn, MyDHTConf, NodeConstants, NodeHandle, PeerCount};
use mydht_base::service::spawn::{ThreadIdle, MAX_IDLE};
use mydht_base::{Peer, Result};
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::touch::{Touch, Touched};
use mydht_basetest::touch_conf_items;
use mydht_tcp::TcpTransport;
use shared::{
    exclude_this_thread, poll_once, raise_open_files, start_counting, stop_counting_whole_process,
    Counting, Heap, Spoke,
};

/// Counts the heap of the node under test's thread.
#[global_allocator]
static ALLOC: Counting = Counting;

/// Idle connections held by the node under test.
const PEERS: usize = 2_000;
/// Threads turning the peers' loops.
const PEER_THREADS: usize = 2;
/// Connects in flight per peer thread.
const IN_FLIGHT: usize = 32;
/// Most heap the node may hold per idle connection.
const BOUND: usize = 32 << 10;
/// Most CPU time the hub's thread may spend per connection made, its
/// handshake included: 0.34 ms measured in a debug build here (openssl's
/// X25519, Ed25519 signature and verification, sockets, the core), so a
/// connection setup six times as costly fails, whatever the machine's load.
const CPU_BOUND: Duration = Duration::from_millis(2);
/// Connecting fails when no peer connected for this long.
const STALL: Duration = Duration::from_secs(30);
/// Any other wait: a reply, a phase.
const TIMEOUT: Duration = Duration::from_secs(60);
/// What nothing may outlast: a hang, not a slow machine.
const HANG: Duration = Duration::from_secs(900);

/// The node under test: room for every peer.
struct Hub;

impl MyDHTConf for Hub {
    touch_conf_items!(restartable, TcpTransport);

    fn main_loop_spawn(&self) -> MainLoopSpawn {
        MainLoopSpawn::Caller
    }
    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
    fn constants(&self) -> NodeConstants {
        NodeConstants {
            max_connections: PEERS + 64,
            max_peers: PEERS + 64,
            ..NodeConstants::default()
        }
    }
}

/// The `threaded!` node under test, its loop on a thread of its own.
struct HubThreaded;

impl MyDHTConf for HubThreaded {
    touch_conf_items!(threaded, TcpTransport);

    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
    fn constants(&self) -> NodeConstants {
        Hub.constants()
    }
}

/// The `threaded!` hub's services with a thread of their own, started by
/// the first connection: global service, peer store, peer management.
const HUB_SERVICES: usize = 3;

/// One test at a time: each counts the heap, and holds 2,000 connections.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What the main thread tells the peer threads.
enum Phase {
    /// Touch the hub once from every peer, then report.
    Touch,
    /// Stop every peer.
    Stop,
}

/// A peer thread: makes `n` peers, connects them to `hub`, turns them until
/// told to rest, then waits for the next phase.
fn peer_thread(
    n: usize,
    hub: std::net::SocketAddr,
    hub_id: mydht::PeerId,
    rest: Arc<AtomicBool>,
    phases: mpsc::Receiver<Phase>,
    report: mpsc::Sender<std::result::Result<usize, String>>,
) {
    // The peers are not the node under test.
    exclude_this_thread();
    let mut nodes: Vec<(MainLoopDriver<Spoke>, NodeHandle<Spoke>)> = (0..n)
        .map(|_| mydht::start_driven(Spoke).expect("peer node"))
        .collect();
    let turn_all = |nodes: &mut Vec<(MainLoopDriver<Spoke>, NodeHandle<Spoke>)>| {
        for (driver, _) in nodes.iter_mut() {
            driver.run_once(Duration::ZERO).expect("peer turn");
        }
    };
    // Connect, `IN_FLIGHT` at a time, while connections keep coming.
    let start = Instant::now();
    let mut progress = start;
    let mut next = 0;
    let mut pending = Vec::new();
    let mut connected = 0;
    while connected < n {
        assert!(
            progress.elapsed() < STALL,
            "no peer connected in {STALL:?}: {connected} of {n} after {:?}",
            start.elapsed()
        );
        let before = connected;
        while pending.len() < IN_FLIGHT && next < n {
            let f = nodes[next].1.connect_future(hub, TIMEOUT).expect("connect");
            pending.push(f);
            next += 1;
        }
        turn_all(&mut nodes);
        pending.retain_mut(|f| match poll_once(f) {
            Poll::Ready(res) => {
                res.expect("peer connected");
                connected += 1;
                false
            }
            Poll::Pending => true,
        });
        if connected > before {
            progress = Instant::now();
        }
    }
    report.send(Ok(connected)).expect("report");
    // Until the hub has seen every peer online (their admissions written).
    while !rest.load(Ordering::Acquire) {
        turn_all(&mut nodes);
    }
    for phase in phases {
        match phase {
            Phase::Touch => {
                let mut queries: Vec<_> = nodes
                    .iter()
                    .map(|(_, h)| h.query_future(Touch(hub_id), 2, TIMEOUT).expect("touch"))
                    .collect();
                let mut answered = 0;
                let mut outcome = Ok(0);
                while !queries.is_empty() {
                    turn_all(&mut nodes);
                    queries.retain_mut(|q| match poll_once(q) {
                        Poll::Ready(Ok(replies)) => {
                            if replies.contains(&Touched(hub_id)) {
                                answered += 1;
                            } else if outcome.is_ok() {
                                outcome = Err(format!("no reply from the hub: {replies:?}"));
                            }
                            false
                        }
                        Poll::Ready(Err(e)) => {
                            outcome = Err(format!("touch failed: {e}"));
                            false
                        }
                        Poll::Pending => true,
                    });
                }
                report.send(outcome.map(|_| answered)).expect("report");
            }
            Phase::Stop => break,
        }
    }
    for (mut driver, handle) in nodes {
        handle.stop().expect("stop asked");
        while driver.run_once(Duration::ZERO).expect("turn") {}
    }
}

/// What a run of the scenario measured.
struct Held {
    /// Heap per idle connection, and by size class.
    per_conn: isize,
    breakdown: String,
    /// Peers whose touch the hub answered.
    answered: usize,
}

/// Connects every peer to `hub`, measures the heap counted since `base`
/// once they are idle (after `idle`, which waits for what the profile does
/// when idle), then touches the hub from every peer.
fn scenario<C>(hub: &NodeHandle<C>, base: &Heap, idle: impl FnOnce()) -> Held
where
    C: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
{
    let started = Instant::now();
    let hub_addr: std::net::SocketAddr = hub.local_peer().get_address().parse().expect("address");
    let hub_id = *hub.local_peer().get_id();

    let rest = Arc::new(AtomicBool::new(false));
    let (report_tx, report_rx) = mpsc::channel();
    let mut phases = Vec::new();
    let mut threads = Vec::new();
    for _ in 0..PEER_THREADS {
        let n = PEERS / PEER_THREADS;
        let (phase_tx, phase_rx) = mpsc::channel();
        phases.push(phase_tx);
        let (rest, report) = (rest.clone(), report_tx.clone());
        threads.push(thread::spawn(move || {
            peer_thread(n, hub_addr, hub_id, rest, phase_rx, report)
        }));
    }
    let connected: usize = reports(&report_rx, &threads)
        .into_iter()
        .map(|r| r.expect("connected"))
        .sum();
    assert_eq!(connected, PEERS);
    let online = hub
        .wait_peers(PeerCount::AtLeast(PEERS), TIMEOUT)
        .expect("online");
    assert_eq!(online.len(), PEERS);
    rest.store(true, Ordering::Release);
    let connect_time = started.elapsed();
    idle();
    let now = Heap::now();
    let per_conn = (now.live - base.live) / PEERS as isize;
    let breakdown = now.breakdown(base, PEERS);
    eprintln!(
        "{PEERS} idle connections up in {connect_time:?}: {per_conn} bytes of the hub's heap \
         each: {breakdown}"
    );

    for p in &phases {
        p.send(Phase::Touch).expect("touch phase");
    }
    let answered: usize = reports(&report_rx, &threads)
        .into_iter()
        .map(|r| r.expect("answered"))
        .sum();
    for p in &phases {
        p.send(Phase::Stop).expect("stop phase");
    }
    for t in threads {
        t.join().expect("peer thread");
    }
    Held {
        per_conn,
        breakdown,
        answered,
    }
}

#[test]
fn two_thousand_idle_connections() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    raise_open_files();
    // The hub on its own thread: the heap its thread holds is the node's.
    let (hub_tx, hub_rx) = mpsc::channel();
    let hub_stop = Arc::new(AtomicBool::new(false));
    let stop = hub_stop.clone();
    let hub_thread = thread::spawn(move || {
        start_counting(false);
        let (mut driver, handle) = mydht::start_driven(Hub).expect("hub");
        // A few turns: what a started node allocates once.
        for _ in 0..3 {
            driver.run_once(Duration::ZERO).expect("hub turn");
        }
        // SAFETY: a plain syscall.
        let tid = unsafe { libc::gettid() };
        hub_tx
            .send((handle.clone(), Heap::now(), tid))
            .expect("hub handle");
        while !stop.load(Ordering::Acquire) {
            driver
                .run_once(Duration::from_millis(10))
                .expect("hub turn");
        }
        handle.stop().expect("stop asked");
        while driver.run_once(Duration::ZERO).expect("hub turn") {}
    });
    let (hub, base, hub_tid) = hub_rx.recv().expect("hub started");
    let cpu_base = thread_cpu(hub_tid);
    let mut cpu_per_conn = Duration::ZERO;
    let held = scenario(&hub, &base, || {
        cpu_per_conn = thread_cpu(hub_tid).saturating_sub(cpu_base) / PEERS as u32;
        eprintln!("{cpu_per_conn:?} of the hub's CPU time per connection");
    });
    hub_stop.store(true, Ordering::Release);
    hub_thread.join().expect("hub thread");
    assert_eq!(held.answered, PEERS, "every peer got the hub's reply");
    assert!(
        held.per_conn <= BOUND as isize,
        "{} bytes of heap per idle connection, over {BOUND}: {}",
        held.per_conn,
        held.breakdown
    );
    assert!(
        cpu_per_conn <= CPU_BOUND,
        "{cpu_per_conn:?} of the hub's CPU time per connection, over {CPU_BOUND:?}"
    );
}

/// The process's threads now.
fn threads_now() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("procfs")
        .count()
}

#[test]
fn two_thousand_idle_connections_threaded() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    raise_open_files();
    // Every thread's heap but the peers' is the node's (its services run on
    // threads of their own).
    start_counting(true);
    let hub = mydht::start_loop(HubThreaded).expect("hub");
    let base = Heap::now();
    let threads_base = threads_now();
    let mut suspended = (0, 0);
    let mut threads_idle = 0;
    let held = scenario(&hub, &base, || {
        // Every read service gave its thread back once idle; the threads
        // left are the peers', the hub's node-wide services and the reuse
        // pool's idle ones (at most `MAX_IDLE`, gone a few seconds later).
        // A thread that gave its service back may take a moment to exit
        // (the process counts it until it has): both are read until they
        // hold, or at the deadline.
        let deadline = Instant::now() + TIMEOUT;
        loop {
            suspended = ThreadIdle::idle_services();
            threads_idle = threads_now() - threads_base;
            let all_suspended = suspended.0 >= PEERS && suspended.0 == suspended.1;
            let threads_down = threads_idle <= PEER_THREADS + HUB_SERVICES + MAX_IDLE;
            if all_suspended && threads_down || Instant::now() > deadline {
                break;
            }
            thread::yield_now();
        }
        eprintln!(
            "{} of {} read services suspended; {threads_idle} threads more than the started \
             node (the {PEER_THREADS} peer threads, {HUB_SERVICES} services, idle pool threads)",
            suspended.1, suspended.0
        );
    });
    hub.stop().expect("hub stopped");
    stop_counting_whole_process();
    assert_eq!(held.answered, PEERS, "every peer got the hub's reply");
    assert!(
        suspended.0 >= PEERS && suspended.0 == suspended.1,
        "idle read services suspended: {suspended:?}"
    );
    assert!(
        threads_idle <= PEER_THREADS + HUB_SERVICES + MAX_IDLE,
        "{threads_idle} threads for {PEERS} idle connections"
    );
    assert!(
        held.per_conn <= BOUND as isize,
        "{} bytes of heap per idle connection, over {BOUND}: {}",
        held.per_conn,
        held.breakdown
    );
}

/// One report from each peer thread; a peer thread that panicked fails the
/// test with its panic (a stall it saw, for instance) instead of a wait.
fn reports(
    rx: &mpsc::Receiver<std::result::Result<usize, String>>,
    threads: &[thread::JoinHandle<()>],
) -> Vec<std::result::Result<usize, String>> {
    let start = Instant::now();
    let mut got = Vec::new();
    while got.len() < threads.len() {
        assert!(start.elapsed() < HANG, "{} of the reports", got.len());
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(r) => got.push(r),
            Err(_) => assert!(
                !threads.iter().any(thread::JoinHandle::is_finished),
                "a peer thread ended without its report (it panicked: see above)"
            ),
        }
    }
    got
}

/// The CPU time (user and system) a thread of this process has used, from
/// the kernel's count in clock ticks.
fn thread_cpu(tid: libc::pid_t) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).expect("stat");
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm") + 2..]
        .split_whitespace()
        .collect();
    // utime and stime: fields 14 and 15 of stat(5), 12 and 13 here.
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // SAFETY: a plain syscall.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_micros(ticks * 1_000_000 / per_second)
}
