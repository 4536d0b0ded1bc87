//! [`IdleInlineChannel`]: the channel of a service spawned with
//! [`IdleInline`](crate::service::spawn::IdleInline), whose senders run a
//! command themselves when the service is idle.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::MpscChannel;
use crate::error::Result;
use crate::service::{SpawnChannel, SpawnRecv, SpawnSend, TrySendError};

/// What a sender's attempt to run a command in place came to.
pub(crate) enum Inlined<C> {
    /// Run: nothing to queue.
    Done,
    /// Not run (the service is busy, has queued commands, or will not take
    /// this command in place): queue it.
    Back(C),
    /// Run, but the service thread must finish it (a write that would
    /// block) or report its outcome: the target counted a wake-up command
    /// in `pending`; the sender queues it.
    Nudge,
}

/// A service a sender can run in place.
pub(crate) trait InlineTarget<C>: Send + Sync {
    /// Runs `cmd` on the caller's thread if the service is idle.
    fn try_call(&self, cmd: C) -> Inlined<C>;
}

type Target<C> = Arc<dyn InlineTarget<C>>;

/// What the senders, the receiver and the spawned service share.
pub(crate) struct Gate<C> {
    /// Commands queued or being run by the service thread (wake-up
    /// commands included): a sender runs a command in place only while it
    /// is zero, and a wake-up is needed only while it is not.
    pub(crate) pending: Arc<AtomicUsize>,
    /// The running service, while one is spawned.
    target: Mutex<Option<Target<C>>>,
}

