//! [`LocalRcChannel`]: a bounded queue between services of one thread.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use super::{check_capacity, closed};
use crate::error::{Error, ErrorKind, ErrorLevel, Result};
use crate::service::{SpawnChannel, SpawnRecv, SpawnSend, TrySendError};

/// A same-thread bounded queue (`Rc<RefCell<VecDeque>>`). Nothing can wait
/// on one thread, so a full queue answers `ErrorKind::ChannelFull` to `send`
/// and `TrySendError::Full` to `try_send`.
///
/// The queue takes memory as commands come, not its capacity up front, and
/// gives back what a burst grew it to once it is empty: many channels that
/// are mostly idle (one per connection) hold little.
///
/// ```
/// use mydht_base::service::channel::LocalRcChannel;
/// use mydht_base::{ErrorKind, SpawnChannel, SpawnRecv, SpawnSend};
///
/// let (mut tx, mut rx) = LocalRcChannel::new(1).new_channel().unwrap();
/// tx.send(1u8).unwrap();
/// assert_eq!(tx.send(2).unwrap_err().kind(), ErrorKind::ChannelFull);
/// assert_eq!(rx.recv().unwrap(), Some(1));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LocalRcChannel {
    capacity: usize,
}

impl LocalRcChannel {
    /// A channel kind whose queues hold at most `capacity` commands (at
    /// least 1, checked by `new_channel`).
    pub fn new(capacity: usize) -> Self {
        LocalRcChannel { capacity }
    }
}

struct Queue<C> {
    items: RefCell<VecDeque<C>>,
    capacity: usize,
    senders: Cell<usize>,
    receiver_alive: Cell<bool>,
}

/// The sending side of a [`LocalRcChannel`]; clones share the queue.
pub struct LocalSend<C>(Rc<Queue<C>>);

/// The receiving side of a [`LocalRcChannel`].
pub struct LocalRecv<C>(Rc<Queue<C>>);

impl<C> SpawnChannel<C> for LocalRcChannel {
    type WeakSend = LocalSend<C>;
    type Send = LocalSend<C>;
    type Recv = LocalRecv<C>;

    fn new_channel(&mut self) -> Result<(LocalSend<C>, LocalRecv<C>)> {
        check_capacity(self.capacity)?;
        let queue = Rc::new(Queue {
            items: RefCell::new(VecDeque::new()),
            capacity: self.capacity,
            senders: Cell::new(1),
            receiver_alive: Cell::new(true),
        });
        Ok((LocalSend(queue.clone()), LocalRecv(queue)))
    }

    fn get_weak_send(send: &LocalSend<C>) -> Option<LocalSend<C>> {
        Some(send.clone())
    }
}

impl<C> LocalSend<C> {
    /// How many commands are queued.
    pub fn len(&self) -> usize {
        self.0.items.borrow().len()
    }

    /// True when no command is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<C> Clone for LocalSend<C> {
    fn clone(&self) -> Self {
        self.0.senders.set(self.0.senders.get() + 1);
        LocalSend(self.0.clone())
    }
}

impl<C> Drop for LocalSend<C> {
    fn drop(&mut self) {
        self.0.senders.set(self.0.senders.get() - 1);
    }
}

impl<C> Drop for LocalRecv<C> {
    fn drop(&mut self) {
        self.0.receiver_alive.set(false);
    }
}

impl<C> SpawnSend<C> for LocalSend<C> {
    fn send(&mut self, cmd: C) -> Result<()> {
        self.try_send(cmd).map_err(|e| match e {
            TrySendError::Full(_) => Error::new(
                ErrorKind::ChannelFull,
                ErrorLevel::Ignore,
                "same-thread channel full",
            ),
            TrySendError::Closed(_) => closed(),
        })
    }

    fn try_send(&mut self, cmd: C) -> std::result::Result<(), TrySendError<C>> {
        if !self.0.receiver_alive.get() {
            return Err(TrySendError::Closed(cmd));
        }
        let mut items = self.0.items.borrow_mut();
        if items.len() >= self.0.capacity {
            return Err(TrySendError::Full(cmd));
        }
        items.push_back(cmd);
        Ok(())
    }
}

/// Commands an empty queue keeps room for; room grown past
/// [`BURST_ROOM`] by a burst is given back down to this once the queue is
/// empty.
const KEPT_ROOM: usize = 8;

/// Room an empty queue may keep; past it (after a burst) it shrinks.
const BURST_ROOM: usize = 64;

impl<C> SpawnRecv<C> for LocalRecv<C> {
    fn recv(&mut self) -> Result<Option<C>> {
        let mut items = self.0.items.borrow_mut();
        match items.pop_front() {
            Some(c) => Ok(Some(c)),
            None if self.0.senders.get() == 0 => Err(closed()),
            None => {
                if items.capacity() > BURST_ROOM {
                    items.shrink_to(KEPT_ROOM);
                }
                Ok(None)
            }
        }
    }
}
