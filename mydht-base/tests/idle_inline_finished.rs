//! `IdleInline<ThreadPark>`'s `is_finished` while its runs come and go:
//! a run that gives the service back, idle, never makes the service look
//! finished, not even for an instant to a handle asking at that moment
//! (the node's way to its global service shut itself on such a look, and
//! a query took the main loop's way).

mod common;
mod idle_inline_support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use common::test_dest;
use idle_inline_support::{Chan, Cmd, Wire};
use mydht_base::service::spawn::IdleInline;
use mydht_base::{SpawnChannel, SpawnHandle, SpawnSend, SpawnUnyield, Spawner, ThreadPark};

#[test]
fn a_run_that_ends_idle_never_shows_the_service_finished() {
    const ROUNDS: u64 = 20_000;
    let (mut tx, recv) = SpawnChannel::<Cmd>::new_channel(&mut Chan::new(16)).unwrap();
    let (dest, results) = test_dest();
    let mut handle = IdleInline(ThreadPark)
        .spawn(Wire::default(), dest, None, recv, 0)
        .unwrap();
    let mut weak = handle.get_weak_handle().expect("a weak handle");
    let done = Arc::new(AtomicBool::new(false));
    let seen_finished = Arc::new(AtomicU64::new(0));
    let watcher = {
        let (done, seen_finished) = (done.clone(), seen_finished.clone());
        thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                if weak.is_finished() {
                    seen_finished.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    // Each command would block in place: a run on the service's thread
    // takes it, then ends once the channel stays empty.
    for n in 1..=ROUNDS {
        tx.send(Cmd::Full(n)).unwrap();
        handle.unyield().unwrap();
        assert_eq!(results.take(1), vec![n]);
    }
    done.store(true, Ordering::Release);
    watcher.join().unwrap();
    assert_eq!(seen_finished.load(Ordering::Relaxed), 0, "looked finished");
    assert!(!handle.is_finished());
    let (_, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
}
