//! The thread of an [`IdleInline`](super::IdleInline) service, started
//! only when a command must be queued (a sender could not run it in
//! place) and given back once it has nothing left to do.
//!
//! Each start is a *run*: the inner spawner spawns the [`Proxy`] on a
//! [`LazyRecv`], which reads the channel's receiver (shared by the runs,
//! one at a time). A run whose channel is empty and that has nothing
//! counted in `pending` (nothing queued, half done or being pushed) ends
//! as if its channel were closed, so its thread goes back to the reuse
//! pool; until the next command that must be queued, the service holds no
//! thread. [`ThreadPark`](crate::ThreadPark)'s threads are reused, so a
//! start is usually a condvar wake-up of an idle thread.
//!
//! Protocol between a run ending and a sender (through the handle's
//! `unyield`) starting the next one: a sender counts its command in
//! `pending` before it queues it, and `wake` (after the queueing) starts a
//! run if `running` is false (compare-exchange, under the run mutex), else
//! notifies the current run. A run ends only after storing `running =
//! false` then finding `pending` zero; if it finds it non-zero it takes
//! `running` back (compare-exchange) and goes on, and if a sender took it
//! first, it ends and the sender's run reads the command. With both sides
//! sequentially consistent, one of them always sees the other: a queued
//! command never waits without a run in charge.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Cell, NoOut, Proxy};
use crate::error::{Error, ErrorKind, ErrorLevel, Result};
use crate::service::{
    Service, ServiceRestartable, SpawnHandle, SpawnRecv, SpawnSend, SpawnUnyield, Spawner,
};

/// Empty receives in a row a run makes (its spawner's short poll, about a
/// microsecond for [`ThreadPark`](crate::ThreadPark)) before it ends: a
/// command queued right behind the last one finds the thread still there.
const LINGER_POLLS: u32 = 7;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the runs and the handle share.
pub(crate) struct Idle<R> {
    /// The channel's receiver; `None` once the owner took it back.
    recv: Mutex<Option<R>>,
    /// The gate's count of commands queued or being run.
    pending: Arc<AtomicUsize>,
    /// A run is in charge of the channel.
    running: AtomicBool,
}

impl<R> Idle<R> {
    pub(crate) fn new(recv: R, pending: Arc<AtomicUsize>) -> Self {
        Idle {
            recv: Mutex::new(Some(recv)),
            pending,
            running: AtomicBool::new(false),
        }
    }
}

/// The receiver of one run of an [`IdleInline`](super::IdleInline)
/// service: the channel's, shared with the runs before and after it. It
/// answers as a closed channel (a normal end of the run) once the channel
/// stayed empty for a few polls with nothing left to do (module doc).
pub struct LazyRecv<R> {
    idle: Arc<Idle<R>>,
    empties: u32,
}

fn run_over() -> Error {
    Error::new(
        ErrorKind::ChannelClosed,
        ErrorLevel::ShutDown,
        "idle: the run ends",
    )
}

impl<R: SpawnRecv<Option<C>>, C> SpawnRecv<Option<C>> for LazyRecv<R> {
    fn recv(&mut self) -> Result<Option<Option<C>>> {
        let mut recv = lock(&self.idle.recv);
        let Some(r) = recv.as_mut() else {
            return Err(run_over());
        };
        if let Some(cmd) = r.recv()? {
            self.empties = 0;
            return Ok(Some(cmd));
        }
        self.empties = self.empties.saturating_add(1);
        let idle = &self.idle;
        if self.empties <= LINGER_POLLS || idle.pending.load(Ordering::SeqCst) != 0 {
            return Ok(None);
        }
        idle.running.store(false, Ordering::SeqCst);
        if idle.pending.load(Ordering::SeqCst) != 0
            && idle
                .running
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            // A command came meanwhile and no sender started a run for
            // it: this one goes on.
            return Ok(None);
        }
        Err(run_over())
    }

    /// As [`recv`](SpawnRecv::recv): the receiver is shared between runs
    /// and never waits while it holds it.
    fn recv_wait(&mut self) -> Result<Option<Option<C>>> {
        self.recv()
    }
}

impl<R> Drop for LazyRecv<R> {
    /// A run dropped by its service's panic takes the channel's receiver
    /// with it, as a thread spawner's dead service does: the service's
    /// state is lost (`unwrap_state` is `ServiceDied`), and senders
    /// waiting for room in the full channel, or sending later, get
    /// `ChannelClosed` instead of waiting for a reader that never comes.
    fn drop(&mut self) {
        if std::thread::panicking() {
            let recv = lock(&self.idle.recv).take();
            drop(recv);
        }
    }
}

/// The current (or last) run, under the run mutex.
struct Run<Sp, H> {
    spawner: Sp,
    handle: Option<H>,
    nb_loop: usize,
    /// The owner took the service back or dropped its handle: no new run.
    stopped: bool,
    /// A run ended with this error (its thread died): no new run.
    failed: Option<Error>,
}

