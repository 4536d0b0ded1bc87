//! [`ThreadIdle`]: a restartable service on a thread of its own while it
//! has work, which gives the thread back (to the reuse pool) once it has
//! waited idle for a while.
//!
//! While traffic flows it behaves as [`ThreadPark`](super::ThreadPark): a
//! yield (inside `call`, its stream would block, or on an empty channel)
//! parks the thread until an `unyield`. A park that lasts
//! [`ThreadIdle::idle_after`] with no wake-up suspends the service: its
//! yield answers `Return`, the service keeps its progress
//! ([`ServiceRestartable`]), the loop's state goes into the handle and the
//! thread goes back to the pool. The next `unyield` (the socket's
//! readiness, a queued command) takes a pool thread, or starts one, and
//! restarts the service (`resume` first). Ordering and wake-ups across the
//! suspension: [`suspendable`](super::suspendable).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
use super::sock_wait::{self, EventFd};
use super::suspendable::{Counts, Run, Suspendable};
use super::{service_died, thread_reuse, LoopCount, LoopYield, OnEmpty, ServiceLoop};
use crate::error::Result;
#[cfg(unix)]
use crate::service::ReadWait;
use crate::service::{
    ServiceRestartable, SpawnHandle, SpawnRecv, SpawnSend, SpawnUnyield, Spawner, SpawnerYield,
    YieldReturn,
};

/// How long a [`ThreadIdle`] service waits idle (no wake-up) before it
/// gives its thread back, by default.
pub const THREAD_IDLE_AFTER: Duration = Duration::from_secs(1);

/// Checks of the wake-up flag before a yield parks the thread: a waker
/// about to notify is usually that close.
const SPINS: u32 = 64;

const RUNNING: u8 = 0;
const PARKED: u8 = 1;
const NOTIFIED: u8 = 2;
/// Waiting in its socket ([`Park::wait_read`]): a wake-up signals the
/// run's eventfd.
const POLLING: u8 = 3;

static COUNTS: Counts = Counts::new();

/// Runs each restartable service on a thread while it has work, and gives
/// the thread back once the service waited idle for
/// [`idle_after`](Self::idle_after) (module doc). The handle holds a
/// suspended service's state; [`SpawnUnyield::unyield`] (from the handle
/// or a weak handle) wakes a parked service or restarts a suspended one on
/// a pool thread. `unwrap_state` and the handle's drop behave as
/// [`ThreadPark`](super::ThreadPark)'s, a suspended service included.
#[derive(Debug, Clone, Copy)]
pub struct ThreadIdle {
    idle_after: Duration,
}

impl Default for ThreadIdle {
    /// Idle after [`THREAD_IDLE_AFTER`].
    fn default() -> Self {
        ThreadIdle {
            idle_after: THREAD_IDLE_AFTER,
        }
    }
}

impl ThreadIdle {
    /// A spawner whose services give their thread back after `idle_after`
    /// without a wake-up.
    pub fn new(idle_after: Duration) -> Self {
        ThreadIdle { idle_after }
    }

    /// How long a service waits idle before it gives its thread back.
    pub fn idle_after(&self) -> Duration {
        self.idle_after
    }

    /// The services this spawner made that are alive in the process
    /// (running or suspended), and of those the suspended ones: for a test
    /// or bench that waits until idle services gave their threads back.
    pub fn idle_services() -> (usize, usize) {
        COUNTS.get()
    }
}

/// The wake-up flag of one service, shared by its runs.
struct Park(AtomicU8);

impl Park {
    /// Under the core's lock: sets the flag, unparks a parked run, ends
    /// the wait of a run in its socket.
    fn notify(&self, live: &Live) {
        match self.0.swap(NOTIFIED, Ordering::SeqCst) {
            // PARKED and POLLING are only set by the run after its thread
            // is stored.
            PARKED => {
                if let Some(w) = live.get() {
                    w.thread.unpark();
                }
            }
            #[cfg(target_os = "linux")]
            POLLING => {
                if let Some(efd) = live.get().and_then(|w| w.efd.as_ref()) {
                    efd.signal();
                }
            }
            _ => {}
        }
    }

