//! What waking a parked thread costs on this machine: round trips between
//! two threads, the waiting side spinning or parked, printed side by side
//! from the same run (the modes alternate round by round).
//!
//! - `bare`: two plain threads and an atomic counter, each waiting for its
//!   turn by spinning (`spin_loop`) or by `thread::park` (the other writes
//!   the counter, then `unpark`s it): unpinned, both pinned to CPU 0 (a
//!   wake is a context switch on the same CPU), and pinned to CPUs 0 and 1
//!   (every wake crosses to the other CPU, idle by then). Unpinned, also
//!   with each waiting in `read(2)` on its own pipe, the other writing a
//!   byte (a "sync" wake-up on Linux, which the scheduler may run on the
//!   waker's CPU), back to back and 50 µs apart (the caller busy
//!   meanwhile); each case says how many round trips ran both threads on
//!   one CPU.
//! - `service`: the same round trip through a `ThreadPark` service and its
//!   `MpscChannel` (send, then `unyield`), the reply written to an atomic
//!   by the service's destination; the caller spins or parks for it. The
//!   round trips are 50 µs apart (the caller busy meanwhile), as a mydht
//!   service's commands come one request apart: the service waits for
//!   each as it does there.
//!
//! The wake cost is half the difference between a round trip whose two
//! waiters park and one whose two waiters spin (two wakes per round trip).
//!
//! `cargo bench -p mydht-base --bench wake [-- --rounds N --trips N]`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use mydht_base::{
    MpscChannel, Result, Service, SpawnChannel, SpawnHandle, SpawnSend, SpawnUnyield, Spawner,
    SpawnerYield, ThreadPark, TrySendError,
};

/// The counter value that ends a bare responder.
const STOP: u64 = u64::MAX;
/// Service commands that pin the service's thread to CPU 1, and unpin it
/// (it goes back to the reuse pool).
const PIN_1: u64 = u64::MAX - 1;
const UNPIN: u64 = u64::MAX - 2;

/// The time between two round trips through the service (the caller
/// busy meanwhile): about a mydht request's round trip (30–80 µs), longer
/// than the service's polls, so that it parks unless it spins.
const GAP: Duration = Duration::from_micros(50);

/// How a waiter waits for its turn.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// `spin_loop` (a `pause` on x86) between looks.
    Spin,
    /// Plain loads, no `pause`.
    Busy,
    /// `yield_now` (`sched_yield`) between looks.
    Yield,
    Park,
    /// Blocked in `read(2)` on its own pipe, the other side writing a
    /// byte to it: on Linux a "sync" wake-up (`WF_SYNC`, the waker about
    /// to sleep), which the scheduler may run on the waker's CPU.
    Pipe,
}

/// A pipe one thread waits in (Linux only).
#[derive(Clone, Copy)]
struct Pipe {
    read: i32,
    write: i32,
}

