//! `IdleInline<ThreadPark>` with its `IdleInlineChannel`: a command sent
//! while the service is idle runs on the sender's thread; one sent while
//! the service thread runs or has something queued is queued, in order; a
//! command run in place that yields is finished by the service thread
//! before the commands that follow; every sender's commands keep their
//! order when several send at once; `unwrap_state` gives the service back
//! and later commands wait in the channel.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Instant;

use common::{test_dest, WAIT};
use mydht_base::service::channel::IdleInlineChannel;
use mydht_base::service::spawn::{IdleInline, InlineCall};
use mydht_base::{
    Error, Result, Service, ServiceRestartable, SpawnChannel, SpawnHandle, SpawnRecv, SpawnSend,
    SpawnUnyield, Spawner, SpawnerYield, ThreadPark, YieldReturn,
};

enum Cmd {
    /// Noted with the thread it ran on.
    Note(u64),
    /// Waits (on the service thread: never run in place) until told.
    Hold(Receiver<()>),
    /// Yields until `ready`, then is noted.
    Stall(u64),
}

#[derive(Default)]
struct Log {
    seen: Arc<Mutex<Vec<(u64, ThreadId)>>>,
    ready: Arc<AtomicBool>,
    stalled: Option<u64>,
}

impl Log {
    fn note(&self, n: u64) -> u64 {
        self.seen.lock().unwrap().push((n, thread::current().id()));
        n
    }

    fn stall<Y: SpawnerYield>(&mut self, n: u64, yld: &mut Y) -> Result<u64> {
        while !self.ready.load(Ordering::SeqCst) {
            if yld.spawn_yield() == YieldReturn::Return {
                self.stalled = Some(n);
                return Err(Error::yielded());
            }
        }
        Ok(self.note(n))
    }
}

impl Service for Log {
    type CommandIn = Cmd;
    type CommandOut = u64;
    fn call<Y: SpawnerYield>(&mut self, cmd: Cmd, yld: &mut Y) -> Result<u64> {
        match cmd {
            Cmd::Note(n) => Ok(self.note(n)),
            Cmd::Hold(rx) => {
                rx.recv_timeout(WAIT).expect("released");
                Ok(0)
            }
            Cmd::Stall(n) => self.stall(n, yld),
        }
    }
}

impl ServiceRestartable for Log {
    fn resume<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Option<u64>> {
        match self.stalled.take() {
            Some(n) => self.stall(n, yld).map(Some),
            None => Ok(None),
        }
    }
}

impl InlineCall for Log {
    fn inline_ok(&self, cmd: &Cmd) -> bool {
        !matches!(cmd, Cmd::Hold(_))
    }
}

type Chan = IdleInlineChannel<mydht_base::MpscChannel>;

fn seen_on(log: &Arc<Mutex<Vec<(u64, ThreadId)>>>, n: u64) -> Option<ThreadId> {
    log.lock()
        .unwrap()
        .iter()
        .find(|(m, _)| *m == n)
        .map(|(_, t)| *t)
}