/// An [`IdleInline`](super::IdleInline) service's lazily started thread.
pub(crate) struct Lazy<S: Service, D, R, Sp, H> {
    cell: Arc<Cell<S, D>>,
    idle: Arc<Idle<R>>,
    run: Mutex<Run<Sp, H>>,
}

/// What a weak handle reaches, whatever the service's types.
pub(crate) trait Wake: Send + Sync {
    /// Starts a run if none is in charge, else notifies the current one.
    fn wake(&self) -> Result<()>;
    /// True once a run ended for good (error, closed channel, iteration
    /// count): not while the service is only idle.
    fn finished(&self) -> bool;
}

impl<S, D, R, Sp> Lazy<S, D, R, Sp, Sp::Handle>
where
    S: ServiceRestartable,
    D: SpawnSend<S::CommandOut>,
    R: SpawnRecv<Option<S::CommandIn>>,
    Sp: Spawner<Proxy<S, D>, NoOut, LazyRecv<R>>,
{
    pub(crate) fn new(
        cell: Arc<Cell<S, D>>,
        idle: Arc<Idle<R>>,
        spawner: Sp,
        nb_loop: usize,
    ) -> Self {
        Lazy {
            cell,
            idle,
            run: Mutex::new(Run {
                spawner,
                handle: None,
                nb_loop,
                stopped: false,
                failed: None,
            }),
        }
    }

    /// Starts a run on `first` (a command, or `None` for a wake-up)
    /// unless one is in charge; then `first` is queued by its sender, not
    /// here: only the spawn calls this with a first command.
    pub(crate) fn start(&self, first: Option<Option<S::CommandIn>>) -> Result<()> {
        let mut run = lock(&self.run);
        self.start_locked(&mut run, first)
    }

    fn start_locked(
        &self,
        run: &mut Run<Sp, Sp::Handle>,
        first: Option<Option<S::CommandIn>>,
    ) -> Result<()> {
        if run.stopped || run.failed.is_some() {
            return Ok(());
        }
        if self
            .idle
            .running
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return match run.handle.as_mut() {
                Some(h) => h.unyield(),
                None => Ok(()),
            };
        }
        if let Some(old) = run.handle.take() {
            // It gave `running` up: it is ending (a few instructions), or
            // ended.
            let end = old.unwrap_state().and_then(|(_, _, _, end)| end);
            if let Err(e) = end {
                run.failed = Some(e.clone());
                return Err(e);
            }
        }
        let recv = LazyRecv {
            idle: self.idle.clone(),
            empties: 0,
        };
        let proxy = Proxy {
            cell: self.cell.clone(),
        };
        let nb_loop = run.nb_loop;
        match run.spawner.spawn(proxy, NoOut, first, recv, nb_loop) {
            Ok(h) => {
                run.handle = Some(h);
                Ok(())
            }
            Err(e) => {
                // Nothing in charge: the next `unyield` tries again.
                self.idle.running.store(false, Ordering::SeqCst);
                Err(e)
            }
        }
    }

    /// No run from now on: the current one (if any) is asked to end once
    /// its channel is empty. Commands still queued with no run in charge
    /// get one first, so they are run as a thread spawner's stop would.
    /// The run's handle, to wait for, and an earlier run's failure.
    pub(crate) fn stop(&self) -> (Option<Sp::Handle>, Option<Error>) {
        let mut run = lock(&self.run);
        if self.idle.pending.load(Ordering::SeqCst) != 0 {
            // Best effort: a run that cannot start leaves them queued.
            let _ = self.start_locked(&mut run, None);
        }
        run.stopped = true;
        (run.handle.take(), run.failed.take())
    }

    /// The receiver, once no run reads it.
    pub(crate) fn take_recv(&self) -> Option<R> {
        lock(&self.idle.recv).take()
    }

    pub(crate) fn pending(&self) -> &Arc<AtomicUsize> {
        &self.idle.pending
    }
}

impl<S, D, R, Sp> Wake for Lazy<S, D, R, Sp, Sp::Handle>
where
    S: ServiceRestartable + Send,
    S::CommandIn: Send,
    S::CommandOut: Send,
    D: SpawnSend<S::CommandOut> + Send,
    R: SpawnRecv<Option<S::CommandIn>> + Send,
    Sp: Spawner<Proxy<S, D>, NoOut, LazyRecv<R>> + Send,
    Sp::Handle: Send,
{
    fn wake(&self) -> Result<()> {
        self.start(None)
    }

    fn finished(&self) -> bool {
        // Idle (the common case): no lock. A run that failed to be
        // collected leaves `running` set and no handle.
        if !self.idle.running.load(Ordering::SeqCst) {
            return false;
        }
        let mut run = lock(&self.run);
        // The handle first: a run that gives the service back stores
        // `running = false` before its thread ends, and it does so without
        // this lock. Read the other way round, `running` from before that
        // store and the handle from after its end made an idle service
        // look finished for an instant.
        let run_ended = run.handle.as_mut().is_none_or(|h| h.is_finished());
        run_ended && self.idle.running.load(Ordering::SeqCst)
    }
}
