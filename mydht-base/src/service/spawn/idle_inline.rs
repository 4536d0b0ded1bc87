//! [`IdleInline`]: a service on the spawner `Sp` (its own thread, say)
//! whose senders run a command themselves while it is idle.
//!
//! The service and its destination live behind a mutex shared by the
//! spawned loop and the senders of its [`IdleInlineChannel`]. A sender
//! that takes the mutex at once (`try_lock`) and finds nothing queued or
//! being run runs its command there, on its own thread, with a yield that
//! answers [`YieldReturn::Return`]; else it queues the command as any
//! channel does. The loop takes the mutex for each command it runs (so
//! while it waits inside `call`, for room in its stream say, senders
//! queue). A command run in place that yields (its stream would block)
//! is finished by the loop: the sender queues a wake-up command and the
//! loop calls [`ServiceRestartable::resume`] before anything else.
//!
//! The handle wakes the loop only while it has something to do (a command
//! queued, or one it is in the middle of): a service parked on an empty
//! channel is not woken for a readiness it cannot use.
//!
//! [`IdleInlineChannel`]: crate::service::channel::IdleInlineChannel

use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use crate::error::{Error, ErrorKind, ErrorLevel, Result};
use crate::service::channel::idle_inline::{Gate, IdleInlineRecv, InlineTarget, Inlined};
use crate::service::{
    Service, ServiceRestartable, SpawnHandle, SpawnRecv, SpawnSend, SpawnUnyield, Spawner,
    SpawnerYield, TrySendError, YieldReturn,
};

/// A service whose commands a sender may run on its own thread
/// ([`IdleInline`]).
pub trait InlineCall: ServiceRestartable {
    /// True when `cmd` may run on a sender's thread now: it never waits
    /// there (a stream that would block yields), and the service is not
    /// in a state only its own loop should carry on.
    fn inline_ok(&self, cmd: &Self::CommandIn) -> bool;
}

/// Runs the service on `Sp` (pair it with an [`IdleInlineChannel`]); its
/// senders run a command in place while it is idle (module doc).
///
/// [`IdleInlineChannel`]: crate::service::channel::IdleInlineChannel
#[derive(Debug, Clone, Copy, Default)]
pub struct IdleInline<Sp>(pub Sp);

/// The yield of a command run in place: never waits.
struct ReturnYield;

impl SpawnerYield for ReturnYield {
    fn spawn_yield(&mut self) -> YieldReturn {
        YieldReturn::Return
    }
}

/// The service, its destination and what a command run in place left for
/// the loop.
struct Parts<S: Service, D> {
    service: S,
    dest: D,
    /// A command run in place yielded: `resume` it first.
    resume: bool,
    /// A result run in place whose destination was full.
    unsent: Option<S::CommandOut>,
    /// An error a command run in place ended with: it ends the loop.
    error: Option<Error>,
}