#[test]
fn idle_runs_in_place_busy_queues_in_order() {
    let (mut tx, recv) = SpawnChannel::<Cmd>::new_channel(&mut Chan::new(16)).unwrap();
    let (dest, results) = test_dest();
    let log = Log::default();
    let seen = log.seen.clone();
    let mut handle = IdleInline(ThreadPark)
        .spawn(log, dest, None, recv, 0)
        .unwrap();
    let me = thread::current().id();

    // Idle: done before `send` returns, on this thread.
    tx.send(Cmd::Note(1)).unwrap();
    assert_eq!(seen_on(&seen, 1), Some(me));
    handle.unyield().unwrap();
    assert_eq!(results.take(1), vec![1]);

    // Busy: queued behind the held command, run by the service thread.
    let (release, held) = channel();
    tx.send(Cmd::Hold(held)).unwrap();
    handle.unyield().unwrap();
    tx.send(Cmd::Note(2)).unwrap();
    handle.unyield().unwrap();
    tx.send(Cmd::Note(3)).unwrap();
    handle.unyield().unwrap();
    assert_eq!(seen_on(&seen, 2), None);
    release.send(()).unwrap();
    assert_eq!(results.take(3), vec![0, 2, 3]);
    let service_thread = seen_on(&seen, 2).expect("noted");
    assert_ne!(service_thread, me);
    assert_eq!(seen_on(&seen, 3), Some(service_thread));

    // Idle again: in place again (once the thread counted its last one).
    let deadline = Instant::now() + WAIT;
    let mut n = 10;
    loop {
        tx.send(Cmd::Note(n)).unwrap();
        handle.unyield().unwrap();
        assert_eq!(results.take(1), vec![n]);
        if seen_on(&seen, n) == Some(me) {
            break;
        }
        assert!(Instant::now() < deadline, "never ran in place again");
        n += 1;
    }

    let (svc, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert!(svc.stalled.is_none());
    results.assert_empty();
}

#[test]
fn a_yield_in_place_is_finished_by_the_service_thread_first() {
    let (mut tx, recv) = SpawnChannel::<Cmd>::new_channel(&mut Chan::new(16)).unwrap();
    let (dest, results) = test_dest();
    let log = Log::default();
    let (seen, ready) = (log.seen.clone(), log.ready.clone());
    let mut handle = IdleInline(ThreadPark)
        .spawn(log, dest, None, recv, 0)
        .unwrap();
    let me = thread::current().id();

    tx.send(Cmd::Stall(5)).unwrap();
    handle.unyield().unwrap();
    tx.send(Cmd::Note(6)).unwrap();
    handle.unyield().unwrap();
    assert_eq!(seen_on(&seen, 5), None);
    assert_eq!(seen_on(&seen, 6), None, "ran before the stalled command");
    ready.store(true, Ordering::SeqCst);
    handle.unyield().unwrap();
    assert_eq!(results.take(2), vec![5, 6]);
    let t5 = seen_on(&seen, 5).expect("noted");
    assert_ne!(t5, me);
    assert_eq!(seen_on(&seen, 6), Some(t5));

    let (_, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    results.assert_empty();
}

/// Two senders at once: each one's commands arrive in its order, each
/// exactly once, whether run in place or queued.
#[test]
fn concurrent_senders_keep_their_order() {
    const EACH: u64 = 5_000;
    let (tx, recv) = SpawnChannel::<Cmd>::new_channel(&mut Chan::new(64)).unwrap();
    let (dest, results) = test_dest();
    let log = Log::default();
    let seen = log.seen.clone();
    let handle = IdleInline(ThreadPark)
        .spawn(log, dest, None, recv, 0)
        .unwrap();
    let senders: Vec<_> = (0..2u64)
        .map(|s| {
            let mut tx = tx.clone();
            let mut wake = handle.get_weak_handle().expect("weak handle");
            thread::spawn(move || {
                for i in 0..EACH {
                    tx.send(Cmd::Note(s << 32 | i)).unwrap();
                    wake.unyield().unwrap();
                }
            })
        })
        .collect();
    assert_eq!(results.take(2 * EACH as usize).len(), 2 * EACH as usize);
    for s in senders {
        s.join().unwrap();
    }
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
    drop(seen);
    drop(tx);
    let (_, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
}

#[test]
fn taken_back_the_service_leaves_commands_queued() {
    let (mut tx, recv) = SpawnChannel::<Cmd>::new_channel(&mut Chan::new(16)).unwrap();
    let (dest, results) = test_dest();
    let log = Log::default();
    let seen = log.seen.clone();
    let mut handle = IdleInline(ThreadPark)
        .spawn(log, dest, None, recv, 0)
        .unwrap();
    tx.send(Cmd::Note(1)).unwrap();
    handle.unyield().unwrap();
    let (_, _, mut recv, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert_eq!(results.take(1), vec![1]);
    tx.send(Cmd::Note(2)).unwrap();
    assert_eq!(seen_on(&seen, 2), None, "ran with no service spawned");
    match recv.recv().unwrap() {
        Some(Cmd::Note(2)) => {}
        _ => panic!("the command was not queued"),
    }
}
