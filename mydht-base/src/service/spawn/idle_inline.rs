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
//! The loop has a thread only while it has something to do (`lazy`): the
//! handle's `unyield` starts one (an idle thread of the reuse pool, for
//! [`ThreadPark`](crate::ThreadPark)) when a command is queued or one
//! run in place must be finished, and the loop ends, giving its thread
//! back, once its channel stays empty with nothing left to do. An idle
//! service holds no thread; a readiness it cannot use starts none.
//!
//! [`IdleInlineChannel`]: crate::service::channel::IdleInlineChannel

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError, Weak};

use crate::error::{Error, ErrorKind, ErrorLevel, Result};
use crate::service::channel::idle_inline::{Gate, IdleInlineRecv, InlineTarget, Inlined};
use crate::service::{
    Service, ServiceRestartable, SpawnHandle, SpawnRecv, SpawnSend, SpawnUnyield, Spawner,
    SpawnerYield, TrySendError, YieldReturn,
};

mod lazy;

pub use lazy::LazyRecv;
use lazy::{Idle, Lazy, Wake};

/// A service whose commands a sender may run on its own thread
/// ([`IdleInline`]).
pub trait InlineCall: ServiceRestartable {
    /// True when `cmd` may run on a sender's thread now: it never waits
    /// there (a stream that would block yields), and the service is not
    /// in a state only its own loop should carry on.
    fn inline_ok(&self, cmd: &Self::CommandIn) -> bool;

    /// Runs `cmd` on a sender's thread (`inline_ok` took it). By default
    /// [`call`](Service::call) with a yield that returns
    /// ([`YieldReturn::Return`]): a command that yields is finished by
    /// the loop ([`ServiceRestartable::resume`]). A service that cannot
    /// stop half way calls with a yield of its own.
    fn call_in_place(&mut self, cmd: Self::CommandIn) -> Result<Self::CommandOut> {
        self.call(cmd, &mut ReturnYield)
    }
}

/// Runs the service on `Sp` (pair it with an [`IdleInlineChannel`]); its
/// senders run a command in place while it is idle (module doc).
///
/// [`IdleInlineChannel`]: crate::service::channel::IdleInlineChannel
#[derive(Debug, Clone, Copy, Default)]
pub struct IdleInline<Sp>(pub Sp);

/// The yield of a command run in place ([`InlineCall::call_in_place`]):
/// never waits, it answers [`YieldReturn::Return`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ReturnYield;

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
        match p.service.call_in_place(cmd) {
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
    S::CommandIn: Send + 'static,
    S::CommandOut: Send,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<Option<S::CommandIn>> + Send + 'static,
    Sp: Spawner<Proxy<S, D>, NoOut, LazyRecv<R>> + Clone + Send + 'static,
    Sp::Handle: Send + 'static,
{
    type Handle = IdleInlineHandle<S, D, R, Sp>;

    /// Spawns no thread: a first command is run in place here if the
    /// service takes it so; the thread starts when a command must be
    /// queued (module doc).
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
        let idle = Arc::new(Idle::new(inner, gate.pending.clone()));
        let lazy = Arc::new(Lazy::new(cell.clone(), idle, self.0.clone(), nb_loop));
        let first = match first_cmd.map(|cmd| cell.try_call(cmd)) {
            None | Some(Inlined::Done) => None,
            Some(Inlined::Back(cmd)) => {
                gate.pending.fetch_add(1, Ordering::SeqCst);
                Some(Some(cmd))
            }
            // Counted by `try_call`: the wake-up command.
            Some(Inlined::Nudge) => Some(None),
        };
        if let Some(first) = first {
            let counted = lazy.start(Some(first));
            if let Err(e) = counted {
                gate.pending.fetch_sub(1, Ordering::SeqCst);
                return Err(e);
            }
        } else if gate.pending.load(Ordering::SeqCst) != 0 {
            // Commands an earlier loop left queued (it ended on its
            // command count, say): read at once, as a thread spawner's
            // new loop would.
            lazy.start(None)?;
        }
        gate.set(cell.clone());
        Ok(IdleInlineHandle {
            lazy: Some(lazy),
            cell,
            gate,
        })
    }
}

/// The handle of a service spawned with [`IdleInline`]: the service's
/// thread, while it has one, is started and given back through it.
pub struct IdleInlineHandle<S, D, R, Sp>
where
    S: ServiceRestartable,
    D: SpawnSend<S::CommandOut>,
    Sp: Spawner<Proxy<S, D>, NoOut, LazyRecv<R>>,
    R: SpawnRecv<Option<S::CommandIn>>,
{
    lazy: Option<Runner<S, D, R, Sp>>,
    cell: Arc<Cell<S, D>>,
    gate: Arc<Gate<S::CommandIn>>,
}

/// The lazily started thread of a service spawned on `IdleInline<Sp>`.
type Runner<S, D, R, Sp> =
    Arc<Lazy<S, D, R, Sp, <Sp as Spawner<Proxy<S, D>, NoOut, LazyRecv<R>>>::Handle>>;

