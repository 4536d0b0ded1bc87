//! [`MpscChannel`]: a bounded channel between threads whose queue takes
//! memory as commands come.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use super::{check_capacity, closed, WAIT_SLICE};
use crate::error::Result;
use crate::service::spawn::barrier;
use crate::service::{SpawnChannel, SpawnRecv, SpawnSend, TrySendError};
use crate::sref::{SRef, SToRef};

/// A bounded channel between threads: `send` waits while `capacity`
/// commands are queued, `try_send` gives the command back.
///
/// The queue is std's unbounded channel, which allocates slots in blocks of
/// 31 as commands come and frees a block once read, with counts of the
/// commands sent and received beside it that bound it: an idle channel
/// holds no slot (std's `sync_channel` allocates its whole ring of
/// `capacity` slots when made: 300 KB for two channels of 1,024 commands,
/// per connection of a `threaded!` node). The receiver tells what it took
/// in batches (at most a quarter of the capacity, 32 commands, and
/// whenever it finds the queue empty), so the two sides do not share a
/// counter per command; a sender that finds the queue full spins briefly,
/// then sleeps on a condition variable until the receiver tells. A sender
/// reads the receiver's count only when the queue looks full by the count
/// it last read, and a sender alone (no clone alive) counts its commands
/// with a plain store, not a read-modify-write: on this crate's 2-vCPU
/// machine one locked instruction per command doubled the time of a
/// command through a `ThreadPark` service (the `service` bench).
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

/// Tries of a sender on a full queue before it sleeps: the first
/// `SPIN_STEPS` spin (1, 2, 4... iterations), the others yield the thread.
const BACKOFF_STEPS: u32 = 10;
const SPIN_STEPS: u32 = 6;
/// Commands the receiver takes before it tells the senders (at most):
/// one shared write per batch, not per command.
const MAX_BATCH: usize = 32;

/// A counter alone on its cache line: the senders write one, the receiver
/// the other.
#[derive(Debug)]
#[repr(align(128))]
struct Padded(AtomicUsize);

/// The bound of one channel, shared by its two sides: commands sent less
/// commands received (as the receiver last told) is at most `capacity`.
#[derive(Debug)]
struct Room {
    capacity: usize,
    /// Commands sent, or about to be (a place taken).
    sent: Padded,
    /// Commands received, told in batches: the count lags, which only
    /// makes the queue look fuller than it is.
    received: Padded,
    /// Senders asleep on a full queue: the receiver wakes them when it
    /// tells what it took.
    waiting: AtomicUsize,
    /// Live senders (clones included): one alone counts with plain stores.
    senders: AtomicUsize,
    /// The receiver asked [`MpscRecv::has_queued`]: every sender counts
    /// with `SeqCst` read-modify-writes from then on.
    watched: AtomicBool,
    receiver_gone: AtomicBool,
    lock: Mutex<()>,
    freed: Condvar,
}

impl Room {
    /// Takes a place in the queue if there is one. `seen` is the count of
    /// commands received as this sender last read it (never more than the
    /// count): the receiver's line is read again only when the queue looks
    /// full by it.
    fn try_take(&self, seen: &mut usize) -> bool {
        // Alone: no other sender writes the count, and no receiver relies
        // on its order (see `has_queued`). Clones are counted before they
        // exist and uncounted (release) after their last command, so a
        // sender that reads one (acquire) sees every command counted.
        let alone = self.senders.load(Ordering::Acquire) == 1
            && !self.watched.load(Ordering::Relaxed)
            && barrier::asymmetric();
        let mut sent = self.sent.0.load(Ordering::Relaxed);
        loop {
            if sent.wrapping_sub(*seen) >= self.capacity {
                *seen = self.received.0.load(Ordering::SeqCst);
                if sent.wrapping_sub(*seen) >= self.capacity {
                    return false;
                }
            }
            if alone {
                self.sent.0.store(sent.wrapping_add(1), Ordering::Release);
                return true;
            }
            match self.sent.0.compare_exchange_weak(
                sent,
                sent.wrapping_add(1),
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => sent = now,
            }
        }
    }

