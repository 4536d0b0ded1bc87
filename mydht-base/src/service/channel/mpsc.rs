//! [`MpscChannel`]: a bounded channel between threads whose queue takes
//! memory as commands come.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use super::{check_capacity, closed, WAIT_SLICE};
use crate::error::Result;
use crate::service::{SpawnChannel, SpawnRecv, SpawnSend, TrySendError};
use crate::sref::{SRef, SToRef};

/// A bounded channel between threads: `send` waits while `capacity`
/// commands are queued, `try_send` gives the command back.
///
/// The queue is std's unbounded channel, which allocates slots in blocks of
/// 31 as commands come and frees a block once read, with a count of the
/// queued commands beside it that bounds it: an idle channel holds no slot
/// (std's `sync_channel` allocates its whole ring of `capacity` slots when
/// made: 300 KB for two channels of 1,024 commands, per connection of a
/// `threaded!` node). A sender that finds the queue full waits on a
/// condition variable, woken by the receiver as it takes a command.
///
/// ```
/// use mydht_base::service::channel::MpscChannel;
/// use mydht_base::{SpawnChannel, SpawnRecv, SpawnSend};
///
/// let (mut tx, mut rx) = MpscChannel::new(1).new_channel().unwrap();
/// tx.send(1u8).unwrap();
/// assert!(tx.try_send(2).is_err()); // full
/// assert_eq!(rx.recv().unwrap(), Some(1));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MpscChannel {
    capacity: usize,
}

impl MpscChannel {
    /// A channel kind whose queues hold at most `capacity` commands (at
    /// least 1, checked by `new_channel`).
    pub fn new(capacity: usize) -> Self {
        MpscChannel { capacity }
    }
}

/// The bound of one channel, shared by its two sides.
#[derive(Debug)]
struct Room {
    capacity: usize,
    /// Commands sent and not yet received (at most `capacity`).
    queued: AtomicUsize,
    /// Senders waiting for room: the receiver wakes one per command taken.
    waiting: AtomicUsize,
    receiver_gone: AtomicBool,
    lock: Mutex<()>,
    freed: Condvar,
}

impl Room {
    /// Takes a place in the queue if there is one.
    fn try_take(&self) -> bool {
        self.queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| {
                (q < self.capacity).then_some(q + 1)
            })
            .is_ok()
    }

    /// Takes a place, waiting while the queue is full; fails once the
    /// receiver is gone.
    fn take(&self) -> Result<()> {
        if self.try_take() {
            return Ok(());
        }
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        // Counted before the check below: a receiver that frees a place
        // after the check sees the count and wakes us (both sides order
        // their two steps, SeqCst).
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let taken = loop {
            if self.receiver_gone.load(Ordering::SeqCst) {
                break Err(closed());
            }
            if self.try_take() {
                break Ok(());
            }
            guard = self
                .freed
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        };
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        taken
    }

    /// A command left the queue (received, or not sent after all).
    fn give(&self) {
        self.queued.fetch_sub(1, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            // Taking the lock waits out a sender between its check and its
            // wait, so the wake-up is not lost.
            drop(self.lock.lock().unwrap_or_else(PoisonError::into_inner));
            self.freed.notify_one();
        }
    }
}

/// The sending side of an [`MpscChannel`]; clones share the queue.
#[derive(Debug)]
pub struct MpscSend<C> {
    tx: Sender<C>,
    room: Arc<Room>,
}

impl<C> Clone for MpscSend<C> {
    fn clone(&self) -> Self {
        MpscSend {
            tx: self.tx.clone(),
            room: self.room.clone(),
        }
    }
}

/// The receiving side of an [`MpscChannel`].
#[derive(Debug)]
pub struct MpscRecv<C> {
    rx: Receiver<C>,
    room: Arc<Room>,
}

impl<C: Send> SpawnChannel<C> for MpscChannel {
    type WeakSend = MpscSend<C>;
    type Send = MpscSend<C>;
    type Recv = MpscRecv<C>;

    fn new_channel(&mut self) -> Result<(MpscSend<C>, MpscRecv<C>)> {
        check_capacity(self.capacity)?;
        let (tx, rx) = mpsc::channel();
        let room = Arc::new(Room {
            capacity: self.capacity,
            queued: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            receiver_gone: AtomicBool::new(false),
            lock: Mutex::new(()),
            freed: Condvar::new(),
        });
        let send = MpscSend {
            tx,
            room: room.clone(),
        };
        Ok((send, MpscRecv { rx, room }))
    }

    fn get_weak_send(send: &MpscSend<C>) -> Option<MpscSend<C>> {
        Some(send.clone())
    }
}

impl<C> SpawnSend<C> for MpscSend<C> {
    fn send(&mut self, cmd: C) -> Result<()> {
        self.room.take()?;
        self.tx.send(cmd).map_err(|_| {
            self.room.give();
            closed()
        })
    }

    fn try_send(&mut self, cmd: C) -> std::result::Result<(), TrySendError<C>> {
        if !self.room.try_take() {
            if self.room.receiver_gone.load(Ordering::SeqCst) {
                return Err(TrySendError::Closed(cmd));
            }
            return Err(TrySendError::Full(cmd));
        }
        self.tx.send(cmd).map_err(|mpsc::SendError(cmd)| {
            self.room.give();
            TrySendError::Closed(cmd)
        })
    }
}

impl<C> MpscRecv<C> {
    /// Waits at most `timeout` for a command: `Ok(None)` when none came.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<C>> {
        match self.rx.recv_timeout(timeout) {
            Ok(c) => {
                self.room.give();
                Ok(Some(c))
            }
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(closed()),
        }
    }
}

impl<C> SpawnRecv<C> for MpscRecv<C> {
    fn recv(&mut self) -> Result<Option<C>> {
        match self.rx.try_recv() {
            Ok(c) => {
                self.room.give();
                Ok(Some(c))
            }
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(closed()),
        }
    }

    /// Waits for a command, answering `Ok(None)` after a short slice so the
    /// caller can check its stop request.
    fn recv_wait(&mut self) -> Result<Option<C>> {
        self.recv_timeout(WAIT_SLICE)
    }
}

impl<C> Drop for MpscRecv<C> {
    /// Releases the senders waiting on a full queue: their `send` fails.
    fn drop(&mut self) {
        self.room.receiver_gone.store(true, Ordering::SeqCst);
        drop(
            self.room
                .lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        self.room.freed.notify_all();
    }
}

// Both ends are already sendable: they cross threads as they are, which is
// what `ThreadParkRef` needs of a service's destination and receiver.
impl<C: Send> SRef for MpscSend<C> {
    type Send = Self;
    fn get_sendable(self) -> Self {
        self
    }
}

impl<C: Send> SToRef<MpscSend<C>> for MpscSend<C> {
    fn to_ref(self) -> Self {
        self
    }
}

impl<C: Send> SRef for MpscRecv<C> {
    type Send = Self;
    fn get_sendable(self) -> Self {
        self
    }
}

impl<C: Send> SToRef<MpscRecv<C>> for MpscRecv<C> {
    fn to_ref(self) -> Self {
        self
    }
}
