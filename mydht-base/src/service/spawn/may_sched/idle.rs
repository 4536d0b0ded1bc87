//! [`MayIdle`]: a restartable service as a may coroutine that ends while
//! the service stays idle, so an idle service holds no coroutine and no
//! stack.
//!
//! A coroutine that waits idle (on an empty channel, or in
//! [`MayCoroutine::park_idle`], for a socket's readiness say) across a
//! whole [`IDLE_AFTER`] is asked to suspend by the process's sweeper
//! thread: it wakes, its service yields `Return` and keeps its progress
//! ([`ServiceRestartable`]), the loop's state goes into the handle and the
//! coroutine ends (may unmaps its stack). What would have woken it then
//! restarts it on a new coroutine: the channel's sender's
//! [`SpawnUnyield::unyield`], or the [`MayWaker`] the wait was handed (the
//! socket's readiness). A busy service never suspends; it pays two atomic
//! stores around each idle park.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::thread::Thread;
use std::time::Duration;

use may::coroutine::{self, Builder, Coroutine, JoinHandle};

use super::{end_outside_a_wake_up, set_ctl, stack_words, CoCtl, MayCoroutine};
use crate::error::{Error, Result};
use crate::service::spawn::suspendable::{used_twice, Counts, Run, Suspendable};
use crate::service::spawn::{service_died, LoopCount, LoopYield, OnEmpty, ServiceLoop};
use crate::service::{
    ServiceRestartable, SpawnHandle, SpawnRecv, SpawnSend, SpawnUnyield, Spawner, SpawnerYield,
    YieldReturn,
};

/// How long a [`MayIdle`] service waits idle before it is suspended: at
/// least this, less than twice this (the sweeper's period).
pub const IDLE_AFTER: Duration = Duration::from_secs(1);

static COUNTS: Counts = Counts::new();

/// `parked_at` of a coroutine not in an idle wait.
const NOT_PARKED: u64 = u64::MAX;
/// `parked_at` of a coroutine the sweeper asked to suspend.
const ASKED: u64 = u64::MAX - 1;

/// Runs each service as a may coroutine, as [`MayCoroutine`] does, and
/// ends the coroutine while the service is idle (module doc): for
/// [`ServiceRestartable`] services, whose `Return` yields keep their
/// progress. The handle holds a suspended service's state;
/// [`SpawnUnyield::unyield`] (from the handle, a weak handle, or a
/// [`MayWaker`] a wait was handed) restarts it on a new coroutine, which
/// calls `resume` first. `unwrap_state` and the handle's drop behave as
/// [`MayCoroutine`]'s, a suspended service included.
#[derive(Debug, Clone, Copy)]
pub struct MayIdle {
    stack_bytes: Option<usize>,
}

impl MayIdle {
    /// A spawner with may's default coroutine stack.
    ///
    /// # Safety
    ///
    /// As for [`MayCoroutine::new`].
    pub unsafe fn new() -> Self {
        MayIdle { stack_bytes: None }
    }

    /// A spawner whose coroutines get `bytes` of stack, rounded up to
    /// whole 4 KiB pages.
    ///
    /// # Safety
    ///
    /// As for [`MayCoroutine::new`].
    pub unsafe fn with_stack_size(bytes: usize) -> Self {
        MayIdle {
            stack_bytes: Some(bytes),
        }
    }
}

/// Restarts a [`MayIdle`] service that suspended in a wait (see
/// [`MayCoroutine::park_idle`]); on a running one, it unparks the
/// coroutine, as an unyield does.
#[derive(Clone)]
pub struct MayWaker(Arc<dyn Idle>);

impl MayWaker {
    /// Restarts the service (or unparks its coroutine).
    pub fn wake(&self) {
        self.0.clone().wake();
    }
}

impl fmt::Debug for MayWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MayWaker")
    }
}

/// A [`MayIdle`] service, as its wakers, weak handles and the sweeper see it.
trait Idle: Send + Sync {
    fn wake(self: Arc<Self>);
    fn is_finished(&self) -> bool;
    /// Asks the coroutine to suspend if it has waited idle since before
    /// the previous sweep.
    fn sweep(&self, epoch: u64);
}

/// What a wake-up needs of a running service: its coroutine, and the
/// join handle `unwrap_state` waits on.
struct Co {
    co: Coroutine,
    join: Option<JoinHandle<()>>,
}

struct Shared<S: ServiceRestartable, D, R> {
    stack_words: Option<usize>,
    /// The sweeper's epoch when the coroutine began an idle wait.
    parked_at: AtomicU64,
    /// Where the service is, the stop and suspend flags (shared with
    /// [`ThreadIdle`](crate::service::spawn::ThreadIdle)).
    core: Suspendable<S, D, R, Co>,
}

