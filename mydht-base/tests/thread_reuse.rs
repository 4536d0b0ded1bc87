//! Thread reuse of the thread spawners: a service thread whose service
//! ended waits idle and the next service runs on it; a panicked one exits;
//! when the last service thread ends, the idle ones exit too, so the
//! process is back to its thread count. One test in this binary: the
//! idle threads are process-wide.

mod common;

use std::time::{Duration, Instant};

use common::{test_dest, Counter, TestDest};
use mydht_base::service::spawn::{idle_service_threads, MAX_IDLE};
use mydht_base::{
    ErrorKind, MpscChannel, Result, Service, SpawnChannel, SpawnHandle, SpawnSend, SpawnUnyield,
    Spawner, SpawnerYield, ThreadBlock, ThreadPark,
};

/// Answers the kernel id of the thread it runs on; panics on 0.
#[derive(Default)]
struct Where;

impl Service for Where {
    type CommandIn = u64;
    type CommandOut = u32;
    fn call<Y: SpawnerYield>(&mut self, cmd: u64, _: &mut Y) -> Result<u32> {
        assert_ne!(cmd, 0, "asked to panic");
        Ok(current_tid())
    }
}

/// The kernel's id of the calling thread (`/proc/thread-self`).
fn current_tid() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    let name = link
        .file_name()
        .expect("tid")
        .to_string_lossy()
        .into_owned();
    name.parse().expect("numeric tid")
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("procfs")
        .count()
}

fn thread_alive(tid: u32) -> bool {
    std::path::Path::new(&format!("/proc/self/task/{tid}")).exists()
}

/// Waits (yielding, with a deadline) until `done` holds; whether it did.
fn settles(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

/// Runs a `Where` on `spawner` for one command; its thread's id and the
/// end as `unwrap_state` gives it.
fn run_once<Sp>(spawner: &mut Sp, cmd: u64) -> (u32, Result<()>)
where
    Sp: Spawner<Where, TestDest<u32>, <MpscChannel as SpawnChannel<u64>>::Recv>,
{
    let (tx, recv) = SpawnChannel::<u64>::new_channel(&mut MpscChannel::new(4)).unwrap();
    let (dest, results) = test_dest();
    let mut handle = spawner.spawn(Where, dest, Some(cmd), recv, 0).unwrap();
    // A panicking service answers nothing.
    let tid = if cmd == 0 { 0 } else { results.take(1)[0] };
    drop(tx);
    handle.unyield().unwrap();
    let end = handle.unwrap_state().and_then(|(_, _, _, end)| end);
    results.assert_empty();
    (tid, end)
}

#[test]
fn an_ended_service_thread_runs_the_next_service() {
    let t0 = threads();
    assert_eq!(idle_service_threads(), 0);

    // A service that stays running, as a node's long-lived ones do.
    let (mut keep_tx, keep_recv) = MpscChannel::new(4).new_channel().unwrap();
    let (keep_dest, kept) = test_dest();
    let mut keeper = ThreadPark
        .spawn(Counter::default(), keep_dest, None, keep_recv, 0)
        .unwrap();

    // A first service ends: its thread waits idle.
    let (first, end) = run_once(&mut ThreadPark, 1);
    end.unwrap();
    assert!(settles(|| idle_service_threads() == 1), "thread kept idle");
    assert!(thread_alive(first));

    // The next services, of either thread spawner, run on that thread.
    for i in 0..20 {
        let (tid, end) = if i % 2 == 0 {
            run_once(&mut ThreadBlock, 1)
        } else {
            run_once(&mut ThreadPark, 1)
        };
        end.unwrap();
        assert_eq!(tid, first, "service {i} on the idle thread");
        assert!(settles(|| idle_service_threads() == 1));
    }

    // A panicked service's thread exits instead of waiting.
    let (_, end) = run_once(&mut ThreadPark, 0);
    assert_eq!(end.unwrap_err().kind(), ErrorKind::ServiceDied);
    assert!(settles(|| !thread_alive(first)), "panicked thread exits");
    assert_eq!(idle_service_threads(), 0);

    // Several at once: each its own thread, all kept idle after.
    let many: Vec<_> = (0..4)
        .map(|_| {
            let (tx, recv) = MpscChannel::new(4).new_channel().unwrap();
            let (dest, results) = test_dest();
            let h = ThreadPark.spawn(Where, dest, Some(1), recv, 0).unwrap();
            (tx, h, results)
        })
        .collect();
    let mut tids: Vec<u32> = many.iter().map(|m| m.2.take(1)[0]).collect();
    tids.sort_unstable();
    tids.dedup();
    assert_eq!(tids.len(), 4, "running services never share a thread");
    for (tx, mut h, _) in many {
        drop(tx);
        h.unyield().unwrap();
        h.unwrap_state().unwrap().3.unwrap();
    }
    assert!(settles(|| idle_service_threads() == 4));
    assert!(idle_service_threads() <= MAX_IDLE);

    // The keeper still works; once it ends, no service thread runs and the
    // idle ones exit: the process is back to its thread count.
    keep_tx.send(5).unwrap();
    keeper.unyield().unwrap();
    assert_eq!(kept.take(1), vec![5]);
    drop(keep_tx);
    keeper.unyield().unwrap();
    keeper.unwrap_state().unwrap().3.unwrap();
    assert!(settles(|| idle_service_threads() == 0), "idle threads told");
    assert!(settles(|| threads() == t0), "no thread left: {}", threads());
}
