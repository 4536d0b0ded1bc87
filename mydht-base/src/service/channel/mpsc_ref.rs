//! [`MpscChannelRef`]: a bounded channel between threads for commands that
//! are [`SRef`] (hold `Rc`s): they cross as their sendable form and are
//! rebuilt on receive.

use std::marker::PhantomData;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::time::Duration;

use super::{check_capacity, closed, WAIT_SLICE};
use crate::error::Result;
use crate::service::{SpawnChannel, SpawnRecv, SpawnSend, TrySendError};
use crate::sref::{SRef, SToRef};

/// A bounded channel between threads carrying `C::Send` for an [`SRef`]
/// command `C`: the sender turns `C` into its sendable form, the receiver
/// turns it back, so both sides work with `C` (`Rc`s included).
#[derive(Debug, Clone, Copy)]
pub struct MpscChannelRef {
    capacity: usize,
}

impl MpscChannelRef {
    /// A channel kind whose queues hold at most `capacity` commands (at
    /// least 1, checked by `new_channel`).
    pub fn new(capacity: usize) -> Self {
        MpscChannelRef { capacity }
    }
}

/// The sending side of an [`MpscChannelRef`].
pub struct MpscRefSend<C: SRef> {
    tx: SyncSender<C::Send>,
}

impl<C: SRef> Clone for MpscRefSend<C> {
    fn clone(&self) -> Self {
        MpscRefSend {
            tx: self.tx.clone(),
        }
    }
}

/// The receiving side of an [`MpscChannelRef`].
pub struct MpscRefRecv<C: SRef> {
    rx: Receiver<C::Send>,
    // `fn() -> C` keeps the receiver `Send` even when `C` holds `Rc`s: only
    // the sendable form is stored.
    _cmd: PhantomData<fn() -> C>,
}

impl<C: SRef> SpawnChannel<C> for MpscChannelRef {
    type WeakSend = MpscRefSend<C>;
    type Send = MpscRefSend<C>;
    type Recv = MpscRefRecv<C>;

    fn new_channel(&mut self) -> Result<(MpscRefSend<C>, MpscRefRecv<C>)> {
        check_capacity(self.capacity)?;
        let (tx, rx) = mpsc::sync_channel(self.capacity);
        Ok((
            MpscRefSend { tx },
            MpscRefRecv {
                rx,
                _cmd: PhantomData,
            },
        ))
    }

    fn get_weak_send(send: &MpscRefSend<C>) -> Option<MpscRefSend<C>> {
        Some(send.clone())
    }
}

impl<C: SRef> SpawnSend<C> for MpscRefSend<C> {
    fn send(&mut self, cmd: C) -> Result<()> {
        self.tx.send(cmd.get_sendable()).map_err(|_| closed())
    }

    fn try_send(&mut self, cmd: C) -> std::result::Result<(), TrySendError<C>> {
        self.tx.try_send(cmd.get_sendable()).map_err(|e| match e {
            mpsc::TrySendError::Full(c) => TrySendError::Full(c.to_ref()),
            mpsc::TrySendError::Disconnected(c) => TrySendError::Closed(c.to_ref()),
        })
    }
}

impl<C: SRef> MpscRefRecv<C> {
    /// Waits at most `timeout` for a command: `Ok(None)` when none came.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<C>> {
        match self.rx.recv_timeout(timeout) {
            Ok(c) => Ok(Some(c.to_ref())),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(closed()),
        }
    }
}

impl<C: SRef> SpawnRecv<C> for MpscRefRecv<C> {
    fn recv(&mut self) -> Result<Option<C>> {
        match self.rx.try_recv() {
            Ok(c) => Ok(Some(c.to_ref())),
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

// Both ends only hold the sendable form: they cross threads as they are.
impl<C: SRef> SRef for MpscRefSend<C> {
    type Send = Self;
    fn get_sendable(self) -> Self {
        self
    }
}

impl<C: SRef> SToRef<MpscRefSend<C>> for MpscRefSend<C> {
    fn to_ref(self) -> Self {
        self
    }
}

impl<C: SRef> SRef for MpscRefRecv<C> {
    type Send = Self;
    fn get_sendable(self) -> Self {
        self
    }
}

impl<C: SRef> SToRef<MpscRefRecv<C>> for MpscRefRecv<C> {
    fn to_ref(self) -> Self {
        self
    }
}