    /// Takes a place, waiting while the queue is full; fails once the
    /// receiver is gone.
    fn take(&self, seen: &mut usize) -> Result<()> {
        if self.try_take(seen) {
            return Ok(());
        }
        // A receiver that runs frees places within microseconds: spin,
        // then yield, a little before sleeping.
        for step in 0..BACKOFF_STEPS {
            if step < SPIN_STEPS {
                for _ in 0..1u32 << step {
                    std::hint::spin_loop();
                }
            } else {
                std::thread::yield_now();
            }
            if self.try_take(seen) {
                return Ok(());
            }
        }
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        // Counted before the check below: a receiver that frees places
        // after the check sees the count and wakes us (both sides order
        // their two steps, SeqCst).
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let taken = loop {
            if self.receiver_gone.load(Ordering::SeqCst) {
                break Err(closed());
            }
            if self.try_take(seen) {
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

    /// `n` commands left the queue (received, or not sent after all).
    fn give(&self, n: usize) {
        self.received.0.fetch_add(n, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            // Taking the lock waits out a sender between its check and its
            // wait, so the wake-up is not lost.
            drop(self.lock.lock().unwrap_or_else(PoisonError::into_inner));
            self.freed.notify_all();
        }
    }
}

/// The sending side of an [`MpscChannel`]; clones share the queue.
#[derive(Debug)]
pub struct MpscSend<C> {
    tx: Sender<C>,
    room: Arc<Room>,
    /// Commands received as this sender last read the count.
    seen: usize,
}

impl<C> Clone for MpscSend<C> {
    fn clone(&self) -> Self {
        // Counted before the clone can send: from now on both count with
        // read-modify-writes.
        self.room.senders.fetch_add(1, Ordering::SeqCst);
        MpscSend {
            tx: self.tx.clone(),
            room: self.room.clone(),
            seen: self.seen,
        }
    }
}

impl<C> Drop for MpscSend<C> {
    fn drop(&mut self) {
        // Release: a sender left alone sees this one's last count.
        self.room.senders.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The receiving side of an [`MpscChannel`].
#[derive(Debug)]
pub struct MpscRecv<C> {
    rx: Receiver<C>,
    room: Arc<Room>,
    /// Commands taken and not yet told to the senders.
    taken: usize,
    batch: usize,
}

impl<C: Send> SpawnChannel<C> for MpscChannel {
    type WeakSend = MpscSend<C>;
    type Send = MpscSend<C>;
    type Recv = MpscRecv<C>;

    fn new_channel(&mut self) -> Result<(MpscSend<C>, MpscRecv<C>)> {
        check_capacity(self.capacity)?;
        barrier::init();
        let (tx, rx) = mpsc::channel();
        let room = Arc::new(Room {
            capacity: self.capacity,
            sent: Padded(AtomicUsize::new(0)),
            received: Padded(AtomicUsize::new(0)),
            waiting: AtomicUsize::new(0),
            senders: AtomicUsize::new(1),
            watched: AtomicBool::new(false),
            receiver_gone: AtomicBool::new(false),
            lock: Mutex::new(()),
            freed: Condvar::new(),
        });
        let send = MpscSend {
            tx,
            room: room.clone(),
            seen: 0,
        };
        let recv = MpscRecv {
            rx,
            room,
            taken: 0,
            batch: (self.capacity / 4).clamp(1, MAX_BATCH),
        };
        Ok((send, recv))
    }

    fn get_weak_send(send: &MpscSend<C>) -> Option<MpscSend<C>> {
        Some(send.clone())
    }
}

impl<C> SpawnSend<C> for MpscSend<C> {
    fn send(&mut self, cmd: C) -> Result<()> {
        self.room.take(&mut self.seen)?;
        self.tx.send(cmd).map_err(|_| {
            self.room.give(1);
            closed()
        })
    }

    fn try_send(&mut self, cmd: C) -> std::result::Result<(), TrySendError<C>> {
        if !self.room.try_take(&mut self.seen) {
            if self.room.receiver_gone.load(Ordering::SeqCst) {
                return Err(TrySendError::Closed(cmd));
            }
            return Err(TrySendError::Full(cmd));
        }
        self.tx.send(cmd).map_err(|mpsc::SendError(cmd)| {
            self.room.give(1);
            TrySendError::Closed(cmd)
        })
    }
}

impl<C> MpscRecv<C> {
    /// Waits at most `timeout` for a command: `Ok(None)` when none came.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<C>> {
        if let Some(c) = self.recv()? {
            return Ok(Some(c));
        }
        match self.rx.recv_timeout(timeout) {
            Ok(c) => Ok(Some(self.took(c))),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(closed()),
        }
    }

    /// True when a command is queued, or about to be: a sender counts its
    /// command (a `SeqCst` read-modify-write) before it queues it. The
    /// counts are read `SeqCst`, so of a receiver that writes a flag then
    /// asks this, and a sender that sends then reads the flag (both
    /// `SeqCst`), at least one sees the other's write: how a receiver going
    /// to sleep loses no wake-up.
    ///
    /// A sender alone counts with a plain store until the first call of
    /// this, which tells the senders to count `SeqCst` from then on and
    /// makes every thread of the process run a full barrier (the expensive
    /// half of the thread spawners' fence), so that a sender that counted
    /// plainly before is seen here, or sees the flag written before.
    pub fn has_queued(&self) -> bool {
        if !self.room.watched.load(Ordering::Relaxed) {
            self.room.watched.store(true, Ordering::SeqCst);
            barrier::heavy();
        }
        let received = self.room.received.0.load(Ordering::SeqCst);
        let sent = self.room.sent.0.load(Ordering::SeqCst);
        sent.wrapping_sub(received) > self.taken
    }

    /// Counts a command taken, telling the senders once per batch.
    fn took(&mut self, c: C) -> C {
        self.taken += 1;
        if self.taken >= self.batch {
            self.tell();
        }
        c
    }

    /// Tells the senders the places freed since last time.
    fn tell(&mut self) {
        if self.taken > 0 {
            self.room.give(self.taken);
            self.taken = 0;
        }
    }
}

impl<C> SpawnRecv<C> for MpscRecv<C> {
    /// A queued command, if any; on an empty queue the senders are told
    /// every place freed.
    fn recv(&mut self) -> Result<Option<C>> {
        match self.rx.try_recv() {
            Ok(c) => Ok(Some(self.took(c))),
            Err(TryRecvError::Empty) => {
                self.tell();
                Ok(None)
            }
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
        // As in `give`: a sender counts itself waiting before it checks
        // that the receiver is there (both `SeqCst`), so one that missed
        // this store is counted here. None waiting (the usual end): no
        // lock, no wake-up system call.
        if self.room.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
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