impl<S, D, R> Shared<S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    /// An idle park: true when the sweeper asked the coroutine to suspend.
    fn idle_park(&self) -> bool {
        self.parked_at
            .store(EPOCH.load(Ordering::Acquire), Ordering::Release);
        coroutine::park();
        self.parked_at.swap(NOT_PARKED, Ordering::AcqRel) == ASKED
    }

    /// From now on the service's yields answer `Return`.
    fn begin_suspend(&self) {
        self.core.begin_suspend(|| false);
    }

    /// A coroutine running `lp`, under the core's lock.
    fn start(self: &Arc<Self>, lp: ServiceLoop<S, D, R>) -> Result<Co> {
        let shared = self.clone();
        let mut builder = Builder::new();
        if let Some(words) = self.stack_words {
            builder = builder.stack_size(words);
        }
        // SAFETY: the conditions of `MayCoroutine::new`, promised by whoever
        // made the `MayIdle`; the loop keeps no thread-local access across a
        // yield.
        let join =
            unsafe { builder.spawn(move || end_outside_a_wake_up(|| on_coroutine(shared, lp))) }?;
        Ok(Co {
            co: join.coroutine().clone(),
            join: Some(join),
        })
    }
}

/// The coroutine: runs the loop until it ends or suspends.
fn on_coroutine<S, D, R>(shared: Arc<Shared<S, D, R>>, mut lp: ServiceLoop<S, D, R>)
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    set_ctl(shared.clone());
    let ran = catch_unwind(AssertUnwindSafe(|| loop {
        let step = lp.restart(&mut IdleYield(&shared));
        match shared.core.after_run(lp, step) {
            Some(again) => {
                // Something came while it was on its way out.
                lp = again;
                coroutine::yield_now();
            }
            None => return,
        }
    }));
    if let Err(panic) = ran {
        shared.core.died(service_died(panic));
    }
}

impl<S, D, R> Idle for Shared<S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    fn wake(self: Arc<Self>) {
        self.core.wake(|co| co.co.unpark(), |lp| self.start(lp));
    }

    fn is_finished(&self) -> bool {
        self.core.is_finished()
    }

    fn sweep(&self, epoch: u64) {
        let at = self.parked_at.load(Ordering::Acquire);
        if at >= ASKED || epoch.saturating_sub(at) < 2 {
            return;
        }
        let asked = self
            .parked_at
            .compare_exchange(at, ASKED, Ordering::AcqRel, Ordering::Acquire);
        if asked.is_ok() {
            if let Run::Running { live, .. } = &*self.core.lock() {
                live.co.unpark();
            }
        }
    }
}

impl<S, D, R> CoCtl for Shared<S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    fn stop_asked(&self) -> bool {
        self.core.stop.load(Ordering::Acquire)
    }

    fn park_idle(self: Arc<Self>) -> Option<MayWaker> {
        // Parks even when already suspending: a caller whose yield does not
        // end the coroutine (an inline local service reading a lent
        // stream) retries the wait, which must not spin.
        if self.idle_park() {
            self.begin_suspend();
        }
        self.core
            .suspending
            .load(Ordering::Acquire)
            .then(|| MayWaker(self))
    }
}

/// The yield of a [`MayIdle`] service.
struct IdleYield<'a, S: ServiceRestartable, D, R>(&'a Shared<S, D, R>);

impl<S, D, R> SpawnerYield for IdleYield<'_, S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    fn spawn_yield(&mut self) -> YieldReturn {
        let core = &self.0.core;
        if core.stop.load(Ordering::Acquire) || core.suspending.load(Ordering::Acquire) {
            return YieldReturn::Return;
        }
        coroutine::park();
        YieldReturn::Loop
    }
}

impl<S, D, R> LoopYield for IdleYield<'_, S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    fn on_empty(&mut self, _empties: u32) -> OnEmpty {
        let core = &self.0.core;
        if core.stop.load(Ordering::Acquire) {
            return OnEmpty::End;
        }
        if core.suspending.load(Ordering::Acquire) {
            return OnEmpty::Suspend;
        }
        // may's park consumes an unpark made while the coroutine ran, so
        // nothing sent before it is missed.
        if self.0.idle_park() {
            // Look at the channel once more: a command queued before this
            // finds it, one queued after is unyielded as `woken`.
            self.0.begin_suspend();
        }
        OnEmpty::Retry
    }
}

/// The owner's handle on a [`MayIdle`] service; `Send`.
pub struct MayIdleHandle<S: ServiceRestartable, D, R> {
    shared: Arc<Shared<S, D, R>>,
    used: bool,
}

/// A clonable handle on a [`MayIdle`] service, usable from any thread or
/// coroutine to wake it ([`SpawnUnyield::unyield`]) or check whether it
/// ended.
#[derive(Clone)]
pub struct MayIdleWeak(Arc<dyn Idle>);

