//! `IdleInline<ThreadPark>` under a burst: two senders, every fifth
//! command a write that would block in place (so the service's thread
//! starts, mid-stream, again and again, and ends whenever it runs dry).
//! Each sender's commands are run exactly once and in its order, whether
//! in place or by the thread, and the thread did run some of them.

mod common;
mod idle_inline_support;

use std::thread;

use common::test_dest;
use idle_inline_support::{Chan, Cmd, Wire};
use mydht_base::service::spawn::IdleInline;
use mydht_base::{SpawnChannel, SpawnHandle, SpawnSend, SpawnUnyield, Spawner, ThreadPark};

const EACH: u64 = 4_000;

#[test]
fn a_burst_that_starts_the_thread_keeps_each_senders_order() {
    let (tx, recv) = SpawnChannel::<Cmd>::new_channel(&mut Chan::new(64)).unwrap();
    let (dest, results) = test_dest();
    let wire = Wire::default();
    let seen = wire.seen.clone();
    let handle = IdleInline(ThreadPark)
        .spawn(wire, dest, None, recv, 0)
        .unwrap();
    let senders: Vec<_> = (0..2u64)
        .map(|s| {
            let mut tx = tx.clone();
            let mut wake = handle.get_weak_handle().expect("weak handle");
            thread::spawn(move || {
                for i in 0..EACH {
                    let n = s << 32 | i;
                    let cmd = if i % 5 == 4 {
                        Cmd::Full(n)
                    } else {
                        Cmd::Note(n)
                    };
                    tx.send(cmd).unwrap();
                    wake.unyield().unwrap();
                }
                thread::current().id()
            })
        })
        .collect();
    assert_eq!(results.take(2 * EACH as usize).len(), 2 * EACH as usize);
    let sender_threads: Vec<_> = senders.into_iter().map(|s| s.join().unwrap()).collect();
    let seen = seen.lock().unwrap();
    for s in 0..2u64 {
        let mine: Vec<u64> = seen
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| n >> 32 == s)
            .map(|n| n & 0xffff_ffff)
            .collect();
        assert_eq!(mine, (0..EACH).collect::<Vec<_>>(), "sender {s}");
    }
    let by_thread = seen
        .iter()
        .filter(|(_, t)| !sender_threads.contains(t))
        .count();
    assert!(by_thread > 0, "the service's thread never ran");
    assert!(by_thread < seen.len(), "nothing ran in place");
    drop(seen);
    drop(tx);
    let (_, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    results.assert_empty();
}
