//! `IdleInline<ThreadPark>` under a burst: two senders, every fifth
//! command a write that would block in place (so the service's thread
//! starts, mid-stream, again and again, and ends whenever it runs dry).
//! Each sender's commands are run exactly once and in its order, whether
//! in place or by the thread, and the thread did run some of them.
//!
//! Whether any of the burst itself runs in place depends on the
//! scheduler (two senders racing for the service can both queue, and the
//! thread may then never run dry), so a first command, sent before the
//! burst, checks the in-place path.

mod common;
mod idle_inline_support;

use std::thread;

use common::test_dest;
use idle_inline_support::{Chan, Cmd, Wire};
use mydht_base::service::spawn::IdleInline;
use mydht_base::{SpawnChannel, SpawnHandle, SpawnSend, SpawnUnyield, Spawner, ThreadPark};

const EACH: u64 = 4_000;

/// The command sent alone before the burst (from neither sender).
const FIRST: u64 = 2 << 32;

/// The thread that ran command `n`, if it ran.
fn wire_seen_thread(
    seen: &std::sync::Mutex<Vec<(u64, thread::ThreadId)>>,
    n: u64,
) -> Option<thread::ThreadId> {
    seen.lock()
        .unwrap()
        .iter()
        .find(|(m, _)| *m == n)
        .map(|(_, t)| *t)
}

#[test]
fn a_burst_that_starts_the_thread_keeps_each_senders_order() {
    let (tx, recv) = SpawnChannel::<Cmd>::new_channel(&mut Chan::new(64)).unwrap();
    let (dest, results) = test_dest();
    let wire = Wire::default();
    let seen = wire.seen.clone();
    let handle = IdleInline(ThreadPark)
        .spawn(wire, dest, None, recv, 0)
        .unwrap();
    let mut first = tx.clone();
    first.send(Cmd::Note(FIRST)).unwrap();
    assert_eq!(
        wire_seen_thread(&seen, FIRST),
        Some(thread::current().id()),
        "an idle service runs a command in place"
    );
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
    let total = 2 * EACH as usize + 1;
    assert_eq!(results.take(total).len(), total);
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
    drop(seen);
    drop(first);
    drop(tx);
    let (_, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    results.assert_empty();
}