impl<C> Gate<C> {
    fn target(&self) -> Option<Target<C>> {
        self.target
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The spawned service senders may run in place from now on.
    pub(crate) fn set(&self, target: Target<C>) {
        *self.target.lock().unwrap_or_else(PoisonError::into_inner) = Some(target);
    }

    /// Senders no longer run `target` (its loop ends): if it is still the
    /// one set.
    pub(crate) fn clear(&self, target: *const ()) {
        let mut t = self.target.lock().unwrap_or_else(PoisonError::into_inner);
        if t.as_ref()
            .is_some_and(|t| Arc::as_ptr(t) as *const () == target)
        {
            *t = None;
        }
    }
}

/// The channel of a service spawned with
/// [`IdleInline`](crate::service::spawn::IdleInline): `Ch` carries its
/// commands (and wake-up commands, as `None`), and its senders try to run
/// a command on their own thread first. For a service on a thread of its
/// own this saves a thread wake-up per command while the service waits for
/// work: the command is done before `send` returns.
///
/// A command is run in place only when nothing is queued or being run by
/// the service's thread, so that every sender's commands keep their
/// order; otherwise it is queued as with `Ch`.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdleInlineChannel<Ch>(pub Ch);

impl IdleInlineChannel<MpscChannel> {
    /// An [`MpscChannel`] of `capacity`.
    pub fn new(capacity: usize) -> Self {
        IdleInlineChannel(MpscChannel::new(capacity))
    }
}

/// A sender of an [`IdleInlineChannel`].
pub struct IdleInlineSend<T, C> {
    inner: T,
    pub(crate) gate: Arc<Gate<C>>,
}

impl<T: Clone, C> Clone for IdleInlineSend<T, C> {
    fn clone(&self) -> Self {
        IdleInlineSend {
            inner: self.inner.clone(),
            gate: self.gate.clone(),
        }
    }
}

/// The receiver of an [`IdleInlineChannel`]: the inner receiver, for the
/// [`IdleInline`](crate::service::spawn::IdleInline) spawner.
pub struct IdleInlineRecv<R, C> {
    pub(crate) inner: R,
    pub(crate) gate: Arc<Gate<C>>,
}

impl<R, C> IdleInlineRecv<R, C> {
    /// The inner receiver.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The same channel read through `f(inner)`: for a spawner that
    /// wraps the inner receiver (one that acts when it finds the channel
    /// empty, say).
    pub fn map_inner<R2>(self, f: impl FnOnce(R) -> R2) -> IdleInlineRecv<R2, C> {
        IdleInlineRecv {
            inner: f(self.inner),
            gate: self.gate,
        }
    }
}

impl<C, Ch> SpawnChannel<C> for IdleInlineChannel<Ch>
where
    Ch: SpawnChannel<Option<C>>,
{
    type WeakSend = IdleInlineSend<Ch::WeakSend, C>;
    type Send = IdleInlineSend<Ch::Send, C>;
    type Recv = IdleInlineRecv<Ch::Recv, C>;

    fn new_channel(&mut self) -> Result<(Self::Send, Self::Recv)> {
        let (send, recv) = self.0.new_channel()?;
        let gate = Arc::new(Gate {
            pending: Arc::new(AtomicUsize::new(0)),
            target: Mutex::new(None),
        });
        Ok((
            IdleInlineSend {
                inner: send,
                gate: gate.clone(),
            },
            IdleInlineRecv { inner: recv, gate },
        ))
    }

    fn get_weak_send(send: &Self::Send) -> Option<Self::WeakSend> {
        Ch::get_weak_send(&send.inner).map(|inner| IdleInlineSend {
            inner,
            gate: send.gate.clone(),
        })
    }
}

impl<T: SpawnSend<Option<C>>, C> IdleInlineSend<T, C> {
    /// Runs `cmd` in place if the service lets it; `Some` to queue.
    fn inline(&mut self, cmd: C) -> Option<C> {
        let Some(target) = self.gate.target() else {
            return Some(cmd);
        };
        match target.try_call(cmd) {
            Inlined::Done => None,
            Inlined::Back(cmd) => Some(cmd),
            Inlined::Nudge => {
                // Counted by the target. A full queue needs none: the
                // service finishes what is left before its next command.
                if self.inner.try_send(None).is_err() {
                    self.gate.pending.fetch_sub(1, Ordering::SeqCst);
                }
                None
            }
        }
    }
}

impl<T: SpawnSend<Option<C>>, C> SpawnSend<C> for IdleInlineSend<T, C> {
    fn send(&mut self, cmd: C) -> Result<()> {
        let Some(cmd) = self.inline(cmd) else {
            return Ok(());
        };
        self.gate.pending.fetch_add(1, Ordering::SeqCst);
        self.inner.send(Some(cmd)).inspect_err(|_| {
            self.gate.pending.fetch_sub(1, Ordering::SeqCst);
        })
    }

    fn try_send(&mut self, cmd: C) -> std::result::Result<(), TrySendError<C>> {
        let Some(cmd) = self.inline(cmd) else {
            return Ok(());
        };
        self.gate.pending.fetch_add(1, Ordering::SeqCst);
        self.inner.try_send(Some(cmd)).map_err(|e| {
            self.gate.pending.fetch_sub(1, Ordering::SeqCst);
            match e {
                TrySendError::Full(c) => TrySendError::Full(c.expect("a command was sent")),
                TrySendError::Closed(c) => TrySendError::Closed(c.expect("a command was sent")),
            }
        })
    }
}

/// Read alone (not through its spawner), the receiver skips wake-up
/// commands.
impl<R: SpawnRecv<Option<C>>, C> SpawnRecv<C> for IdleInlineRecv<R, C> {
    fn recv(&mut self) -> Result<Option<C>> {
        loop {
            match self.inner.recv()? {
                Some(Some(cmd)) => return Ok(Some(cmd)),
                Some(None) => continue,
                None => return Ok(None),
            }
        }
    }

    fn recv_wait(&mut self) -> Result<Option<C>> {
        loop {
            match self.inner.recv_wait()? {
                Some(Some(cmd)) => return Ok(Some(cmd)),
                Some(None) => continue,
                None => return Ok(None),
            }
        }
    }
}
