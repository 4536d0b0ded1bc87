//! `MayCoroutine`: services as coroutines on may's worker threads. The
//! counter scenario of the other spawners, a yield inside `call` woken by
//! `unyield`, errors and panics given back, and a thousand services on
//! may's few worker threads. Every wait has a timeout, none is a sleep.
#![cfg(feature = "may-sched")]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use common::{test_dest, Counter, TestDest, WAIT};
use mydht_base::service::channel::{MayChannel, MayRecv, NoRecv};
use mydht_base::service::spawn::{MayCoroutine, MayHandle, MayIdle, MayWeakHandle};
use mydht_base::{
    Error, ErrorKind, ErrorLevel, MpscChannel, Result, Service, SpawnChannel, SpawnHandle,
    SpawnRecv, SpawnSend, SpawnUnyield, Spawner, SpawnerYield, YieldReturn,
};

/// The tests that keep may's few worker threads busy for seconds (a
/// thousand services; twenty thousand spawns) run one at a time: on a
/// loaded machine one starved the other's coroutines past its timeout.
static MAY_WORKERS: Mutex<()> = Mutex::new(());

fn may_workers_alone() -> MutexGuard<'static, ()> {
    MAY_WORKERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The handle of a may service crosses threads.
#[test]
fn the_handles_are_send() {
    fn send<T: Send>() {}
    send::<MayHandle<Counter, TestDest<u64>, MayRecv<u64>>>();
    send::<MayWeakHandle>();
}

fn may() -> MayCoroutine {
    // SAFETY: the test services touch no thread-local storage and use
    // little stack.
    unsafe { MayCoroutine::new() }
}

