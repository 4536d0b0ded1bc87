//! What the spawners whose idle services give their thread or coroutine
//! back share ([`ThreadIdle`](super::ThreadIdle), `MayIdle`): where the
//! service is (running, suspended with its loop's state, ended), the
//! decision a run takes when its service yields `Return`, and the wake-up
//! that restarts a suspended service.
//!
//! Protocol (no wake-up lost): a run that decides to suspend does so under
//! the lock, after checking (`pending`) that no wake-up came since it last
//! looked, and sets `suspending`; a wake-up takes the same lock, so it
//! either comes before (the run sees it pending and goes on) or after (it
//! marks the run `woken`, and the run, at its end, runs the service again
//! instead of storing it).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::{ServiceLoop, Step};
use crate::error::{Error, ErrorKind, ErrorLevel, Result};
use crate::service::Service;

/// Where the service is. `L`: what a run holds that a wake-up needs (the
/// coroutine to unpark, the thread to unpark).
pub(crate) enum Run<S: Service, D, R, L> {
    /// On a run; `woken`: a wake-up came while it was suspending.
    Running { live: L, woken: bool },
    /// Suspended, no run: the loop's state.
    Suspended(ServiceLoop<S, D, R>),
    /// The loop ended: its parts and end result.
    Ended((S, D, R), Result<()>),
    /// A run could not start, or its service panicked: the service is lost.
    Failed(Error),
    /// Given back by `unwrap_state`, dropped with the handle, or not yet
    /// started.
    Taken,
}

/// Counts of the services of one spawner kind in the process, for a test
/// or bench that waits until idle services suspended.
pub(crate) struct Counts {
    live: AtomicUsize,
    suspended: AtomicUsize,
}

impl Counts {
    pub(crate) const fn new() -> Self {
        Counts {
            live: AtomicUsize::new(0),
            suspended: AtomicUsize::new(0),
        }
    }

    /// (live, suspended).
    pub(crate) fn get(&self) -> (usize, usize) {
        (
            self.live.load(Ordering::Acquire),
            self.suspended.load(Ordering::Acquire),
        )
    }
}

/// A service that a run may give back while it is idle.
pub(crate) struct Suspendable<S: Service, D, R, L> {
    /// The owner asked the loop to end once its channel is empty.
    pub(crate) stop: AtomicBool,
    pub(crate) finished: AtomicBool,
    /// The run is on its way out: its next yield answers `Return`, an
    /// empty channel suspends the loop.
    pub(crate) suspending: AtomicBool,
    run: Mutex<Run<S, D, R, L>>,
    /// A run left `Running`.
    changed: Condvar,
    counts: &'static Counts,
}

