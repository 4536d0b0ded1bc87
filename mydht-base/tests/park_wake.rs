//! No lost wake-up on `ThreadPark`: a waker's `unyield` is a plain load
//! when a notification is pending, and the service thread polls, spins,
//! fences and parks in turn. Thousands of round trips, with the test thread
//! pausing a varying time between them so the service is caught at every
//! stage (running, polling, about to park, parked); each answer is waited
//! for with a timeout, never a sleep: a lost wake-up fails the test.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;

use common::{test_dest, Counter, WAIT};
use mydht_base::{
    MpscChannel, Result, Service, SpawnChannel, SpawnHandle, SpawnSend, SpawnUnyield, Spawner,
    SpawnerYield, ThreadPark, YieldReturn,
};

const ROUNDS: u64 = 5_000;

/// A deterministic pause of 0 to ~4,000 spin hints (a few microseconds).
fn pause(state: &mut u64) {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for _ in 0..(*state >> 52) {
        std::hint::spin_loop();
    }
}

/// Each command sent, then waited for: the service empties its channel
/// every time and waits for the next.
#[test]
fn every_command_wakes_the_service() {
    let (mut tx, recv) = MpscChannel::new(4).new_channel().unwrap();
    let (dest, results) = test_dest();
    let mut handle = ThreadPark
        .spawn(Counter::default(), dest, None, recv, 0)
        .unwrap();
    let mut rng = 1;
    let mut total = 0;
    for c in 1..=ROUNDS {
        pause(&mut rng);
        tx.send(c).unwrap();
        handle.unyield().unwrap();
        total += c;
        assert_eq!(results.take(1), vec![total]);
    }
    drop(tx);
    handle.unyield().unwrap();
    let (svc, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert_eq!((svc.total, svc.calls), (total, ROUNDS as usize));
    results.assert_empty();
}

/// Two threads send and wake through weak handles at once.
#[test]
fn concurrent_wakers_lose_nothing() {
    let (tx, recv) = MpscChannel::new(4).new_channel().unwrap();
    let (dest, results) = test_dest();
    let handle = ThreadPark
        .spawn(Counter::default(), dest, None, recv, 0)
        .unwrap();
    let senders: Vec<_> = (0..2u64)
        .map(|seed| {
            let mut tx = tx.clone();
            let mut weak = handle.get_weak_handle().unwrap();
            std::thread::spawn(move || {
                let mut rng = seed + 7;
                for _ in 0..ROUNDS / 2 {
                    pause(&mut rng);
                    tx.send(1).unwrap();
                    weak.unyield().unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    // Each command adds 1: the answers count up to ROUNDS, in order.
    let got = results.take(ROUNDS as usize);
    assert_eq!(got, (1..=ROUNDS).collect::<Vec<_>>());
    for s in senders {
        s.join().unwrap();
    }
    let (svc, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert_eq!(svc.total, ROUNDS);
    results.assert_empty();
}

/// Answers command `n` once a gate, opened by the test, reaches `n`;
/// until then it yields inside `call` (a stream that would block).
struct Gated {
    gate: Arc<AtomicU64>,
    yields: u64,
    /// Told each command the service yields on.
    blocked: SyncSender<u64>,
}

impl Service for Gated {
    type CommandIn = u64;
    type CommandOut = u64;
    fn call<Y: SpawnerYield>(&mut self, n: u64, yld: &mut Y) -> Result<u64> {
        while self.gate.load(Ordering::Relaxed) < n {
            self.yields += 1;
            let _ = self.blocked.try_send(n);
            assert_eq!(yld.spawn_yield(), YieldReturn::Loop);
        }
        Ok(n)
    }
}

/// A yield inside `call` is woken by an `unyield` that follows a plain
/// write (no channel): the service sees the write.
#[test]
fn a_yield_inside_call_sees_what_its_waker_wrote() {
    let gate = Arc::new(AtomicU64::new(0));
    let (mut tx, recv) = MpscChannel::new(4).new_channel().unwrap();
    let (dest, results) = test_dest();
    let (blocked_tx, blocked) = sync_channel(1024);
    let service = Gated {
        gate: gate.clone(),
        yields: 0,
        blocked: blocked_tx,
    };
    let mut handle = ThreadPark.spawn(service, dest, None, recv, 0).unwrap();
    let mut rng = 3;
    for n in 1..=ROUNDS {
        tx.send(n).unwrap();
        handle.unyield().unwrap();
        if n % 2 == 0 {
            // Once the service waits for the gate (reports of earlier
            // rounds skipped).
            while blocked.recv_timeout(WAIT).expect("the service yields") != n {}
        } else {
            // At any stage of the service.
            pause(&mut rng);
        }
        gate.store(n, Ordering::Relaxed);
        handle.unyield().unwrap();
        assert_eq!(results.take(1), vec![n]);
    }
    drop(tx);
    handle.unyield().unwrap();
    let (svc, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert!(
        svc.yields >= ROUNDS / 2,
        "a yield per even command at least"
    );
    results.assert_empty();
}
