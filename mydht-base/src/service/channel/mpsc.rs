//! [`MpscChannel`]: a bounded std `sync_channel` between threads.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::time::Duration;

use super::{check_capacity, closed, WAIT_SLICE};
use crate::error::Result;
use crate::service::{SpawnChannel, SpawnRecv, SpawnSend, TrySendError};
use crate::sref::{SRef, SToRef};

/// A bounded channel between threads (std `sync_channel`): `send` waits while
/// `capacity` commands are queued, `try_send` gives the command back.
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

/// The sending side of an [`MpscChannel`]; clones share the queue.
#[derive(Debug)]
pub struct MpscSend<C>(SyncSender<C>);

impl<C> Clone for MpscSend<C> {
    fn clone(&self) -> Self {
        MpscSend(self.0.clone())
    }
}

/// The receiving side of an [`MpscChannel`].
#[derive(Debug)]
pub struct MpscRecv<C>(Receiver<C>);

impl<C: Send> SpawnChannel<C> for MpscChannel {
    type WeakSend = MpscSend<C>;
    type Send = MpscSend<C>;
    type Recv = MpscRecv<C>;

    fn new_channel(&mut self) -> Result<(MpscSend<C>, MpscRecv<C>)> {
        check_capacity(self.capacity)?;
        let (tx, rx) = mpsc::sync_channel(self.capacity);
        Ok((MpscSend(tx), MpscRecv(rx)))
    }

    fn get_weak_send(send: &MpscSend<C>) -> Option<MpscSend<C>> {
        Some(send.clone())
    }
}

impl<C> SpawnSend<C> for MpscSend<C> {
    fn send(&mut self, cmd: C) -> Result<()> {
        self.0.send(cmd).map_err(|_| closed())
    }

    fn try_send(&mut self, cmd: C) -> std::result::Result<(), TrySendError<C>> {
        self.0.try_send(cmd).map_err(|e| match e {
            mpsc::TrySendError::Full(c) => TrySendError::Full(c),
            mpsc::TrySendError::Disconnected(c) => TrySendError::Closed(c),
        })
    }
}

impl<C> MpscRecv<C> {
    /// Waits at most `timeout` for a command: `Ok(None)` when none came.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<C>> {
        match self.0.recv_timeout(timeout) {
            Ok(c) => Ok(Some(c)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(closed()),
        }
    }
}

impl<C> SpawnRecv<C> for MpscRecv<C> {
    fn recv(&mut self) -> Result<Option<C>> {
        match self.0.try_recv() {
            Ok(c) => Ok(Some(c)),
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