    /// Takes a pending wake-up.
    fn take(&self) -> bool {
        self.0
            .compare_exchange(NOTIFIED, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Waits for a wake-up, at most `idle`: true when none came.
    fn wait(&self, idle: Duration) -> bool {
        for _ in 0..SPINS {
            // A plain load first: a failing compare-exchange would take the
            // line from the waker.
            if self.0.load(Ordering::Relaxed) == NOTIFIED && self.take() {
                return false;
            }
            std::hint::spin_loop();
        }
        if self
            .0
            .compare_exchange(RUNNING, PARKED, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            // The only other value is NOTIFIED.
            self.take();
            return false;
        }
        let deadline = Instant::now() + idle;
        loop {
            thread::park_timeout(deadline.saturating_duration_since(Instant::now()));
            if self.take() {
                return false;
            }
            if Instant::now() >= deadline {
                if self
                    .0
                    .compare_exchange(PARKED, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    return true;
                }
                self.take();
                return false;
            }
        }
    }

    /// Waits in `io`'s socket for data or a wake-up, at most `idle`: true
    /// when neither came. `None` when it cannot (no eventfd, `poll`
    /// failed): the caller parks instead.
    #[cfg(target_os = "linux")]
    fn wait_read(&self, fd: std::os::fd::RawFd, efd: &EventFd, idle: Duration) -> Option<bool> {
        if self.take() {
            return Some(false);
        }
        let deadline = Instant::now() + idle;
        loop {
            if self
                .0
                .compare_exchange(RUNNING, POLLING, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                // The only other value is NOTIFIED.
                self.take();
                return Some(false);
            }
            let polled =
                sock_wait::poll_read(fd, efd, deadline.saturating_duration_since(Instant::now()));
            if self
                .0
                .compare_exchange(POLLING, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                self.take();
                return Some(false);
            }
            match polled {
                Ok(p) if p.socket => return Some(false),
                Ok(_) if Instant::now() >= deadline => return Some(true),
                // A stale signal of an earlier wake-up, or EINTR.
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

/// What a wake-up needs of a run, set before it can park or wait in its
/// socket.
struct Waker {
    thread: Thread,
    /// The run's thread's eventfd, for a wait in its socket.
    #[cfg(target_os = "linux")]
    efd: Option<Arc<EventFd>>,
}

impl Waker {
    fn of_thread() -> Self {
        Waker {
            thread: thread::current(),
            #[cfg(target_os = "linux")]
            efd: EventFd::of_thread(),
        }
    }
}

/// What a wake-up needs of a run.
type Live = Arc<OnceLock<Waker>>;

/// What the handles and the runs share.
struct Shared<S: ServiceRestartable, D, R> {
    core: Suspendable<S, D, R, Live>,
    park: Park,
    idle_after: Duration,
}

impl<S, D, R> Shared<S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    fn wake(self: &Arc<Self>) {
        self.core
            .wake(|live| self.park.notify(live), |lp| self.start(lp))
    }

    /// A run of `lp` on a pool thread.
    fn start(self: &Arc<Self>, lp: ServiceLoop<S, D, R>) -> Result<Live> {
        let live: Live = Arc::new(OnceLock::new());
        let on_thread = live.clone();
        let shared = self.clone();
        thread_reuse::run(
            "mydht-thread-idle",
            Box::new(move || {
                let _ = on_thread.set(Waker::of_thread());
                let ran = catch_unwind(AssertUnwindSafe(|| shared.run(lp)));
                match ran {
                    Ok(()) => true,
                    Err(panic) => {
                        shared.core.died(service_died(panic));
                        false
                    }
                }
            }),
        )?;
        Ok(live)
    }

    /// On the run's thread: the loop until it ends or suspends.
    fn run(&self, mut lp: ServiceLoop<S, D, R>) {
        loop {
            let step = lp.restart(&mut IdleYield(self));
            match self.core.after_run(lp, step) {
                Some(again) => lp = again,
                None => return,
            }
        }
    }

    /// Waits for a wake-up; true when the service must suspend (idle for
    /// `idle_after` and no wake-up came since).
    fn wait(&self) -> bool {
        self.park.wait(self.idle_after) && self.core.begin_suspend(|| self.park.take())
    }

    /// [`wait`](Self::wait), waiting in `io`'s socket with the poller's
    /// watch of its reads off; on again before the service suspends.
    #[cfg(unix)]
    fn wait_read(&self, io: &mut dyn ReadWait) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(efd) = EventFd::of_thread() {
            if io.poller_reads(false).is_ok() {
                loop {
                    match self.park.wait_read(io.fd(), &efd, self.idle_after) {
                        Some(false) => return false,
                        // Idle: suspends only once the poller watches the
                        // socket again (pending data reported to it), else
                        // waits in it once more.
                        Some(true) => {
                            if io.poller_reads(true).is_ok() {
                                return self.core.begin_suspend(|| self.park.take());
                            }
                        }
                        None => break,
                    }
                }
            }
        }
        // The poller wakes the service: its watch on, then a park.
        let _ = io.poller_reads(true);
        self.wait()
    }
}

/// The yield of a [`ThreadIdle`] service.
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
        if core.stop.load(Ordering::Acquire)
            || core.suspending.load(Ordering::Acquire)
            || self.0.wait()
        {
            return YieldReturn::Return;
        }
        YieldReturn::Loop
    }

    /// Waits in the socket (module doc of [`ReadWait`]): the data wakes
    /// this thread itself, not the poller's thread which then wakes it.
    #[cfg(unix)]
    fn spawn_yield_read(&mut self, io: &mut dyn ReadWait) -> YieldReturn {
        let core = &self.0.core;
        if core.stop.load(Ordering::Acquire) || core.suspending.load(Ordering::Acquire) {
            // The poller watches a service that gives its thread up.
            let _ = io.poller_reads(true);
            return YieldReturn::Return;
        }
        if self.0.wait_read(io) {
            return YieldReturn::Return;
        }
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
        if core.suspending.load(Ordering::Acquire) || self.0.wait() {
            return OnEmpty::Suspend;
        }
        OnEmpty::Retry
    }
}

/// The owner's handle on a [`ThreadIdle`] service; `Send`.
pub struct ThreadIdleHandle<S: ServiceRestartable, D, R> {
    shared: Arc<Shared<S, D, R>>,
    used: bool,
}

/// A clonable handle on a [`ThreadIdle`] service, usable from any thread to
/// wake it ([`SpawnUnyield::unyield`]) or check whether it ended.
pub struct ThreadIdleWeak<S: ServiceRestartable, D, R> {
    shared: Arc<Shared<S, D, R>>,
}

impl<S: ServiceRestartable, D, R> Clone for ThreadIdleWeak<S, D, R> {
    fn clone(&self) -> Self {
        ThreadIdleWeak {
            shared: self.shared.clone(),
        }
    }
}

impl<S, D, R> Spawner<S, D, R> for ThreadIdle
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    type Handle = ThreadIdleHandle<S, D, R>;

    fn spawn(
        &mut self,
        service: S,
        dest: D,
        first_cmd: Option<S::CommandIn>,
        recv: R,
        nb_loop: usize,
    ) -> Result<Self::Handle> {
        let shared = Arc::new(Shared {
            core: Suspendable::new(&COUNTS),
            park: Park(AtomicU8::new(RUNNING)),
            idle_after: self.idle_after,
        });
        let lp = ServiceLoop::new(service, dest, first_cmd, recv, LoopCount::new(nb_loop));
        shared.core.start_with(lp, |lp| shared.start(lp))?;
        Ok(ThreadIdleHandle {
            shared,
            used: false,
        })
    }
}

impl<S: ServiceRestartable, D, R> Drop for ThreadIdleHandle<S, D, R> {
    fn drop(&mut self) {
        if self.used {
            return;
        }
        let park = &self.shared.park;
        self.shared.core.abandon(|live| park.notify(live));
    }
}

impl<S, D, R> SpawnUnyield for ThreadIdleHandle<S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    fn is_finished(&mut self) -> bool {
        self.shared.core.is_finished()
    }