impl<S: Service, D, R, L> Suspendable<S, D, R, L> {
    /// A service not started yet (`Taken` until [`Self::start_with`]).
    pub(crate) fn new(counts: &'static Counts) -> Self {
        counts.live.fetch_add(1, Ordering::AcqRel);
        Suspendable {
            stop: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            suspending: AtomicBool::new(false),
            run: Mutex::new(Run::Taken),
            changed: Condvar::new(),
            counts,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Run<S, D, R, L>> {
        // Nothing that can panic runs under the lock.
        self.run.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits, under `run`'s lock, until a run leaves `Running`.
    pub(crate) fn wait_change<'a>(
        &self,
        run: MutexGuard<'a, Run<S, D, R, L>>,
    ) -> MutexGuard<'a, Run<S, D, R, L>> {
        self.changed
            .wait(run)
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// The first run, on `lp`; a failure to start is the spawn's error.
    pub(crate) fn start_with(
        &self,
        lp: ServiceLoop<S, D, R>,
        start: impl FnOnce(ServiceLoop<S, D, R>) -> Result<L>,
    ) -> Result<()> {
        let mut run = self.lock();
        self.suspending.store(false, Ordering::Release);
        let live = start(lp)?;
        *run = Run::Running { live, woken: false };
        Ok(())
    }

    /// The run found its service idle long enough: from now on its yields
    /// answer `Return`, unless `pending` (under the lock) says a wake-up
    /// already came. True when suspending.
    pub(crate) fn begin_suspend(&self, pending: impl FnOnce() -> bool) -> bool {
        let mut run = self.lock();
        let Run::Running { woken, .. } = &mut *run else {
            return false;
        };
        if self.stop.load(Ordering::Acquire) || pending() {
            return false;
        }
        *woken = false;
        self.suspending.store(true, Ordering::Release);
        true
    }

    /// At the end of a run that stopped at `step`: `Some` to run the loop
    /// again (a wake-up came while it was suspending, or it was not
    /// suspending), else the loop is stored (suspended or ended) and the
    /// run is over.
    pub(crate) fn after_run(
        &self,
        lp: ServiceLoop<S, D, R>,
        step: Step,
    ) -> Option<ServiceLoop<S, D, R>> {
        let stop = self.stop.load(Ordering::Acquire);
        let mut run = self.lock();
        let this = match (&step, stop, &mut *run) {
            (Step::Suspended, false, Run::Running { woken, .. }) => {
                if *woken || !self.suspending.load(Ordering::Acquire) {
                    // Something came while it was on its way out.
                    *woken = false;
                    self.suspending.store(false, Ordering::Release);
                    return Some(lp);
                }
                self.counts.suspended.fetch_add(1, Ordering::AcqRel);
                std::mem::replace(&mut *run, Run::Suspended(lp))
            }
            _ => {
                let end = lp.end_result(step);
                self.finished.store(true, Ordering::Release);
                std::mem::replace(&mut *run, Run::Ended(lp.into_parts(), end))
            }
        };
        drop(run);
        self.changed.notify_all();
        // The run's own handle (a coroutine's join handle) drops unlocked.
        drop(this);
        None
    }

    /// A run's service panicked (or its run could not go on): lost.
    pub(crate) fn died(&self, e: Error) {
        let this = std::mem::replace(&mut *self.lock(), Run::Failed(e));
        self.finished.store(true, Ordering::Release);
        self.changed.notify_all();
        drop(this);
    }

    /// A wake-up: `nudge`s the running service (marking it `woken` while it
    /// suspends), or restarts a suspended one with `start`. A stopping
    /// service stays for `unwrap_state` or the drop.
    pub(crate) fn wake(
        &self,
        nudge: impl FnOnce(&L),
        start: impl FnOnce(ServiceLoop<S, D, R>) -> Result<L>,
    ) {
        let mut run = self.lock();
        match &mut *run {
            Run::Running { live, woken } => {
                if self.suspending.load(Ordering::Acquire) {
                    *woken = true;
                }
                nudge(live);
            }
            Run::Suspended(_) if !self.stop.load(Ordering::Acquire) => {
                let Run::Suspended(lp) = std::mem::replace(&mut *run, Run::Taken) else {
                    return;
                };
                self.counts.suspended.fetch_sub(1, Ordering::AcqRel);
                self.suspending.store(false, Ordering::Release);
                *run = match start(lp) {
                    Ok(live) => Run::Running { live, woken: false },
                    Err(e) => {
                        self.finished.store(true, Ordering::Release);
                        Run::Failed(e)
                    }
                };
            }
            _ => {}
        }
    }

    /// `unwrap_state`: asks the loop to end, waits while a run has it
    /// (`leave` is called with the lock and the run's part; it must nudge
    /// the run and wait for a change, giving the lock back), then gives
    /// the state back.
    pub(crate) fn take_state<'a>(
        &'a self,
        mut leave: impl FnMut(MutexGuard<'a, Run<S, D, R, L>>) -> Result<()>,
    ) -> Result<(S, D, R, Result<()>)> {
        self.stop.store(true, Ordering::Release);
        loop {
            let run = self.lock();
            if let Run::Running { .. } = &*run {
                leave(run)?;
                continue;
            }
            let mut run = run;
            let state = std::mem::replace(&mut *run, Run::Taken);
            self.finished.store(true, Ordering::Release);
            drop(run);
            return match state {
                Run::Suspended(lp) => {
                    self.counts.suspended.fetch_sub(1, Ordering::AcqRel);
                    let end = lp.count.suspended_result();
                    let (service, dest, recv) = lp.into_parts();
                    Ok((service, dest, recv, end))
                }
                Run::Ended((service, dest, recv), end) => Ok((service, dest, recv, end)),
                Run::Failed(e) => Err(e),
                Run::Running { .. } | Run::Taken => Err(used_twice()),
            };
        }
    }

    /// The handle is dropped: a suspended service is dropped (outside the
    /// lock: its streams close), a running one is `nudge`d and ends on its
    /// own once its channel is empty.
    pub(crate) fn abandon(&self, nudge: impl FnOnce(&L)) {
        self.stop.store(true, Ordering::Release);
        let mut run = self.lock();
        let left = match &mut *run {
            Run::Running { live, .. } => {
                nudge(live);
                None
            }
            Run::Suspended(_) => {
                self.counts.suspended.fetch_sub(1, Ordering::AcqRel);
                Some(std::mem::replace(&mut *run, Run::Taken))
            }
            _ => None,
        };
        self.finished.store(true, Ordering::Release);
        drop(run);
        drop(left);
    }
}

impl<S: Service, D, R, L> Drop for Suspendable<S, D, R, L> {
    fn drop(&mut self) {
        let run = self.run.get_mut().unwrap_or_else(PoisonError::into_inner);
        if matches!(run, Run::Suspended(_)) {
            self.counts.suspended.fetch_sub(1, Ordering::AcqRel);
        }
        self.counts.live.fetch_sub(1, Ordering::AcqRel);
    }
}

pub(crate) fn used_twice() -> Error {
    Error::new(
        ErrorKind::Other,
        ErrorLevel::ShutDown,
        "handle already used",
    )
}
