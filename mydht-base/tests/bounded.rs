//! Every channel is bounded: a full queue makes the sender wait (mpsc) or
//! refuses the command (same-thread, `try_send`), and the queue never holds
//! more than its capacity while a producer pushes a million commands.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use common::WAIT;
use mydht_base::service::channel::NoSend;
use mydht_base::{
    ErrorKind, LocalRcChannel, MpscChannel, RestartOrError, Result, Service, ServiceRestartable,
    SpawnChannel, SpawnHandle, SpawnRecv, SpawnSend, SpawnUnyield, Spawner, SpawnerYield,
    ThreadBlock, TrySendError,
};

const PUSHED: u64 = 1_000_000;
const CAPACITY: usize = 64;

#[test]
fn capacity_zero_is_refused() {
    let err = SpawnChannel::<u8>::new_channel(&mut MpscChannel::new(0))
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Config);
    let err = SpawnChannel::<u8>::new_channel(&mut LocalRcChannel::new(0))
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[test]
fn full_mpsc_makes_the_sender_wait() {
    let (mut tx, mut rx) = MpscChannel::new(2).new_channel().unwrap();
    tx.send(1u8).unwrap();
    tx.send(2).unwrap();
    assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))));
    let (done_tx, done) = mpsc::channel();
    let mut blocked_tx = tx.clone();
    let sender = std::thread::spawn(move || {
        blocked_tx.send(3).unwrap();
        done_tx.send(()).unwrap();
    });
    // Still full: the sender is waiting (bounded wait, not a sleep).
    assert!(done.recv_timeout(Duration::from_millis(100)).is_err());
    assert_eq!(rx.recv().unwrap(), Some(1));
    done.recv_timeout(WAIT).expect("sender not released");
    sender.join().unwrap();
    assert_eq!(rx.recv().unwrap(), Some(2));
    assert_eq!(rx.recv().unwrap(), Some(3));
    assert_eq!(rx.recv().unwrap(), None);
    drop(tx);
    assert_eq!(rx.recv().unwrap_err().kind(), ErrorKind::ChannelClosed);
}

#[test]
fn full_local_channel_is_an_error() {
    let (mut tx, mut rx) = LocalRcChannel::new(2).new_channel().unwrap();
    tx.send(1u8).unwrap();
    tx.send(2).unwrap();
    assert_eq!(tx.send(3).unwrap_err().kind(), ErrorKind::ChannelFull);
    assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))));
    assert_eq!(rx.recv().unwrap(), Some(1));
    tx.send(3).unwrap();
    drop(rx);
    assert!(matches!(tx.try_send(4), Err(TrySendError::Closed(4))));
}

/// Counts what it received, for the producer to compare with what it sent.
struct Sink {
    received: Arc<AtomicU64>,
}

impl Service for Sink {
    type CommandIn = u64;
    type CommandOut = ();
    fn call<Y: SpawnerYield>(&mut self, _: u64, _: &mut Y) -> Result<()> {
        self.received.fetch_add(1, Ordering::Release);
        Ok(())
    }
}

impl ServiceRestartable for Sink {}

#[test]
fn mpsc_queue_stays_within_capacity_under_a_million_commands() {
    let received = Arc::new(AtomicU64::new(0));
    let (mut tx, recv) = MpscChannel::new(CAPACITY).new_channel().unwrap();
    let sink = Sink {
        received: received.clone(),
    };
    let handle = ThreadBlock.spawn(sink, NoSend, None, recv, 0).unwrap();
    for sent in 1..=PUSHED {
        tx.send(sent).unwrap();
        // Queued plus the one being processed.
        let in_flight = sent - received.load(Ordering::Acquire);
        assert!(in_flight <= CAPACITY as u64 + 1, "{in_flight} queued");
    }
    drop(tx);
    let (_, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert_eq!(received.load(Ordering::Acquire), PUSHED);
}

#[test]
fn local_queue_stays_within_capacity_under_a_million_commands() {
    let received = Arc::new(AtomicU64::new(0));
    let (mut tx, recv) = LocalRcChannel::new(CAPACITY).new_channel().unwrap();
    let sink = Sink {
        received: received.clone(),
    };
    let mut handle = RestartOrError.spawn(sink, NoSend, None, recv, 0).unwrap();
    let mut next = 0;
    while next < PUSHED {
        match tx.try_send(next) {
            Ok(()) => next += 1,
            // Back-pressure: let the service drain, then go on.
            Err(TrySendError::Full(_)) => handle.unyield().unwrap(),
            Err(TrySendError::Closed(_)) => panic!("service gone"),
        }
        assert!(tx.len() <= CAPACITY);
    }
    drop(tx);
    handle.unyield().unwrap();
    assert!(handle.is_finished());
    let (_, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert_eq!(received.load(Ordering::Acquire), PUSHED);
}

/// Senders waiting on a full queue are released with `ChannelClosed` when
/// the receiver goes; a full queue refuses `try_send` as `Full`, a queue
/// without receiver as `Closed`.
#[test]
fn senders_waiting_on_a_full_mpsc_fail_when_the_receiver_goes() {
    let (mut tx, rx) = MpscChannel::new(1).new_channel().unwrap();
    tx.send(1u8).unwrap();
    let (done_tx, done) = mpsc::channel();
    let senders: Vec<_> = (0..2u8)
        .map(|i| {
            let mut tx = tx.clone();
            let done_tx = done_tx.clone();
            std::thread::spawn(move || done_tx.send(tx.send(10 + i)).unwrap())
        })
        .collect();
    assert!(done.recv_timeout(Duration::from_millis(100)).is_err());
    assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
    drop(rx);
    for _ in 0..2 {
        let sent = done.recv_timeout(WAIT).expect("sender not released");
        assert_eq!(sent.unwrap_err().kind(), ErrorKind::ChannelClosed);
    }
    for s in senders {
        s.join().unwrap();
    }
    assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
    assert_eq!(tx.send(4).unwrap_err().kind(), ErrorKind::ChannelClosed);
}

/// Counts the bytes this thread asks the allocator for.
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub struct Counting;

    thread_local! {
        static ASKED: Cell<usize> = const { Cell::new(0) };
    }

    // SAFETY: forwards to the system allocator; the count is a plain
    // thread-local cell, which allocates nothing.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = ASKED.try_with(|a| a.set(a.get() + layout.size()));
            System.alloc(layout)
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            System.dealloc(ptr, layout)
        }
    }

    /// Bytes asked for by this thread so far.
    pub fn asked() -> usize {
        ASKED.with(Cell::get)
    }
}

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

/// An mpsc queue takes memory as commands come: a channel of 1,024
/// commands of 256 bytes asks for a few hundred bytes when made (a ring
/// allocated up front would be 256 KiB), and its first command one block
/// of slots, a small part of the bound.
#[test]
fn an_mpsc_queue_allocates_as_commands_come() {
    let before = counting::asked();
    let (mut tx, mut rx) = MpscChannel::new(1024).new_channel().unwrap();
    let made = counting::asked() - before;
    assert!(made < 2048, "an empty channel asked for {made} bytes");
    tx.send([7u8; 256]).unwrap();
    let one = counting::asked() - before - made;
    assert!(
        (256..16 * 1024).contains(&one),
        "a first command asked for {one} bytes"
    );
    assert_eq!(rx.recv().unwrap(), Some([7u8; 256]));
}