impl Pipe {
    #[cfg(target_os = "linux")]
    fn new() -> Pipe {
        let mut fds = [0i32; 2];
        // SAFETY: pipe2 writes two descriptors into `fds`.
        let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
        assert_eq!(r, 0, "pipe2");
        Pipe {
            read: fds[0],
            write: fds[1],
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn new() -> Pipe {
        unreachable!("the pipe cases run on Linux only")
    }

    /// Wakes the thread that waits in this pipe.
    fn wake(self) {
        // SAFETY: writes one byte from a live buffer to a descriptor this
        // bench owns until `close`.
        let _ = unsafe { libc::write(self.write, [1u8].as_ptr().cast(), 1) };
    }

    /// Waits for a byte (or more) in the pipe.
    fn wait(self) {
        let mut buf = [0u8; 64];
        // SAFETY: reads into a live buffer of its length.
        let _ = unsafe { libc::read(self.read, buf.as_mut_ptr().cast(), buf.len()) };
    }

    fn close(self) {
        // SAFETY: both descriptors are this bench's, closed once.
        unsafe {
            libc::close(self.read);
            libc::close(self.write);
        }
    }
}

/// The CPU this thread runs on (Linux; 0 elsewhere).
fn cpu_now() -> i32 {
    #[cfg(target_os = "linux")]
    // SAFETY: sched_getcpu takes no argument and touches no memory.
    return unsafe { libc::sched_getcpu() };
    #[cfg(not(target_os = "linux"))]
    0
}

/// Where the two threads run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Any,
    SameCpu,
    TwoCpus,
    /// CPUs 0 and 1, CPU 1 kept busy by a third thread that calls
    /// `yield_now` in a loop.
    TwoCpusYielder,
}

/// Pins the calling thread to `cpu` (`None`: every CPU); false when the
/// system refuses or cannot.
#[cfg(target_os = "linux")]
fn pin(cpu: Option<usize>) -> bool {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes inside
    // it (below CPU_SETSIZE); sched_setaffinity reads it, for this thread
    // (0), and keeps the CPUs of the set that exist.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        // Not `available_parallelism`: it counts this thread's CPUs, one
        // while it is pinned.
        for c in 0..libc::CPU_SETSIZE as usize {
            if cpu.is_none_or(|p| p == c) {
                libc::CPU_SET(c, &mut set);
            }
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn pin(_: Option<usize>) -> bool {
    false
}

/// Waits until `turn` holds `want` (or [`STOP`]); false on [`STOP`].
fn wait_for(turn: &AtomicU64, want: u64, how: Wait) -> bool {
    wait_in(turn, want, how, None)
}

/// [`wait_for`], in `pipe` for [`Wait::Pipe`].
fn wait_in(turn: &AtomicU64, want: u64, how: Wait, pipe: Option<Pipe>) -> bool {
    loop {
        let now = turn.load(Ordering::Acquire);
        if now == want {
            return true;
        }
        if now == STOP {
            return false;
        }
        match how {
            Wait::Spin => std::hint::spin_loop(),
            Wait::Busy => {}
            Wait::Yield => thread::yield_now(),
            Wait::Park => thread::park(),
            Wait::Pipe => pipe.expect("a pipe to wait in").wait(),
        }
    }
}

/// `trips` round trips between this thread and a plain responder thread,
/// `gap` apart (this thread busy meanwhile), and how many of them ran the
/// responder on this thread's CPU.
fn bare(trips: usize, how: Wait, place: Place, gap: Duration) -> (Vec<Duration>, usize) {
    let turn = Arc::new(AtomicU64::new(0));
    let keeper = (place == Place::TwoCpusYielder).then(|| {
        let turn = turn.clone();
        thread::spawn(move || {
            pin(Some(1));
            while turn.load(Ordering::Relaxed) != STOP {
                thread::yield_now();
            }
        })
    });
    let pipes = (how == Wait::Pipe).then(|| (Pipe::new(), Pipe::new()));
    let (mine, their_pipe) = (pipes.map(|p| p.0), pipes.map(|p| p.1));
    // The responder's CPU at each of its turns.
    let at = Arc::new(AtomicU64::new(0));
    let me = thread::current();
    let theirs = turn.clone();
    let their_at = at.clone();
    let responder = thread::spawn(move || {
        if place != Place::Any {
            pin(Some(usize::from(place != Place::SameCpu)));
        }
        let mut k = 1;
        while wait_in(&theirs, k, how, their_pipe) {
            their_at.store(cpu_now() as u64, Ordering::Relaxed);
            theirs.store(k + 1, Ordering::Release);
            match mine {
                Some(p) => p.wake(),
                None => me.unpark(),
            }
            k += 2;
        }
    });
    if place != Place::Any {
        pin(Some(0));
    }
    let other = responder.thread().clone();
    let wake_other = || match their_pipe {
        Some(p) => p.wake(),
        None => other.unpark(),
    };
    let mut rtt = Vec::with_capacity(trips);
    let mut same = 0;
    for k in (1..).step_by(2).take(trips) {
        let idle = Instant::now() + gap;
        while Instant::now() < idle {}
        let t = Instant::now();
        turn.store(k, Ordering::Release);
        wake_other();
        wait_in(&turn, k + 1, how, mine);
        rtt.push(t.elapsed());
        same += usize::from(at.load(Ordering::Relaxed) == cpu_now() as u64);
    }
    turn.store(STOP, Ordering::Release);
    wake_other();
    responder.join().expect("responder");
    if let Some(k) = keeper {
        k.join().expect("keeper");
    }
    if let Some((a, b)) = pipes {
        a.close();
        b.close();
    }
    pin(None);
    (rtt, same)
}

/// Gives back its commands; pins or unpins its thread on [`PIN_1`] and
/// [`UNPIN`].
struct Pong;

impl Service for Pong {
    type CommandIn = u64;
    type CommandOut = u64;
    fn call<Y: SpawnerYield>(&mut self, cmd: u64, _: &mut Y) -> Result<u64> {
        match cmd {
            PIN_1 => {
                pin(Some(1));
            }
            UNPIN => {
                pin(None);
            }
            _ => {}
        }
        Ok(cmd)
    }
}

/// The service's destination: the reply in an atomic, the caller unparked
/// when it parks.
struct Back {
    reply: Arc<AtomicU64>,
    /// The service's CPU at its last reply.
    cpu: Arc<AtomicU64>,
    caller: Thread,
    how: Wait,
}

impl SpawnSend<u64> for Back {
    fn send(&mut self, cmd: u64) -> Result<()> {
        self.cpu.store(cpu_now() as u64, Ordering::Relaxed);
        self.reply.store(cmd, Ordering::Release);
        if self.how == Wait::Park {
            self.caller.unpark();
        }
        Ok(())
    }

    fn try_send(&mut self, cmd: u64) -> std::result::Result<(), TrySendError<u64>> {
        self.send(cmd).map_err(|_| TrySendError::Closed(cmd))
    }
}

/// One round trip through a service: `cmd` sent, the service woken, its
/// reply waited for.
fn ask(
    tx: &mut impl SpawnSend<u64>,
    h: &mut impl SpawnUnyield,
    reply: &AtomicU64,
    cmd: u64,
    how: Wait,
) {
    tx.send(cmd).expect("send");
    h.unyield().expect("unyield");
    wait_for(reply, cmd, how);
}

/// `trips` round trips through a `ThreadPark` service, [`GAP`] apart.
fn service(trips: usize, how: Wait, place: Place) -> (Vec<Duration>, usize) {
    let reply = Arc::new(AtomicU64::new(STOP - 3));
    let cpu = Arc::new(AtomicU64::new(u64::MAX));
    let back = Back {
        reply: reply.clone(),
        cpu: cpu.clone(),
        caller: thread::current(),
        how,
    };
    let (mut tx, rx) = MpscChannel::new(16).new_channel().expect("channel");
    let mut h = ThreadPark.spawn(Pong, back, None, rx, 0).expect("spawn");
    let mut ask = |cmd: u64| ask(&mut tx, &mut h, &reply, cmd, how);
    if place == Place::TwoCpus {
        pin(Some(0));
        ask(PIN_1);
    }
    let mut rtt = Vec::with_capacity(trips);
    let mut same = 0;
    for k in 0..trips as u64 {
        // The service's polls end long before: it parks, or spins.
        let idle = Instant::now() + GAP;
        while Instant::now() < idle {}
        let t = Instant::now();
        ask(k);
        rtt.push(t.elapsed());
        same += usize::from(cpu.load(Ordering::Relaxed) == cpu_now() as u64);
    }
    if place == Place::TwoCpus {
        ask(UNPIN);
        pin(None);
    }
    drop(tx);
    h.unwrap_state()
        .expect("service state")
        .3
        .expect("service end");
    (rtt, same)
}

/// The CPU time of every thread of this process so far, in µs (Linux;
/// zero elsewhere).
fn process_cpu() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum::<u64>()
        / 1000
}

/// The CPU a `ThreadPark` service takes once its commands stop: `trips`
/// round trips [`GAP`] apart, then the process's CPU over `idle` with
/// this thread asleep.
fn idle_cpu(trips: usize, idle: Duration) -> u64 {
    let reply = Arc::new(AtomicU64::new(STOP - 3));
    let back = Back {
        reply: reply.clone(),
        cpu: Arc::new(AtomicU64::new(u64::MAX)),
        caller: thread::current(),
        how: Wait::Park,
    };
    let (mut tx, rx) = MpscChannel::new(16).new_channel().expect("channel");
    let mut h = ThreadPark.spawn(Pong, back, None, rx, 0).expect("spawn");
    for k in 0..trips as u64 {
        let idle = Instant::now() + GAP;
        while Instant::now() < idle {}
        ask(&mut tx, &mut h, &reply, k, Wait::Park);
    }
    let before = process_cpu();
    thread::sleep(idle);
    let cpu = process_cpu() - before;
    drop(tx);
    h.unwrap_state()
        .expect("service state")
        .3
        .expect("service end");
    cpu
}

/// One measured case.
struct Case {
    name: &'static str,
    run: fn(usize) -> (Vec<Duration>, usize),
    /// Round trips of every round.
    rtt: Vec<Duration>,
    /// Round trips whose two threads ran on one CPU.
    same: usize,
}

fn quantile(v: &mut [Duration], q: f64) -> f64 {
    v.sort();
    v[((v.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; criterion-style filters are ignored.
    let rounds = arg("--rounds", 5);
    let trips = arg("--trips", 2000);
    let two_cpus = thread::available_parallelism().is_ok_and(|n| n.get() >= 2) && pin(None);
    let mut cases = vec![Case {
        name: "bare, park, any CPU",
        run: |n| bare(n, Wait::Park, Place::Any, Duration::ZERO),
        rtt: Vec::new(),
        same: 0,
    }];
    if cfg!(target_os = "linux") {
        cases.extend([
            Case {
                name: "bare, pipe (sync wake-up), any CPU",
                run: |n| bare(n, Wait::Pipe, Place::Any, Duration::ZERO),
                rtt: Vec::new(),
                same: 0,
            },
            Case {
                name: "bare, park, any CPU, 50 µs apart",
                run: |n| bare(n, Wait::Park, Place::Any, GAP),
                rtt: Vec::new(),
                same: 0,
            },
            Case {
                name: "bare, pipe (sync wake-up), any CPU, 50 µs apart",
                run: |n| bare(n, Wait::Pipe, Place::Any, GAP),
                rtt: Vec::new(),
                same: 0,
            },
        ]);
    }
    if two_cpus {
        cases.extend([
            Case {
                name: "bare, spin, CPUs 0 and 1",
                run: |n| bare(n, Wait::Spin, Place::TwoCpus, Duration::ZERO),
                rtt: Vec::new(),
                same: 0,
            },
            Case {
                name: "bare, busy (no pause), CPUs 0 and 1",
                run: |n| bare(n, Wait::Busy, Place::TwoCpus, Duration::ZERO),
                rtt: Vec::new(),
                same: 0,
            },
            Case {
                name: "bare, park, CPUs 0 and 1",
                run: |n| bare(n, Wait::Park, Place::TwoCpus, Duration::ZERO),
                rtt: Vec::new(),
                same: 0,
            },
            Case {
                name: "bare, park, CPUs 0 and 1, CPU 1 busy yielding",
                run: |n| bare(n, Wait::Park, Place::TwoCpusYielder, Duration::ZERO),
                rtt: Vec::new(),
                same: 0,
            },
            Case {
                name: "bare, yield, CPUs 0 and 1",
                run: |n| bare(n, Wait::Yield, Place::TwoCpus, Duration::ZERO),
                rtt: Vec::new(),
                same: 0,
            },
            Case {
                name: "bare, yield, CPU 0 only",
                run: |n| bare(n, Wait::Yield, Place::SameCpu, Duration::ZERO),
                rtt: Vec::new(),
                same: 0,
            },
            Case {
                name: "bare, park, CPU 0 only",
                run: |n| bare(n, Wait::Park, Place::SameCpu, Duration::ZERO),
                rtt: Vec::new(),
                same: 0,
            },
            Case {
                name: "service, caller spins, CPUs 0 and 1",
                run: |n| service(n, Wait::Spin, Place::TwoCpus),
                rtt: Vec::new(),
                same: 0,
            },
            Case {
                name: "service, caller parks, CPUs 0 and 1",
                run: |n| service(n, Wait::Park, Place::TwoCpus),
                rtt: Vec::new(),
                same: 0,
            },
        ]);
    }
    cases.push(Case {
        name: "service, caller parks, any CPU",
        run: |n| service(n, Wait::Park, Place::Any),
        rtt: Vec::new(),
        same: 0,
    });
    for _ in 0..rounds {
        for c in &mut cases {
            let (r, same) = (c.run)(trips);
            c.rtt.extend(r);
            c.same += same;
        }
    }
    println!("| case | round trip p50 | p99 | the two threads on one CPU |");
    println!("|---|---|---|---|");
    let mut p50 = std::collections::HashMap::new();
    for c in &mut cases {
        let (m, p) = (quantile(&mut c.rtt, 0.5), quantile(&mut c.rtt, 0.99));
        let one = 100.0 * c.same as f64 / c.rtt.len() as f64;
        println!("| {} | {m:.2} µs | {p:.2} µs | {one:.0}% |", c.name);
        p50.insert(c.name, m);
    }
    // Two wakes per round trip when both sides park, none when both spin.
    let wake = |park: &str, spin: &str| {
        let (p, s) = (p50[park], p50[spin]);
        println!(
            "wake of a parked thread, {}: {:.1} µs (round trip parked {p:.2} / spinning {s:.2} µs = {:.1}x)",
            &park[12..],
            (p - s) / 2.0,
            p / s
        );
    };
    println!();
    if two_cpus {
        wake("bare, park, CPUs 0 and 1", "bare, spin, CPUs 0 and 1");
        println!(
            "a switch to a woken thread on the same CPU: {:.1} µs (half the round trip)",
            p50["bare, park, CPU 0 only"] / 2.0
        );
        let (p, s) = (
            p50["service, caller parks, CPUs 0 and 1"],
            p50["service, caller spins, CPUs 0 and 1"],
        );
        println!(
            "`ThreadPark` service round trip across CPUs, caller parked / spinning: {p:.2} / {s:.2} µs = {:.1}x",
            p / s
        );
    }
    let idle = Duration::from_secs(1);
    println!(
        "a `ThreadPark` service after {trips} round trips {GAP:?} apart, then idle: {} µs of CPU in the next {idle:?}",
        idle_cpu(trips, idle)
    );
    println!("({rounds} rounds of {trips} round trips per case, the cases alternating)");
}