/// A clonable handle of a service spawned with [`IdleInline`]; it does
/// not keep the service alive.
#[derive(Clone)]
pub struct IdleInlineWeak {
    lazy: Weak<dyn Wake>,
    pending: Arc<AtomicUsize>,
}

/// Wakes the service only while it has something to do (a command queued
/// or half done): starts its thread if it has none. A readiness while it
/// is idle is one it could not use.
fn wake(pending: &AtomicUsize, lazy: &dyn Wake) -> Result<()> {
    if pending.load(Ordering::SeqCst) == 0 {
        return Ok(());
    }
    lazy.wake()
}

impl<S, D, R, Sp> IdleInlineHandle<S, D, R, Sp>
where
    S: ServiceRestartable,
    D: SpawnSend<S::CommandOut>,
    Sp: Spawner<Proxy<S, D>, NoOut, LazyRecv<R>>,
    R: SpawnRecv<Option<S::CommandIn>>,
{
    fn stop_inline(&self) {
        self.gate.clear(Arc::as_ptr(&self.cell) as *const ());
    }
}

impl<S, D, R, Sp> Drop for IdleInlineHandle<S, D, R, Sp>
where
    S: ServiceRestartable,
    D: SpawnSend<S::CommandOut>,
    Sp: Spawner<Proxy<S, D>, NoOut, LazyRecv<R>>,
    R: SpawnRecv<Option<S::CommandIn>>,
{
    /// Senders queue from now on; a running thread is asked to end once
    /// its channel is empty (dropping its handle).
    fn drop(&mut self) {
        self.stop_inline();
        if let Some(lazy) = self.lazy.take() {
            drop(lazy.stop());
        }
    }
}

impl<S, D, R, Sp> SpawnUnyield for IdleInlineHandle<S, D, R, Sp>
where
    S: InlineCall + Send + 'static,
    S::CommandIn: Send + 'static,
    S::CommandOut: Send,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<Option<S::CommandIn>> + Send + 'static,
    Sp: Spawner<Proxy<S, D>, NoOut, LazyRecv<R>> + Send + 'static,
    Sp::Handle: Send + 'static,
{
    fn is_finished(&mut self) -> bool {
        self.lazy.as_ref().is_none_or(|l| l.finished())
    }

    fn unyield(&mut self) -> Result<()> {
        match self.lazy.as_deref() {
            Some(l) => wake(&self.cell.pending, l),
            None => Ok(()),
        }
    }
}

impl SpawnUnyield for IdleInlineWeak {
    fn is_finished(&mut self) -> bool {
        self.lazy.upgrade().is_none_or(|l| l.finished())
    }

    fn unyield(&mut self) -> Result<()> {
        if self.pending.load(Ordering::SeqCst) == 0 {
            return Ok(());
        }
        match self.lazy.upgrade() {
            Some(l) => wake(&self.pending, &*l),
            None => Ok(()),
        }
    }
}

impl<S, D, R, Sp> SpawnHandle<S, D, IdleInlineRecv<R, S::CommandIn>>
    for IdleInlineHandle<S, D, R, Sp>
where
    S: InlineCall + Send + 'static,
    S::CommandIn: Send + 'static,
    S::CommandOut: Send,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<Option<S::CommandIn>> + Send + 'static,
    Sp: Spawner<Proxy<S, D>, NoOut, LazyRecv<R>> + Send + 'static,
    Sp::Handle: Send + 'static,
{
    type WeakHandle = IdleInlineWeak;

    fn unwrap_state(mut self) -> Result<(S, D, IdleInlineRecv<R, S::CommandIn>, Result<()>)> {
        self.stop_inline();
        let lazy = self.lazy.take().ok_or_else(|| {
            Error::new(
                ErrorKind::Other,
                ErrorLevel::ShutDown,
                "handle already used",
            )
        })?;
        let (handle, failed) = lazy.stop();
        let end = match handle {
            Some(h) => h.unwrap_state()?.3,
            None => Ok(()),
        };
        let lost = || {
            Error::new(
                ErrorKind::ServiceDied,
                ErrorLevel::ShutDown,
                "service state lost",
            )
        };
        let inner = lazy.take_recv().ok_or_else(lost)?;
        let mut p = self.cell.lock().take().ok_or_else(lost)?;
        if let Some(out) = p.unsent.take() {
            // Best effort: the owner is taking the service back.
            let _ = p.dest.try_send(out);
        }
        let end = match (end, failed.or(p.error.take())) {
            (Ok(()), Some(e)) => Err(e),
            (end, _) => end,
        };
        let recv = IdleInlineRecv {
            inner,
            gate: self.gate.clone(),
        };
        Ok((p.service, p.dest, recv, end))
    }

    fn get_weak_handle(&self) -> Option<IdleInlineWeak> {
        let lazy = self.lazy.as_ref()?;
        let pending = lazy.pending().clone();
        let lazy: Arc<dyn Wake> = lazy.clone();
        Some(IdleInlineWeak {
            lazy: Arc::downgrade(&lazy),
            pending,
        })
    }
}
