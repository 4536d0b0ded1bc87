//! [`MayChannel`]: a bounded channel on may's `mpsc` and `Semphore`, which
//! a may coroutine waits on by parking, not by blocking its worker thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use std::sync::mpsc::{RecvTimeoutError, TryRecvError};

use may::sync::mpsc::{self, Receiver, Sender};
use may::sync::Semphore;

use super::{check_capacity, closed, WAIT_SLICE};
use crate::error::Result;
use crate::service::{SpawnChannel, SpawnRecv, SpawnSend, TrySendError};

/// A bounded channel for may coroutines (feature `may-sched`): may's
/// unbounded `mpsc` queue behind a semaphore counting its free places.
/// `send` waits while `capacity` commands are queued — a may coroutine
/// parks, a thread blocks — and `recv_wait` waits the same way;
/// `try_send` gives the command back when the queue is full.
///
/// ```
/// use mydht_base::service::channel::MayChannel;
/// use mydht_base::{SpawnChannel, SpawnRecv, SpawnSend};
///
/// let (mut tx, mut rx) = MayChannel::new(1).new_channel().unwrap();
/// tx.send(1u8).unwrap();
/// assert!(tx.try_send(2).is_err()); // full
/// assert_eq!(rx.recv().unwrap(), Some(1));
/// tx.send(2).unwrap(); // room again
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MayChannel {
    capacity: usize,
}

impl MayChannel {
    /// A channel kind whose queues hold at most `capacity` commands (at
    /// least 1, checked by `new_channel`).
    pub fn new(capacity: usize) -> Self {
        MayChannel { capacity }
    }
}

/// What both ends share: the free places and whether the receiver is gone.
struct Room {
    free: Semphore,
    /// The receiver was dropped: a sender waiting for room must not wait
    /// for ever.
    closed: AtomicBool,
}

/// The sending side of a [`MayChannel`]; clones share the queue.
pub struct MaySend<C> {
    tx: Sender<C>,
    room: Arc<Room>,
}

impl<C> Clone for MaySend<C> {
    fn clone(&self) -> Self {
        MaySend {
            tx: self.tx.clone(),
            room: self.room.clone(),
        }
    }
}

/// The receiving side of a [`MayChannel`].
pub struct MayRecv<C> {
    rx: Receiver<C>,
    room: Arc<Room>,
}

impl<C> Drop for MayRecv<C> {
    fn drop(&mut self) {
        self.room.closed.store(true, Ordering::Release);
        // Wakes one waiting sender, which passes the wake-up on.
        self.room.free.post();
    }
}

impl<C: Send> SpawnChannel<C> for MayChannel {
    type WeakSend = MaySend<C>;
    type Send = MaySend<C>;
    type Recv = MayRecv<C>;

    fn new_channel(&mut self) -> Result<(MaySend<C>, MayRecv<C>)> {
        check_capacity(self.capacity)?;
        let (tx, rx) = mpsc::channel();
        let room = Arc::new(Room {
            free: Semphore::new(self.capacity),
            closed: AtomicBool::new(false),
        });
        Ok((
            MaySend {
                tx,
                room: room.clone(),
            },
            MayRecv { rx, room },
        ))
    }

    fn get_weak_send(send: &MaySend<C>) -> Option<MaySend<C>> {
        Some(send.clone())
    }
}

impl<C> MaySend<C> {
    /// Queues `cmd` in a place already taken from the semaphore.
    fn push(&mut self, cmd: C) -> std::result::Result<(), C> {
        self.tx.send(cmd).map_err(|e| e.0)
    }

    fn is_closed(&self) -> bool {
        self.room.closed.load(Ordering::Acquire)
    }
}

impl<C> SpawnSend<C> for MaySend<C> {
    fn send(&mut self, cmd: C) -> Result<()> {
        if self.is_closed() {
            return Err(closed());
        }
        self.room.free.wait();
        if self.is_closed() {
            // Woken by the receiver's drop: pass it on to the next sender.
            self.room.free.post();
            return Err(closed());
        }
        self.push(cmd).map_err(|_| closed())
    }

    fn try_send(&mut self, cmd: C) -> std::result::Result<(), TrySendError<C>> {
        if self.is_closed() {
            return Err(TrySendError::Closed(cmd));
        }
        if !self.room.free.try_wait() {
            return Err(TrySendError::Full(cmd));
        }
        self.push(cmd).map_err(TrySendError::Closed)
    }
}

impl<C> SpawnRecv<C> for MayRecv<C> {
    fn recv(&mut self) -> Result<Option<C>> {
        match self.rx.try_recv() {
            Ok(c) => {
                self.room.free.post();
                Ok(Some(c))
            }
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(closed()),
        }
    }

    /// Waits for a command (a may coroutine parks), answering `Ok(None)`
    /// after a short slice so the caller can check its stop request.
    fn recv_wait(&mut self) -> Result<Option<C>> {
        match self.rx.recv_timeout(WAIT_SLICE) {
            Ok(c) => {
                self.room.free.post();
                Ok(Some(c))
            }
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(closed()),
        }
    }
}
