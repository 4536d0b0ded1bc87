//! [`MayChannel`]: a bounded channel whose waits a may coroutine makes by
//! parking, not by blocking its worker thread.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use may::sync::Semphore;

use super::{check_capacity, closed, WAIT_SLICE};
use crate::error::Result;
use crate::service::{SpawnChannel, SpawnRecv, SpawnSend, TrySendError};

/// Queue room kept by an empty queue that a burst grew past `SHRINK_ABOVE`.
const KEEP: usize = 8;
const SHRINK_ABOVE: usize = 64;

/// A bounded channel for may coroutines (feature `may-sched`): a queue
/// behind two may semaphores, its free places and its commands. `send`
/// waits while `capacity` commands are queued — a may coroutine parks, a
/// thread blocks — and `recv_wait` waits for a command the same way;
/// `try_send` gives the command back when the queue is full. The queue
/// takes memory as commands come (none for a channel never used: a
/// connection's channels under `may_blocking!`), and an empty queue that a
/// burst grew past 64 commands gives it back down to 8.
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

/// What both ends share.
struct Shared<C> {
    queue: Mutex<VecDeque<C>>,
    /// Commands queued: posted after a push, taken before a pop.
    queued: Semphore,
    /// Free places.
    free: Semphore,
    /// Senders alive: none left and nothing queued is a closed channel.
    senders: AtomicUsize,
    /// The receiver was dropped: a sender waiting for room must not wait
    /// for ever.
    closed: AtomicBool,
}

impl<C> Shared<C> {
    fn queue(&self) -> MutexGuard<'_, VecDeque<C>> {
        // Held for a push or a pop only, which do not panic.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sending side of a [`MayChannel`]; clones share the queue.
pub struct MaySend<C> {
    shared: Arc<Shared<C>>,
}

impl<C> Clone for MaySend<C> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::AcqRel);
        MaySend {
            shared: self.shared.clone(),
        }
    }
}

impl<C> Drop for MaySend<C> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Wakes a receiver waiting for a command: there will be none.
            self.shared.queued.post();
        }
    }
}

/// The receiving side of a [`MayChannel`].
pub struct MayRecv<C> {
    shared: Arc<Shared<C>>,
}

impl<C> Drop for MayRecv<C> {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        // Wakes one waiting sender, which passes the wake-up on.
        self.shared.free.post();
    }
}

impl<C: Send> SpawnChannel<C> for MayChannel {
    type WeakSend = MaySend<C>;
    type Send = MaySend<C>;
    type Recv = MayRecv<C>;

    fn new_channel(&mut self) -> Result<(MaySend<C>, MayRecv<C>)> {
        check_capacity(self.capacity)?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            queued: Semphore::new(0),
            free: Semphore::new(self.capacity),
            senders: AtomicUsize::new(1),
            closed: AtomicBool::new(false),
        });
        Ok((
            MaySend {
                shared: shared.clone(),
            },
            MayRecv { shared },
        ))
    }

    fn get_weak_send(send: &MaySend<C>) -> Option<MaySend<C>> {
        Some(send.clone())
    }
}

impl<C> MaySend<C> {
    /// Queues `cmd` in a place already taken from the free places.
    fn push(&mut self, cmd: C) {
        self.shared.queue().push_back(cmd);
        self.shared.queued.post();
    }

    fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

impl<C> SpawnSend<C> for MaySend<C> {
    fn send(&mut self, cmd: C) -> Result<()> {
        if self.is_closed() {
            return Err(closed());
        }
        self.shared.free.wait();
        if self.is_closed() {
            // Woken by the receiver's drop: pass it on to the next sender.
            self.shared.free.post();
            return Err(closed());
        }
        self.push(cmd);
        Ok(())
    }

    fn try_send(&mut self, cmd: C) -> std::result::Result<(), TrySendError<C>> {
        if self.is_closed() {
            return Err(TrySendError::Closed(cmd));
        }
        if !self.shared.free.try_wait() {
            return Err(TrySendError::Full(cmd));
        }
        self.push(cmd);
        Ok(())
    }
}

impl<C> MayRecv<C> {
    /// Pops the command whose count was just taken from `queued`.
    fn pop(&mut self) -> Result<Option<C>> {
        let cmd = {
            let mut queue = self.shared.queue();
            let cmd = queue.pop_front();
            if queue.is_empty() && queue.capacity() > SHRINK_ABOVE {
                queue.shrink_to(KEEP);
            }
            cmd
        };
        match cmd {
            Some(cmd) => {
                self.shared.free.post();
                Ok(Some(cmd))
            }
            // The count a gone sender posted, to wake this receiver.
            None => self.none_queued(),
        }
    }

    /// Nothing queued: `Ok(None)`, or closed once no sender is left.
    fn none_queued(&self) -> Result<Option<C>> {
        if self.shared.senders.load(Ordering::Acquire) == 0 {
            // Still the wake-up for the next call.
            self.shared.queued.post();
            return Err(closed());
        }
        Ok(None)
    }
}

impl<C> SpawnRecv<C> for MayRecv<C> {
    fn recv(&mut self) -> Result<Option<C>> {
        if self.shared.queued.try_wait() {
            self.pop()
        } else {
            self.none_queued()
        }
    }

    /// Waits for a command (a may coroutine parks), answering `Ok(None)`
    /// after a short slice so the caller can check its stop request.
    fn recv_wait(&mut self) -> Result<Option<C>> {
        if self.shared.queued.wait_timeout(WAIT_SLICE) {
            self.pop()
        } else {
            self.none_queued()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_commands_outlive_the_senders_then_it_closes() {
        let (mut tx, mut rx) = MayChannel::new(4).new_channel().unwrap();
        let mut other = tx.clone();
        tx.send(1u8).unwrap();
        other.send(2).unwrap();
        drop(tx);
        assert_eq!(rx.recv().unwrap(), Some(1));
        drop(other);
        assert_eq!(rx.recv_wait().unwrap(), Some(2));
        assert!(rx.recv().is_err(), "no sender left, nothing queued");
        assert!(rx.recv_wait().is_err(), "and it stays closed");
    }

    #[test]
    fn a_sender_waiting_for_room_ends_when_the_receiver_goes() {
        let (mut tx, rx) = MayChannel::new(1).new_channel().unwrap();
        tx.send(1u8).unwrap();
        let (started, waiting) = std::sync::mpsc::channel();
        let sender = std::thread::spawn(move || {
            started.send(()).unwrap();
            tx.send(2)
        });
        waiting.recv().unwrap();
        drop(rx);
        assert!(sender.join().unwrap().is_err());
    }

    #[test]
    fn a_queue_grown_by_a_burst_shrinks_once_empty() {
        let (mut tx, mut rx) = MayChannel::new(1_000).new_channel().unwrap();
        assert_eq!(rx.shared.queue().capacity(), 0, "nothing before a command");
        for i in 0..500u32 {
            tx.send(i).unwrap();
        }
        for i in 0..500u32 {
            assert_eq!(rx.recv().unwrap(), Some(i));
        }
        assert!(rx.shared.queue().capacity() <= SHRINK_ABOVE);
    }
}