impl<S: ServiceRestartable, D: SpawnSend<S::CommandOut>> Parts<S, D> {
    /// On the loop's thread: what was left first, then `cmd`.
    fn run<Y: SpawnerYield>(&mut self, cmd: Option<S::CommandIn>, yld: &mut Y) -> Result<()> {
        if let Some(out) = self.unsent.take() {
            self.dest.send(out)?;
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.resume {
            self.resume = false;
            let res = self.service.resume(yld);
            self.deliver(res)?;
        }
        match cmd {
            Some(cmd) => {
                let res = self.service.call(cmd, yld).map(Some);
                self.deliver(res)
            }
            None => Ok(()),
        }
    }

    fn deliver(&mut self, res: Result<Option<S::CommandOut>>) -> Result<()> {
        match res {
            Ok(Some(out)) => self.dest.send(out),
            Ok(None) => Ok(()),
            Err(e) if e.is_yielded() => {
                self.resume = true;
                Err(e)
            }
            Err(e) if e.level() == ErrorLevel::Ignore => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// What the loop and the senders share.
struct Cell<S: Service, D> {
    parts: Mutex<Option<Parts<S, D>>>,
    pending: Arc<AtomicUsize>,
}

impl<S: Service, D> Cell<S, D> {
    fn lock(&self) -> MutexGuard<'_, Option<Parts<S, D>>> {
        self.parts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S, D> InlineTarget<S::CommandIn> for Cell<S, D>
where
    S: InlineCall + Send,
    S::CommandOut: Send,
    D: SpawnSend<S::CommandOut> + Send,
{
    fn try_call(&self, cmd: S::CommandIn) -> Inlined<S::CommandIn> {
        let mut guard = match self.parts.try_lock() {
            Ok(g) => g,
            Err(TryLockError::WouldBlock) | Err(TryLockError::Poisoned(_)) => {
                return Inlined::Back(cmd)
            }
        };
        let Some(p) = guard.as_mut() else {
            return Inlined::Back(cmd);
        };
        // Under the mutex the loop decrements `pending` only after a
        // command is done: zero means nothing queued or half done.
        if self.pending.load(Ordering::SeqCst) != 0
            || p.resume
            || p.unsent.is_some()
            || p.error.is_some()
            || !p.service.inline_ok(&cmd)
        {
            return Inlined::Back(cmd);
        }
        match p.service.call(cmd, &mut ReturnYield) {
            Ok(out) => match p.dest.try_send(out) {
                Ok(()) => return Inlined::Done,
                Err(TrySendError::Full(out)) | Err(TrySendError::Closed(out)) => {
                    p.unsent = Some(out)
                }
            },
            Err(e) if e.is_yielded() => p.resume = true,
            Err(e) if e.level() == ErrorLevel::Ignore => return Inlined::Done,
            Err(e) => p.error = Some(e),
        }
        // Counted before the mutex is released: no sender runs a command
        // in place until the loop has taken the wake-up.
        self.pending.fetch_add(1, Ordering::SeqCst);
        Inlined::Nudge
    }
}

/// The service the inner spawner runs: one command (or wake-up, `None`)
/// at a time under the mutex.
pub struct Proxy<S: Service, D> {
    cell: Arc<Cell<S, D>>,
}

impl<S: ServiceRestartable, D: SpawnSend<S::CommandOut>> Service for Proxy<S, D> {
    type CommandIn = Option<S::CommandIn>;
    type CommandOut = ();

    fn call<Y: SpawnerYield>(&mut self, cmd: Option<S::CommandIn>, yld: &mut Y) -> Result<()> {
        let mut guard = self.cell.lock();
        let res = match guard.as_mut() {
            Some(p) => p.run(cmd, yld),
            None => Ok(()),
        };
        // A command half done (a stop came while it waited) stays
        // counted: no sender runs one in place before it is finished.
        if !matches!(&res, Err(e) if e.is_yielded()) {
            self.cell.pending.fetch_sub(1, Ordering::SeqCst);
        }
        res
    }
}

/// The destination of the inner loop: the proxy sends its results itself.
pub struct NoOut;

impl SpawnSend<()> for NoOut {
    fn send(&mut self, (): ()) -> Result<()> {
        Ok(())
    }
    fn try_send(&mut self, (): ()) -> std::result::Result<(), TrySendError<()>> {
        Ok(())
    }
}

impl<S, D, R, Sp> Spawner<S, D, IdleInlineRecv<R, S::CommandIn>> for IdleInline<Sp>
where
    S: InlineCall + Send + 'static,
    S::CommandIn: 'static,
    S::CommandOut: Send,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<Option<S::CommandIn>>,
    Sp: Spawner<Proxy<S, D>, NoOut, R>,
{
    type Handle = IdleInlineHandle<S, D, R, Sp::Handle>;

    fn spawn(
        &mut self,
        service: S,
        dest: D,
        first_cmd: Option<S::CommandIn>,
        recv: IdleInlineRecv<R, S::CommandIn>,
        nb_loop: usize,
    ) -> Result<Self::Handle> {
        let IdleInlineRecv { inner, gate } = recv;
        let cell = Arc::new(Cell {
            parts: Mutex::new(Some(Parts {
                service,
                dest,
                resume: false,
                unsent: None,
                error: None,
            })),
            pending: gate.pending.clone(),
        });
        let first = first_cmd.is_some();
        gate.pending.fetch_add(usize::from(first), Ordering::SeqCst);
        let proxy = Proxy { cell: cell.clone() };
        let handle = self
            .0
            .spawn(proxy, NoOut, first_cmd.map(Some), inner, nb_loop)
            .inspect_err(|_| {
                gate.pending.fetch_sub(usize::from(first), Ordering::SeqCst);
            })?;
        gate.set(cell.clone());
        Ok(IdleInlineHandle {
            inner: Some(handle),
            cell,
            gate,
            _recv: PhantomData,
        })
    }
}

/// The handle of a service spawned with [`IdleInline`].
pub struct IdleInlineHandle<S: Service, D, R, H> {
    inner: Option<H>,
    cell: Arc<Cell<S, D>>,
    gate: Arc<Gate<S::CommandIn>>,
    /// The receiver given back (kept `Send` whatever `R` is).
    _recv: PhantomData<fn() -> R>,
}

/// A clonable handle of a service spawned with [`IdleInline`].
#[derive(Clone)]
pub struct IdleInlineWeak<W> {
    inner: W,
    pending: Arc<AtomicUsize>,
}

/// Wakes the loop only while it has something to do: nothing queued and
/// nothing half done means a readiness it could not use.
fn wake<H: SpawnUnyield>(pending: &AtomicUsize, inner: &mut H) -> Result<()> {
    if pending.load(Ordering::SeqCst) == 0 {
        return Ok(());
    }
    inner.unyield()
}

impl<S: Service, D, R, H> IdleInlineHandle<S, D, R, H> {
    fn stop_inline(&self) {
        self.gate.clear(Arc::as_ptr(&self.cell) as *const ());
    }
}

impl<S: Service, D, R, H> Drop for IdleInlineHandle<S, D, R, H> {
    fn drop(&mut self) {
        self.stop_inline();
    }
}

impl<S: Service, D, R, H: SpawnUnyield> SpawnUnyield for IdleInlineHandle<S, D, R, H> {
    fn is_finished(&mut self) -> bool {
        self.inner.as_mut().is_none_or(|h| h.is_finished())
    }

    fn unyield(&mut self) -> Result<()> {
        match self.inner.as_mut() {
            Some(h) => wake(&self.cell.pending, h),
            None => Ok(()),
        }
    }
}

impl<W: SpawnUnyield> SpawnUnyield for IdleInlineWeak<W> {
    fn is_finished(&mut self) -> bool {
        self.inner.is_finished()
    }

    fn unyield(&mut self) -> Result<()> {
        wake(&self.pending, &mut self.inner)
    }
}

impl<S, D, R, H> SpawnHandle<S, D, IdleInlineRecv<R, S::CommandIn>> for IdleInlineHandle<S, D, R, H>
where
    S: ServiceRestartable,
    D: SpawnSend<S::CommandOut>,
    H: SpawnHandle<Proxy<S, D>, NoOut, R>,
{
    type WeakHandle = IdleInlineWeak<H::WeakHandle>;

    fn unwrap_state(mut self) -> Result<(S, D, IdleInlineRecv<R, S::CommandIn>, Result<()>)> {
        self.stop_inline();
        let inner = self.inner.take().ok_or_else(|| {
            Error::new(
                ErrorKind::Other,
                ErrorLevel::ShutDown,
                "handle already used",
            )
        })?;
        let (_, _, recv, end) = inner.unwrap_state()?;
        let Some(mut p) = self.cell.lock().take() else {
            return Err(Error::new(
                ErrorKind::ServiceDied,
                ErrorLevel::ShutDown,
                "service state lost",
            ));
        };
        if let Some(out) = p.unsent.take() {
            // Best effort: the owner is taking the service back.
            let _ = p.dest.try_send(out);
        }
        let end = match (end, p.error.take()) {
            (Ok(()), Some(e)) => Err(e),
            (end, _) => end,
        };
        let recv = IdleInlineRecv {
            inner: recv,
            gate: self.gate.clone(),
        };
        Ok((p.service, p.dest, recv, end))
    }

    fn get_weak_handle(&self) -> Option<Self::WeakHandle> {
        let inner = self.inner.as_ref()?.get_weak_handle()?;
        Some(IdleInlineWeak {
            inner,
            pending: self.cell.pending.clone(),
        })
    }
}
