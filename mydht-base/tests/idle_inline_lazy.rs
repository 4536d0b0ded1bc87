//! `IdleInline<ThreadPark>` starts its thread lazily: an idle service
//! holds none (its commands run on the sender's thread, and `unyield`
//! starts nothing), the thread starts when a command run in place would
//! block, the commands that follow wait behind it in order, and once it
//! has nothing left to do the thread goes back to the reuse pool (and the
//! next start takes it again). A command that fails in place reaches
//! `unwrap_state` as its end, as it did when the thread always ran. One
//! test in this binary: it counts the process's threads.

mod common;
mod idle_inline_support;

use std::thread;

use common::{settles, test_dest, Counter};
use idle_inline_support::{ran_on, Chan, Cmd, Wire};
use mydht_base::service::spawn::{idle_service_threads, IdleInline};
use mydht_base::{
    ErrorKind, MpscChannel, SpawnChannel, SpawnHandle, SpawnSend, SpawnUnyield, Spawner, ThreadPark,
};

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("procfs")
        .count()
}

#[test]
fn the_thread_starts_when_a_write_would_block_and_goes_back_when_idle() {
    let t0 = threads();
    // A service thread that stays running (as a node's read services do),
    // so that an ended thread is kept idle in the pool.
    let (keep_tx, keep_recv) = MpscChannel::new(4).new_channel().unwrap();
    let (keep_dest, kept) = test_dest();
    let mut keeper = ThreadPark
        .spawn(Counter::default(), keep_dest, None, keep_recv, 0)
        .unwrap();
    assert!(settles(|| threads() == t0 + 1));

    let (mut tx, recv) = SpawnChannel::<Cmd>::new_channel(&mut Chan::new(16)).unwrap();
    let (dest, results) = test_dest();
    let wire = Wire::default();
    let seen = wire.seen.clone();
    let mut handle = IdleInline(ThreadPark)
        .spawn(wire, dest, Some(Cmd::Note(1)), recv, 0)
        .unwrap();
    let me = thread::current().id();

    // Idle: the first command and the next ones run here; no thread, and
    // readiness (`unyield`) starts none.
    for n in 2..6 {
        tx.send(Cmd::Note(n)).unwrap();
        handle.unyield().unwrap();
    }
    assert_eq!(results.take(5), vec![1, 2, 3, 4, 5]);
    assert!((1..6).all(|n| ran_on(&seen, n) == Some(me)));
    assert_eq!(threads(), t0 + 1, "an idle service holds no thread");
    assert!(!handle.is_finished());

    // A write that would block: the thread starts and finishes it; what is
    // sent meanwhile waits behind it, in order, on that thread.
    tx.send(Cmd::Full(6)).unwrap();
    tx.send(Cmd::Note(7)).unwrap();
    tx.send(Cmd::Note(8)).unwrap();
    assert_eq!(ran_on(&seen, 7), None, "ran before the blocked write");
    handle.unyield().unwrap();
    assert_eq!(results.take(3), vec![6, 7, 8]);
    let worker = ran_on(&seen, 6).expect("finished");
    assert_ne!(worker, me);
    assert_eq!(ran_on(&seen, 7), Some(worker));
    assert_eq!(ran_on(&seen, 8), Some(worker));

    // Nothing left: the thread goes back to the pool, the service runs
    // commands in place again.
    assert!(settles(|| idle_service_threads() == 1), "thread given back");
    assert_eq!(threads(), t0 + 2, "keeper and the idle thread");
    tx.send(Cmd::Note(9)).unwrap();
    handle.unyield().unwrap();
    assert_eq!(results.take(1), vec![9]);
    assert_eq!(ran_on(&seen, 9), Some(me));

    // The next blocked write takes the idle thread again: no new thread.
    tx.send(Cmd::Full(10)).unwrap();
    handle.unyield().unwrap();
    assert_eq!(results.take(1), vec![10]);
    assert_eq!(ran_on(&seen, 10), Some(worker), "the pool's thread reused");
    assert!(settles(|| idle_service_threads() == 1));
    assert_eq!(threads(), t0 + 2);

    // A write failing in place ends the service with its error, through
    // its thread, as before.
    tx.send(Cmd::Fail).unwrap();
    handle.unyield().unwrap();
    assert!(settles(|| handle.is_finished()), "the failure ends it");
    let (_, _, _, end) = handle.unwrap_state().unwrap();
    let e = end.unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::Io(std::io::ErrorKind::BrokenPipe),
            "broken pipe (test)"
        )
    );
    results.assert_empty();

    drop(keep_tx);
    keeper.unyield().unwrap();
    keeper.unwrap_state().unwrap().3.unwrap();
    kept.assert_empty();
    assert!(settles(|| threads() == t0), "no thread left: {}", threads());
}