impl<S, D, R> Spawner<S, D, R> for MayIdle
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    type Handle = MayIdleHandle<S, D, R>;

    fn spawn(
        &mut self,
        service: S,
        dest: D,
        first_cmd: Option<S::CommandIn>,
        recv: R,
        nb_loop: usize,
    ) -> Result<Self::Handle> {
        let shared = Arc::new(Shared {
            stack_words: self.stack_bytes.map(stack_words),
            parked_at: AtomicU64::new(NOT_PARKED),
            core: Suspendable::new(&COUNTS),
        });
        let entry: Weak<dyn Idle> = Arc::downgrade(&shared) as Weak<dyn Idle>;
        register(entry)?;
        let lp = ServiceLoop::new(service, dest, first_cmd, recv, LoopCount::new(nb_loop));
        shared.core.start_with(lp, |lp| shared.start(lp))?;
        Ok(MayIdleHandle {
            shared,
            used: false,
        })
    }
}

impl<S: ServiceRestartable, D, R> Drop for MayIdleHandle<S, D, R> {
    fn drop(&mut self) {
        if self.used {
            return;
        }
        self.shared.core.abandon(|co| co.co.unpark());
    }
}

impl<S, D, R> SpawnUnyield for MayIdleHandle<S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    fn is_finished(&mut self) -> bool {
        self.shared.is_finished()
    }

    /// Restarts the suspended service, or unparks its coroutine.
    fn unyield(&mut self) -> Result<()> {
        self.shared.clone().wake();
        Ok(())
    }
}

impl SpawnUnyield for MayIdleWeak {
    fn is_finished(&mut self) -> bool {
        self.0.is_finished()
    }

    fn unyield(&mut self) -> Result<()> {
        self.0.clone().wake();
        Ok(())
    }
}

impl<S, D, R> SpawnHandle<S, D, R> for MayIdleHandle<S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    type WeakHandle = MayIdleWeak;

    fn unwrap_state(mut self) -> Result<(S, D, R, Result<()>)> {
        self.used = true;
        self.shared.core.take_state(|mut run| {
            let Run::Running { live, .. } = &mut *run else {
                return Ok(());
            };
            live.co.unpark();
            let join = live.join.take().ok_or_else(used_twice)?;
            drop(run);
            // It leaves its state in the core before it ends.
            join.join().map_err(service_died)?;
            Ok(())
        })
    }

    fn get_weak_handle(&self) -> Option<MayIdleWeak> {
        Some(MayIdleWeak(self.shared.clone()))
    }
}

/// The sweeper's epoch: one more per sweep.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// The services the sweeper looks at, and its thread.
struct Sweeper {
    entries: Mutex<Vec<Weak<dyn Idle>>>,
    thread: Thread,
}

/// The sweeper, or why its thread could not start.
type Started = std::result::Result<&'static Sweeper, std::io::ErrorKind>;
static SWEEPER: OnceLock<Started> = OnceLock::new();

/// The sweeper, its thread started with the first service.
fn sweeper() -> Result<&'static Sweeper> {
    let started = SWEEPER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<&'static Sweeper>(1);
        let thread = std::thread::Builder::new()
            .name("mydht-may-idle".into())
            .spawn(move || {
                if let Ok(sweeper) = rx.recv() {
                    sweeper.run();
                }
            })
            .map_err(|e| e.kind())?;
        // The process's only sweeper, for its whole life.
        let sweeper: &'static Sweeper = Box::leak(Box::new(Sweeper {
            entries: Mutex::new(Vec::new()),
            thread: thread.thread().clone(),
        }));
        // The thread waits for it: it cannot be gone.
        let _ = tx.send(sweeper);
        Ok(sweeper)
    });
    (*started).map_err(|kind| Error::from(std::io::Error::from(kind)))
}

fn register(entry: Weak<dyn Idle>) -> Result<()> {
    let sweeper = sweeper()?;
    let first = {
        let mut entries = sweeper
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        entries.push(entry);
        entries.len() == 1
    };
    if first {
        sweeper.thread.unpark();
    }
    Ok(())
}

impl Sweeper {
    /// Every `IDLE_AFTER`, asks the services idle since before the
    /// previous sweep to suspend; parked while there is none.
    fn run(&self) {
        loop {
            let live: Vec<Arc<dyn Idle>> = {
                let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
                entries.retain(|e| e.strong_count() > 0);
                entries.iter().filter_map(Weak::upgrade).collect()
            };
            if live.is_empty() {
                std::thread::park();
                continue;
            }
            let epoch = EPOCH.fetch_add(1, Ordering::AcqRel) + 1;
            for service in &live {
                service.sweep(epoch);
            }
            // A service whose last handle this was drops here, no lock held.
            drop(live);
            std::thread::sleep(IDLE_AFTER);
        }
    }
}

impl MayCoroutine {
    /// The services [`MayIdle`] spawned that are alive (running or
    /// suspended) in this process, and of those the suspended ones, for a
    /// test or bench that waits until idle services suspended.
    pub fn idle_services() -> (usize, usize) {
        COUNTS.get()
    }
}