    /// Wakes the parked service, or restarts the suspended one on a pool
    /// thread.
    fn unyield(&mut self) -> Result<()> {
        self.shared.wake();
        Ok(())
    }
}

impl<S, D, R> SpawnUnyield for ThreadIdleWeak<S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    fn is_finished(&mut self) -> bool {
        self.shared.core.is_finished()
    }

    fn unyield(&mut self) -> Result<()> {
        self.shared.wake();
        Ok(())
    }
}

impl<S, D, R> SpawnHandle<S, D, R> for ThreadIdleHandle<S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    type WeakHandle = ThreadIdleWeak<S, D, R>;

    /// Asks the loop to end once its channel is empty (a yield inside
    /// `call` then answers `Return`), waits for its run, and gives the
    /// state back; a suspended service at once. A panicked service is
    /// `ErrorKind::ServiceDied`.
    fn unwrap_state(mut self) -> Result<(S, D, R, Result<()>)> {
        self.used = true;
        let shared = &self.shared;
        shared.core.take_state(|run| {
            if let Run::Running { live, .. } = &*run {
                shared.park.notify(live);
            }
            drop(shared.core.wait_change(run));
            Ok(())
        })
    }

    fn get_weak_handle(&self) -> Option<Self::WeakHandle> {
        Some(ThreadIdleWeak {
            shared: self.shared.clone(),
        })
    }
}