/// Commands in order, `nb_loop` respected, spawned again on the state given
/// back, woken on new input, ended by a closed channel.
fn counter_scenario<Ch: SpawnChannel<u64>>(mut ch: Ch)
where
    Ch::Recv: Send + 'static,
{
    let (mut tx, recv) = ch.new_channel().unwrap();
    let (dest, results) = test_dest();
    for c in 1..=5 {
        tx.send(c).unwrap();
    }
    let handle = may()
        .spawn(Counter::default(), dest, Some(10), recv, 4)
        .unwrap();
    let (svc, dest, recv, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert_eq!(results.take(4), vec![10, 11, 13, 16]);
    assert_eq!((svc.total, svc.calls), (16, 4));

    let mut handle = may().spawn(svc, dest, None, recv, 0).unwrap();
    assert_eq!(results.take(2), vec![20, 25]);
    assert!(!handle.is_finished());
    // Idle (parked) now: a new command needs an unyield.
    tx.send(6).unwrap();
    handle.unyield().unwrap();
    assert_eq!(results.take(1), vec![31]);

    drop(tx);
    handle.unyield().unwrap();
    let (svc, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert_eq!((svc.total, svc.calls), (31, 7));
    results.assert_empty();
}

#[test]
fn counter_on_may_with_a_std_channel() {
    counter_scenario(MpscChannel::new(8));
}

#[test]
fn counter_on_may_with_a_may_channel() {
    counter_scenario(MayChannel::new(8));
}

/// Answers command `n` once the gate reaches `n`, yielding inside `call`
/// until then; reports each yield.
struct Gated {
    gate: Arc<AtomicU64>,
    yields: u64,
    blocked: SyncSender<u64>,
}

impl Service for Gated {
    type CommandIn = u64;
    type CommandOut = u64;
    fn call<Y: SpawnerYield>(&mut self, n: u64, yld: &mut Y) -> Result<u64> {
        while self.gate.load(Ordering::Acquire) < n {
            self.yields += 1;
            let _ = self.blocked.try_send(n);
            if yld.spawn_yield() == YieldReturn::Return {
                return Err(Error::yielded());
            }
        }
        Ok(n)
    }
}

/// A yield inside `call` parks the coroutine; an unyield from a weak handle
/// on another thread wakes it, and it sees what its waker wrote.
#[test]
fn a_yield_in_call_parks_and_unyield_wakes_it() {
    const ROUNDS: u64 = 200;
    let gate = Arc::new(AtomicU64::new(0));
    let (mut tx, recv) = MayChannel::new(4).new_channel().unwrap();
    let (dest, results) = test_dest();
    let (blocked_tx, blocked) = sync_channel(1024);
    let service = Gated {
        gate: gate.clone(),
        yields: 0,
        blocked: blocked_tx,
    };
    let mut handle = may().spawn(service, dest, None, recv, 0).unwrap();
    // The waker opens the gate to each value it is given, from its thread.
    let (open, to_open) = sync_channel::<u64>(1);
    let mut weak = handle.get_weak_handle().unwrap();
    let waker = std::thread::spawn(move || {
        for n in to_open {
            gate.store(n, Ordering::Release);
            weak.unyield().unwrap();
        }
    });
    for n in 1..=ROUNDS {
        tx.send(n).unwrap();
        handle.unyield().unwrap();
        // The service is waiting for its gate (reports of earlier rounds
        // are skipped).
        while blocked.recv_timeout(WAIT).expect("the service yields") != n {}
        open.send(n).unwrap();
        assert_eq!(results.take(1), vec![n]);
    }
    drop(open);
    waker.join().unwrap();
    drop(tx);
    handle.unyield().unwrap();
    let (svc, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert!(svc.yields >= ROUNDS, "one yield per command at least");
    results.assert_empty();
}

/// Fails on command 0 (ShutDown), skips command 1 (Ignore), panics on 2,
/// answers the others.
struct Picky;

impl Service for Picky {
    type CommandIn = u64;
    type CommandOut = u64;
    fn call<Y: SpawnerYield>(&mut self, n: u64, _: &mut Y) -> Result<u64> {
        match n {
            0 => Err(Error::new(ErrorKind::Decode, ErrorLevel::ShutDown, "zero")),
            1 => Err(Error::new(ErrorKind::Decode, ErrorLevel::Ignore, "one")),
            2 => panic!("two"),
            n => Ok(n),
        }
    }
}

#[test]
fn errors_and_panics_come_back() {
    // An Ignore-level error skips its command; a ShutDown one ends the loop
    // and is its end result.
    let (mut tx, recv) = MayChannel::new(8).new_channel().unwrap();
    let (dest, results) = test_dest();
    for c in [1, 5, 0, 7] {
        tx.send(c).unwrap();
    }
    let mut handle = may().spawn(Picky, dest, None, recv, 0).unwrap();
    handle.unyield().unwrap();
    assert_eq!(results.take(1), vec![5]);
    let (_, _, mut recv, end) = handle.unwrap_state().unwrap();
    let e = end.unwrap_err();
    assert_eq!(
        (e.kind(), e.level()),
        (ErrorKind::Decode, ErrorLevel::ShutDown)
    );
    // The command after the error is still queued.
    assert_eq!(recv.recv().unwrap(), Some(7));
    results.assert_empty();

    // A panic in the service is ServiceDied.
    let (dest, _results) = test_dest();
    let handle = may().spawn(Picky, dest, Some(2), recv, 0).unwrap();
    let e = handle.unwrap_state().err().expect("the service panicked");
    assert_eq!(e.kind(), ErrorKind::ServiceDied);
}

/// The process's thread count, from the kernel.
#[cfg(target_os = "linux")]
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("Threads: in /proc/self/status")
}

/// A thousand services, each a parked coroutine between commands, on
/// may's few worker threads: each answers its commands to one shared
/// destination (a `MayChannel`, so a full one parks the coroutine).
#[test]
fn a_thousand_services_on_mays_workers() {
    let _alone = may_workers_alone();
    const SERVICES: u64 = 1_000;
    const COMMANDS: u64 = 3;
    // may starts all its worker threads with its scheduler, at the first
    // spawn of the process: count the threads once it runs.
    let (dest, _results) = test_dest();
    let warm_up = may().spawn(Counter::default(), dest, Some(1), NoRecv, 0);
    warm_up.unwrap().unwrap_state().unwrap().3.unwrap();
    #[cfg(target_os = "linux")]
    let threads_before = threads();
    let (dest, mut results) =
        SpawnChannel::<(u64, u64)>::new_channel(&mut MayChannel::new(256)).unwrap();
    /// Tags each total with its service's id.
    struct Tagged(u64, Counter);
    impl Service for Tagged {
        type CommandIn = u64;
        type CommandOut = (u64, u64);
        fn call<Y: SpawnerYield>(&mut self, c: u64, y: &mut Y) -> Result<(u64, u64)> {
            Ok((self.0, self.1.call(c, y)?))
        }
    }
    let mut services: Vec<_> = (0..SERVICES)
        .map(|id| {
            let (tx, recv) = MayChannel::new(4).new_channel().unwrap();
            let handle = may()
                .spawn(Tagged(id, Counter::default()), dest.clone(), None, recv, 0)
                .unwrap();
            (tx, handle)
        })
        .collect();
    drop(dest);
    #[cfg(target_os = "linux")]
    assert!(
        // Other tests of this binary may start a few threads meanwhile.
        threads() < threads_before + 16,
        "{SERVICES} services took {} threads",
        threads() - threads_before
    );
    for c in 1..=COMMANDS {
        for (tx, handle) in services.iter_mut() {
            tx.send(c).unwrap();
            handle.unyield().unwrap();
        }
    }
    // Every service answers 1, 3, 6, in order.
    let mut answered = vec![0u64; SERVICES as usize];
    let start = Instant::now();
    let mut got = 0;
    while got < SERVICES * COMMANDS {
        assert!(start.elapsed() < WAIT, "{got} results only");
        if let Some((id, total)) = results.recv_wait().unwrap() {
            let k = &mut answered[id as usize];
            *k += 1;
            assert_eq!(total, *k * (*k + 1) / 2, "service {id}, answer {k}");
            got += 1;
        }
    }
    assert!(answered.iter().all(|&k| k == COMMANDS));
    for (tx, handle) in services {
        drop(tx);
        let (svc, _, _, end) = handle.unwrap_state().unwrap();
        end.unwrap();
        assert_eq!((svc.1.total, svc.1.calls), (6, 3));
    }
}

/// Answers, from inside its coroutine, how many bytes of stack lie below
/// one of its locals: from the local down to the bottom of the mapping
/// that holds it, which must sit right on a guard page (no access).
#[cfg(target_os = "linux")]
struct StackRoom;

#[cfg(target_os = "linux")]
impl Service for StackRoom {
    type CommandIn = ();
    type CommandOut = usize;
    fn call<Y: SpawnerYield>(&mut self, _: (), _: &mut Y) -> Result<usize> {
        let marker = 0u8;
        let here = std::hint::black_box(&marker) as *const u8 as usize;
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let ranges: Vec<(usize, usize, bool)> = maps
            .lines()
            .map(|l| {
                let mut f = l.split_whitespace();
                let (lo, hi) = f.next().unwrap().split_once('-').unwrap();
                let lo = usize::from_str_radix(lo, 16).unwrap();
                let hi = usize::from_str_radix(hi, 16).unwrap();
                (lo, hi, f.next().unwrap().starts_with("---"))
            })
            .collect();
        let at = ranges
            .iter()
            .position(|&(lo, hi, _)| lo <= here && here < hi)
            .expect("the local is mapped");
        let bottom = ranges[at].0;
        assert!(
            at > 0 && ranges[at - 1].1 == bottom && ranges[at - 1].2,
            "no guard page right under the stack"
        );
        Ok(here - bottom)
    }
}

/// `with_stack_size` takes bytes: the coroutine's stack under a local of
/// its service is the size asked less what the frames above it use (a few
/// KiB), not eight times it (may counts words).
#[cfg(target_os = "linux")]
#[test]
fn the_stack_is_the_size_asked_in_bytes() {
    // The frames of the coroutine's start, the loop and the call above the
    // local, in a debug build.
    const FRAMES: usize = 24 * 1024;
    for asked in [64 * 1024, 256 * 1024] {
        let (dest, results) = test_dest();
        // SAFETY: `StackRoom` keeps no thread-local state and uses a few
        // KiB of stack.
        let spawner = unsafe { MayCoroutine::with_stack_size(asked) };
        let handle = { spawner }
            .spawn(StackRoom, dest, Some(()), NoRecv, 1)
            .unwrap();
        handle.unwrap_state().unwrap().3.unwrap();
        let room = results.take(1)[0];
        assert!(
            room <= asked && room > asked - FRAMES,
            "asked {asked} bytes of stack, {room} below the local"
        );
    }
}

/// Spawns a one-command service with nothing queued, so that its coroutine
/// parks at once, and gives it a command right away, racing that park;
/// `ROUNDS` times, each service joined and its handle dropped before the
/// next. Every command must be run.
fn spawned_empty_then_given_a_command<Sp>(mut spawner: Sp)
where
    Sp: Spawner<Counter, TestDest<u64>, MayRecv<u64>>,
{
    const ROUNDS: u64 = 20_000;
    let _alone = may_workers_alone();
    for round in 1..=ROUNDS {
        let (mut tx, recv) = MayChannel::new(1).new_channel().unwrap();
        let (dest, results) = test_dest();
        let mut handle = spawner
            .spawn(Counter::default(), dest, None, recv, 1)
            .unwrap();
        tx.send(round).unwrap();
        handle.unyield().unwrap();
        assert_eq!(results.take(1), vec![round], "round {round}");
        let (svc, _, _, end) = handle.unwrap_state().unwrap();
        end.unwrap();
        assert_eq!(svc.calls, 1, "round {round}");
    }
}

/// may runs a coroutine woken while it parks at once, inside the park's
/// bookkeeping; a coroutine that ended there, its owner's handles already
/// dropped, left that worker thread spinning for ever, and every coroutine
/// queued on it never ran. Before the fix (the spawner's coroutines yield
/// once before they end) this failed in each of 4 runs.
#[test]
fn a_coroutine_that_ends_right_after_its_wake_up_frees_its_worker() {
    spawned_empty_then_given_a_command(may());
}

/// The same race for `MayIdle`, the spawner of the `may_blocking!`
/// profile's read and write services.
#[test]
fn an_idle_spawners_coroutine_that_ends_right_after_its_wake_up_frees_its_worker() {
    // SAFETY: as `may()`.
    spawned_empty_then_given_a_command(unsafe { MayIdle::new() });
}
