//! One million small commands through one service, under the spawners that
//! matter for throughput, against raw `std::sync::mpsc` measured in the same
//! run. Prints this run's medians and their ratios at the end (one table;
//! (b) is also timed alternately with (a) inside each sample, and the
//! median of those per-sample ratios printed).
//!
//! `cargo bench -p mydht-base --bench service -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use mydht_base::service::channel::NoSend;
use mydht_base::workload::{self, Sum};
use mydht_base::{
    Blocker, LocalRcChannel, RestartOrError, SpawnChannel, SpawnHandle, SpawnSend, SpawnUnyield,
    Spawner, TrySendError,
};

const COMMANDS: u64 = 1_000_000;
const CAPACITY: usize = 1024;
const GROUP: &str = "service_1M_commands";

/// (a) the baseline: a raw bounded std channel between two threads.
fn raw_mpsc() -> u64 {
    workload::raw_mpsc(COMMANDS, CAPACITY).unwrap()
}

/// (b) `ThreadPark` + `MpscChannel`: send, then unyield (a syscall only
/// when the service thread is parked).
fn thread_park_mpsc() -> u64 {
    workload::thread_park_mpsc(COMMANDS, CAPACITY).unwrap()
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

/// Samples per case.
const SAMPLES: usize = 10;

fn id(case: &str) -> String {
    format!("{GROUP}/{case}")
}

fn main() {
    let run = ratio::Run::new(SAMPLES);
    let mut c = Criterion::default().configure_from_args();
    let expected = workload::expected_sum(COMMANDS);
    let (a, b) = (id("a_raw_mpsc"), id("b_thread_park_mpsc"));
    {
        let mut g = c.benchmark_group(GROUP);
        g.sample_size(run.samples());
        g.throughput(Throughput::Elements(COMMANDS));
        g.bench_function("a_raw_mpsc", |bn| {
            run.iter(bn, &a, || assert_eq!(black_box(raw_mpsc()), expected))
        });
        // (b), with (a) run after each iteration in the same sample.
        g.bench_function("b_thread_park_mpsc", |bn| {
            run.paired(
                bn,
                (&b, &a),
                || assert_eq!(black_box(thread_park_mpsc()), expected),
                || assert_eq!(black_box(raw_mpsc()), expected),
            )
        });
        g.bench_function("c_restart_local", |bn| {
            run.iter(bn, &id("c_restart_local"), || {
                assert_eq!(black_box(local(RestartOrError)), expected)
            })
        });
        g.bench_function("c_blocker_local", |bn| {
            run.iter(bn, &id("c_blocker_local"), || {
                assert_eq!(black_box(blocker_local()), expected)
            })
        });
        #[cfg(feature = "coroutine")]
        g.bench_function("d_coroutine_local", |bn| {
            run.iter(bn, &id("d_coroutine_local"), || {
                assert_eq!(black_box(local(mydht_base::CoRoutine::new())), expected)
            })
        });
        g.finish();
    }
    c.final_summary();

    run.compare("(b) `ThreadPark` + `MpscChannel` vs (a) raw mpsc", &b, &a);
    let mut locals = vec![
        (
            "(c) `RestartOrError` + `LocalRcChannel`",
            id("c_restart_local"),
        ),
        ("(c) `Blocker` + `LocalRcChannel`", id("c_blocker_local")),
    ];
    if cfg!(feature = "coroutine") {
        locals.push((
            "(d) `CoRoutine` + `LocalRcChannel`",
            id("d_coroutine_local"),
        ));
    }
    for (name, case) in &locals {
        run.compare(&format!("{name} vs (a)"), case, &a);
    }
    for (name, case) in &locals {
        run.compare(&format!("{name} vs (b)"), case, &b);
    }
    run.summary(&format!(
        "{GROUP}, times per iteration ({COMMANDS} commands)"
    ));
}

/// This run's medians and ratios (see the module's docs).
#[path = "support/ratio.rs"]
mod ratio;
