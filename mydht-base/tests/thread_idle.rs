//! `ThreadIdle`: a service parked in a read gives its thread back once it
//! waited idle for its `idle_after`, keeps its progress, and the next
//! wake-up restarts it on a pool thread; while it is suspended it holds no
//! thread; `unwrap_state` gives a suspended service back at once, and a
//! dropped handle drops it. One test in this binary: it counts the
//! process's suspended services and threads.

mod common;
mod thread_idle_support;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use common::{settles, test_dest, Counter, WAIT};
use mydht_base::service::channel::NoRecv;
use mydht_base::service::spawn::{idle_service_threads, ThreadIdle};
use mydht_base::{
    ErrorKind, MpscChannel, SpawnChannel, SpawnHandle, SpawnUnyield, Spawner, ThreadPark,
};
use thread_idle_support::{Reader, Source};

const IDLE: Duration = Duration::from_millis(50);

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("procfs")
        .count()
}

#[test]
fn an_idle_service_gives_its_thread_back_and_a_wake_up_restarts_it() {
    let t0 = threads();
    // A service thread that stays running, so that a thread given back is
    // kept idle in the reuse pool.
    let (_keep_tx, keep_recv) = MpscChannel::new(4).new_channel().unwrap();
    let (keep_dest, _kept) = test_dest::<u64>();
    let keeper = ThreadPark
        .spawn(Counter::default(), keep_dest, None, keep_recv, 0)
        .unwrap();

    let src = Arc::new(Source::default());
    let (seen_tx, seen) = mpsc::sync_channel(64);
    let (dest, results) = test_dest();
    let mut handle = ThreadIdle::new(IDLE)
        .spawn(
            Reader::new(src.clone(), 4, seen_tx),
            dest,
            Some(()),
            NoRecv,
            0,
        )
        .unwrap();
    assert_eq!(ThreadIdle::idle_services().0, 1);

    // Traffic: read on the service's thread.
    src.push();
    handle.unyield().unwrap();
    let (n, first) = seen.recv_timeout(WAIT).unwrap();
    assert_eq!(n, 1);
    assert_ne!(first, std::thread::current().id());

    // Idle: suspended, its thread back in the pool; the process holds the
    // keeper and the idle pool thread, no more.
    assert!(
        settles(|| ThreadIdle::idle_services() == (1, 1)),
        "suspends"
    );
    assert!(settles(|| idle_service_threads() == 1), "thread given back");
    assert_eq!(threads(), t0 + 2);
    assert!(!handle.is_finished());

    // A wake-up restarts it where it was (byte 2 follows byte 1), on the
    // pool thread.
    src.push();
    handle.unyield().unwrap();
    assert_eq!(seen.recv_timeout(WAIT).unwrap().0, 2);
    // (Running again; it may suspend anew after `IDLE`, before a starved
    // test thread looks, so only the live count is asserted here.)
    assert_eq!(ThreadIdle::idle_services().0, 1);
    assert!(settles(|| ThreadIdle::idle_services() == (1, 1)));

    // Two bytes while suspended, one wake-up: both read; the command ends.
    src.push();
    src.push();
    handle.unyield().unwrap();
    assert_eq!(seen.recv_timeout(WAIT).unwrap().0, 3);
    assert_eq!(seen.recv_timeout(WAIT).unwrap().0, 4);
    assert_eq!(results.take(1), vec![4]);

    // Its command over, its channel is closed: the loop ends.
    assert!(settles(|| handle.is_finished()));
    assert_eq!(ThreadIdle::idle_services(), (1, 0));
    let (reader, _, _, end) = handle.unwrap_state().unwrap();
    assert!(end.is_ok());
    assert_eq!(reader.read, 4);
    drop(reader);
    // The live count falls when the last holder of the service's shared
    // state lets go: the run's pool thread, just after the run ended.
    assert!(settles(|| ThreadIdle::idle_services() == (0, 0)));

    // A service suspended inside its command: `unwrap_state` says it is
    // half done (`Err(yielded)`), and a new spawn finishes it.
    let (seen_tx, seen) = mpsc::sync_channel(64);
    let (dest, results) = test_dest();
    let handle = ThreadIdle::new(IDLE)
        .spawn(
            Reader::new(src.clone(), 8, seen_tx),
            dest.clone(),
            Some(()),
            NoRecv,
            0,
        )
        .unwrap();
    for n in 1..=4 {
        assert_eq!(seen.recv_timeout(WAIT).unwrap().0, n);
    }
    assert!(settles(|| ThreadIdle::idle_services() == (1, 1)));
    let (reader, _, _, end) = handle.unwrap_state().unwrap();
    assert_eq!(end.unwrap_err().kind(), ErrorKind::Yielded);
    assert_eq!(reader.read, 4);
    let (seen_tx, seen) = mpsc::sync_channel(64);
    let mut reader = reader;
    reader.seen = seen_tx;
    let mut handle = ThreadIdle::new(IDLE)
        .spawn(reader, dest, None, NoRecv, 0)
        .unwrap();
    src.push();
    src.push();
    handle.unyield().unwrap();
    assert_eq!(seen.recv_timeout(WAIT).unwrap().0, 5);
    assert_eq!(seen.recv_timeout(WAIT).unwrap().0, 6);

    // A dropped handle drops a suspended service (its source is free).
    assert!(settles(|| ThreadIdle::idle_services() == (1, 1)));
    drop(handle);
    results.assert_empty();
    // The suspended service is dropped with the handle, at once (its
    // source is free); the live count falls once the pool thread of its
    // last run let go of the shared state too (CI saw `(1, 0)` here).
    assert_eq!(Arc::strong_count(&src), 1);
    assert!(settles(|| ThreadIdle::idle_services() == (0, 0)));
    drop(keeper);
}
