//! One million small commands through one service, under the spawners that
//! matter for throughput, against raw `std::sync::mpsc` measured in the same
//! run. Prints the medians and the ratios to the baseline at the end.
//!
//! `cargo bench -p mydht-base --bench service -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use criterion::{Criterion, Throughput};
use mydht_base::service::channel::NoSend;
use mydht_base::{
    Blocker, LocalRcChannel, MpscChannel, RestartOrError, Result, Service, ServiceRestartable,
    SpawnChannel, SpawnHandle, SpawnSend, SpawnUnyield, Spawner, SpawnerYield, ThreadPark,
    TrySendError,
};

const COMMANDS: u64 = 1_000_000;
const CAPACITY: usize = 1024;
const GROUP: &str = "service_1M_commands";

/// The smallest useful service: adds its commands up.
#[derive(Default)]
struct Sum(u64);

impl Service for Sum {
    type CommandIn = u64;
    type CommandOut = ();
    fn call<Y: SpawnerYield>(&mut self, cmd: u64, _: &mut Y) -> Result<()> {
        self.0 = self.0.wrapping_add(cmd);
        Ok(())
    }
}

impl ServiceRestartable for Sum {}

/// (a) the baseline: a raw bounded std channel between two threads.
fn raw_mpsc() -> u64 {
    let (tx, rx) = mpsc::sync_channel::<u64>(CAPACITY);
    let consumer = thread::spawn(move || rx.iter().fold(0u64, |s, c| s.wrapping_add(c)));
    for c in 0..COMMANDS {
        tx.send(c).unwrap();
    }
    drop(tx);
    consumer.join().unwrap()
}

/// (b) `ThreadPark` + `MpscChannel`: send, then unyield (a syscall only
/// when the service thread is parked).
fn thread_park_mpsc() -> u64 {
    let (mut tx, rx) = MpscChannel::new(CAPACITY).new_channel().unwrap();
    let mut handle = ThreadPark
        .spawn(Sum::default(), NoSend, None, rx, 0)
        .unwrap();
    for c in 0..COMMANDS {
        tx.send(c).unwrap();
        handle.unyield().unwrap();
    }
    drop(tx);
    handle.unyield().unwrap();
    handle.unwrap_state().unwrap().0 .0
}

/// (c) and (d): a same-thread service fed through `LocalRcChannel`, woken
/// (restarted or resumed) each time the queue is full.
fn local<Sp>(mut sp: Sp) -> u64
where
    Sp: Spawner<Sum, NoSend, mydht_base::service::channel::LocalRecv<u64>>,
{
    let (mut tx, rx) = LocalRcChannel::new(CAPACITY).new_channel().unwrap();
    let mut handle = sp.spawn(Sum::default(), NoSend, None, rx, 0).unwrap();
    let mut c = 0;
    while c < COMMANDS {
        match tx.try_send(c) {
            Ok(()) => c += 1,
            Err(TrySendError::Full(_)) => handle.unyield().unwrap(),
            Err(TrySendError::Closed(_)) => unreachable!("service gone"),
        }
    }
    drop(tx);
    handle.unyield().unwrap();
    handle.unwrap_state().unwrap().0 .0
}

/// (c') `Blocker`: spawned again on each full queue, it drains it inline.
fn blocker_local() -> u64 {
    let (mut tx, rx) = LocalRcChannel::new(CAPACITY).new_channel().unwrap();
    let mut state = (Sum::default(), NoSend, rx);
    let mut c = 0;
    while c < COMMANDS {
        match tx.try_send(c) {
            Ok(()) => c += 1,
            Err(TrySendError::Full(_)) => {
                let h = Blocker.spawn(state.0, state.1, None, state.2, 0).unwrap();
                let (s, d, r, _) = h.unwrap_state().unwrap();
                state = (s, d, r);
            }
            Err(TrySendError::Closed(_)) => unreachable!("service gone"),
        }
    }
    drop(tx);
    let h = Blocker.spawn(state.0, state.1, None, state.2, 0).unwrap();
    h.unwrap_state().unwrap().0 .0
}

const CASES: &[&str] = &[
    "a_raw_mpsc",
    "b_thread_park_mpsc",
    "c_restart_local",
    "c_blocker_local",
    "d_coroutine_local",
];

fn main() {
    let dir = criterion_dir();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .sample_size(10)
        .configure_from_args();
    let expected = (0..COMMANDS).fold(0u64, |s, c| s.wrapping_add(c));
    {
        let mut g = c.benchmark_group(GROUP);
        g.throughput(Throughput::Elements(COMMANDS));
        g.bench_function(CASES[0], |b| {
            b.iter(|| assert_eq!(black_box(raw_mpsc()), expected))
        });
        g.bench_function(CASES[1], |b| {
            b.iter(|| assert_eq!(black_box(thread_park_mpsc()), expected))
        });
        g.bench_function(CASES[2], |b| {
            b.iter(|| assert_eq!(black_box(local(RestartOrError)), expected))
        });
        g.bench_function(CASES[3], |b| {
            b.iter(|| assert_eq!(black_box(blocker_local()), expected))
        });
        #[cfg(feature = "coroutine")]
        g.bench_function(CASES[4], |b| {
            b.iter(|| assert_eq!(black_box(local(mydht_base::CoRoutine::new())), expected))
        });
        g.finish();
    }
    c.final_summary();
    print_ratios(&dir);
}

/// `target/criterion`, found from this bench binary's path
/// (`target/<profile>/deps/service-…`).
fn criterion_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("criterion")
}

/// The median of one case, in ns per iteration (one million commands).
fn median_ns(dir: &Path, case: &str) -> Option<f64> {
    let path = dir
        .join(GROUP)
        .join(case)
        .join("new")
        .join("estimates.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn print_ratios(dir: &Path) {
    let Some(base) = median_ns(dir, CASES[0]) else {
        return;
    };
    let b = median_ns(dir, CASES[1]);
    println!("\nmedians for {COMMANDS} commands (ns/command), ratio to (a) raw mpsc:");
    for case in CASES {
        if let Some(m) = median_ns(dir, case) {
            let per = m / COMMANDS as f64;
            let speedup_vs_b = b.map(|b| b / m).unwrap_or(f64::NAN);
            println!(
                "  {case:<20} {per:>7.2} ns   x{:.2} of (a)   (b)/this = {speedup_vs_b:.1}",
                m / base
            );
        }
    }
}
