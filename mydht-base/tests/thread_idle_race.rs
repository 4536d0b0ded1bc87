//! `ThreadIdle` loses no wake-up across a suspension: a readiness that
//! comes while the service is on its way out (after its idle wait timed
//! out, before its state is stored) makes it read again, it never stays
//! suspended with input waiting.
//!
//! - `a_wake_up_while_suspending_runs_it_again`: the test wakes the service
//!   in the window between its yield's `Return` and the end of its run
//!   (the service waits there for the test): fails if that wake-up only
//!   nudged a run that then stores the service (no `woken` mark).
//! - `wake_ups_racing_suspensions_lose_nothing`: an idle time of zero, so
//!   the service tries to suspend at every yield, against a thread that
//!   adds a byte and wakes it, 50,000 times: each byte is read (fails when a
//!   wake-up between the idle wait's end and the decision to suspend is not
//!   seen by that decision).

mod common;
mod thread_idle_support;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use common::{test_dest, WAIT};
use mydht_base::service::channel::NoRecv;
use mydht_base::service::spawn::ThreadIdle;
use mydht_base::{SpawnHandle, SpawnUnyield, Spawner};
use thread_idle_support::{Pause, Reader, Source};

#[test]
fn a_wake_up_while_suspending_runs_it_again() {
    const ROUNDS: usize = 20;
    let src = Arc::new(Source::default());
    let (seen_tx, seen) = mpsc::sync_channel(64);
    let (returned_tx, returned) = mpsc::sync_channel(1);
    let (go, go_rx) = mpsc::sync_channel(1);
    let mut reader = Reader::new(src.clone(), ROUNDS, seen_tx);
    reader.pause = Some(Pause {
        returned: returned_tx,
        go: go_rx,
    });
    let (dest, results) = test_dest();
    let mut handle = ThreadIdle::new(Duration::from_millis(10))
        .spawn(reader, dest, Some(()), NoRecv, 0)
        .unwrap();
    for n in 1..=ROUNDS {
        // The service found nothing, waited idle, and is suspending.
        returned.recv_timeout(WAIT).expect("suspending");
        src.push();
        handle.unyield().unwrap();
        go.send(()).unwrap();
        let (read, _) = seen
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("byte {n} not read: wake-up lost"));
        assert_eq!(read, n);
    }
    assert_eq!(results.take(1), vec![ROUNDS]);
    // The command is over: its closed channel ends the loop.
    let (reader, _, _, end) = handle.unwrap_state().unwrap();
    assert!(end.is_ok());
    assert_eq!(reader.read, ROUNDS);
}

#[test]
fn wake_ups_racing_suspensions_lose_nothing() {
    const ROUNDS: usize = 50_000;
    let src = Arc::new(Source::default());
    let (seen_tx, seen) = mpsc::sync_channel(ROUNDS);
    let (dest, results) = test_dest();
    let mut handle = ThreadIdle::new(Duration::ZERO)
        .spawn(
            Reader::new(src.clone(), ROUNDS, seen_tx),
            dest,
            Some(()),
            NoRecv,
            0,
        )
        .unwrap();
    for n in 1..=ROUNDS {
        src.push();
        handle.unyield().unwrap();
        let (read, _) = seen
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("byte {n} not read: wake-up lost"));
        assert_eq!(read, n);
    }
    assert_eq!(results.take(1), vec![ROUNDS]);
    let (reader, _, _, end) = handle.unwrap_state().unwrap();
    assert!(end.is_ok());
    assert_eq!(reader.read, ROUNDS);
}
