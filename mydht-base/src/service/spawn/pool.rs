//! [`ThreadPool`]: N worker threads shared by many services; a waiting
//! service never holds a worker.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;

use super::{service_died, LoopCount, LoopYield, OnEmpty, ServiceLoop, Step};
use crate::error::{Error, ErrorKind, ErrorLevel, Result};
use crate::service::{
    ServiceRestartable, SpawnHandle, SpawnRecv, SpawnSend, SpawnUnyield, Spawner, SpawnerYield,
    YieldReturn,
};

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of worker threads running many services. A yield answers
/// [`YieldReturn::Return`] and an empty channel suspends the service: its
/// state goes back to its handle and the worker takes the next job;
/// [`SpawnUnyield::unyield`] queues the service again. Services must be
/// [`ServiceRestartable`].
///
/// Bounded: at most `max_services` services live on the pool at once (a
/// `spawn` beyond is refused with `ErrorKind::ChannelFull`), and the job
/// queue holds at most one job per live service, so it is never full.
pub struct ThreadPool {
    jobs: SyncSender<Job>,
    live: Arc<AtomicUsize>,
    max_services: usize,
}

impl ThreadPool {
    /// Starts `threads` workers for at most `max_services` services.
    pub fn new(threads: usize, max_services: usize) -> Result<Self> {
        if threads == 0 || max_services == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                ErrorLevel::ShutDown,
                "a thread pool needs at least one thread and one service",
            ));
        }
        let (jobs, queue) = mpsc::sync_channel::<Job>(max_services);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            thread::Builder::new()
                .name(format!("mydht-pool-{i}"))
                .spawn(move || worker(&queue))?;
        }
        Ok(ThreadPool {
            jobs,
            live: Arc::new(AtomicUsize::new(0)),
            max_services,
        })
    }

    /// How many services live on the pool (running, queued or suspended).
    pub fn live_services(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }
}

/// Workers end when every sender of the queue (the pool and its handles) is
/// gone. Jobs catch their own panics, so the lock is never poisoned by one.
fn worker(queue: &Mutex<Receiver<Job>>) {
    loop {
        let job = match queue.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

enum Slot<S: ServiceRestartable, D, R> {
    /// Suspended, waiting for `unyield`.
    Idle(ServiceLoop<S, D, R>),
    /// On a worker or in the queue. `notified`: an `unyield` came meanwhile,
    /// run again instead of suspending. `abandoned`: the handle is gone.
    Running { notified: bool, abandoned: bool },
    /// The loop ended.
    Done(ServiceLoop<S, D, R>, Result<()>),
    /// The service panicked.
    Died(Error),
    /// Given back by `unwrap_state`.
    Taken,
}

struct PoolShared<S: ServiceRestartable, D, R> {
    slot: Mutex<Slot<S, D, R>>,
    changed: Condvar,
    jobs: SyncSender<Job>,
    live: Arc<AtomicUsize>,
}

/// The owner's handle on a pool service. It is `Send`.
pub struct PoolHandle<S: ServiceRestartable, D, R> {
    shared: Arc<PoolShared<S, D, R>>,
}

/// A clonable handle on a pool service, usable from any thread.
pub struct PoolWeakHandle<S: ServiceRestartable, D, R> {
    shared: Arc<PoolShared<S, D, R>>,
}

impl<S: ServiceRestartable, D, R> Clone for PoolWeakHandle<S, D, R> {
    fn clone(&self) -> Self {
        PoolWeakHandle {
            shared: self.shared.clone(),
        }
    }
}

struct PoolYield;

impl SpawnerYield for PoolYield {
    fn spawn_yield(&mut self) -> YieldReturn {
        YieldReturn::Return
    }
}

impl LoopYield for PoolYield {
    fn on_empty(&mut self, _empties: u32) -> OnEmpty {
        OnEmpty::Suspend
    }
}

impl<S, D, R> PoolShared<S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    fn lock(&self) -> MutexGuard<'_, Slot<S, D, R>> {
        // Jobs run outside the lock and catch their panics: poisoning can
        // only come from a panic in this file's few lines, keep the data.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a job running `lp`; the slot must be `Running`.
    fn submit(
        self: &Arc<Self>,
        lp: ServiceLoop<S, D, R>,
    ) -> std::result::Result<(), ServiceLoop<S, D, R>> {
        let shared = self.clone();
        let cell = Arc::new(Mutex::new(Some(lp)));
        let job_cell = cell.clone();
        let job: Job = Box::new(move || {
            let lp = job_cell.lock().ok().and_then(|mut l| l.take());
            if let Some(lp) = lp {
                shared.run(lp);
            }
        });
        match self.jobs.try_send(job) {
            Ok(()) => Ok(()),
            // The job never ran: take the service back out of it.
            Err(_) => match cell.lock().ok().and_then(|mut l| l.take()) {
                Some(lp) => Err(lp),
                None => Ok(()),
            },
        }
    }

    /// On a worker: runs the loop until it ends or suspends.
    fn run(&self, mut lp: ServiceLoop<S, D, R>) {
        loop {
            let step = catch_unwind(AssertUnwindSafe(|| lp.restart(&mut PoolYield)));
            let mut slot = self.lock();
            match step {
                Err(panic) => {
                    *slot = Slot::Died(service_died(panic));
                    self.live.fetch_sub(1, Ordering::AcqRel);
                }
                Ok(Step::End(end)) => {
                    *slot = Slot::Done(lp, end);
                    self.live.fetch_sub(1, Ordering::AcqRel);
                }
                Ok(Step::Suspended) => match *slot {
                    Slot::Running {
                        notified: true,
                        abandoned,
                    } => {
                        *slot = Slot::Running {
                            notified: false,
                            abandoned,
                        };
                        drop(slot);
                        continue;
                    }
                    Slot::Running {
                        abandoned: true, ..
                    } => {
                        *slot = Slot::Taken;
                        self.live.fetch_sub(1, Ordering::AcqRel);
                    }
                    _ => *slot = Slot::Idle(lp),
                },
            }
            self.changed.notify_all();
            return;
        }
    }

    fn unyield(self: &Arc<Self>) -> Result<()> {
        let mut slot = self.lock();
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Idle(lp) => {
                *slot = Slot::Running {
                    notified: false,
                    abandoned: false,
                };
                drop(slot);
                if let Err(lp) = self.submit(lp) {
                    *self.lock() = Slot::Idle(lp);
                    return Err(Error::new(
                        ErrorKind::ChannelClosed,
                        ErrorLevel::ShutDown,
                        "thread pool gone",
                    ));
                }
            }
            Slot::Running { abandoned, .. } => {
                *slot = Slot::Running {
                    notified: true,
                    abandoned,
                }
            }
            other => *slot = other,
        }
        Ok(())
    }

    fn is_finished(&self) -> bool {
        matches!(*self.lock(), Slot::Done(..) | Slot::Died(_))
    }
}

impl<S, D, R> Spawner<S, D, R> for ThreadPool
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    type Handle = PoolHandle<S, D, R>;

    fn spawn(
        &mut self,
        service: S,
        dest: D,
        first_cmd: Option<S::CommandIn>,
        recv: R,
        nb_loop: usize,
    ) -> Result<Self::Handle> {
        let max = self.max_services;
        self.live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| {
                Error::new(
                    ErrorKind::ChannelFull,
                    ErrorLevel::Ignore,
                    "thread pool full: max_services reached",
                )
            })?;
        let shared = Arc::new(PoolShared {
            slot: Mutex::new(Slot::Running {
                notified: false,
                abandoned: false,
            }),
            changed: Condvar::new(),
            jobs: self.jobs.clone(),
            live: self.live.clone(),
        });
        let lp = ServiceLoop::new(service, dest, first_cmd, recv, LoopCount::new(nb_loop));
        if shared.submit(lp).is_err() {
            self.live.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::new(
                ErrorKind::ChannelClosed,
                ErrorLevel::ShutDown,
                "thread pool workers gone",
            ));
        }
        Ok(PoolHandle { shared })
    }
}

impl<S, D, R> SpawnUnyield for PoolHandle<S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    fn is_finished(&mut self) -> bool {
        self.shared.is_finished()
    }

    /// Queues a suspended service on the pool again; while it runs, makes it
    /// run once more instead of suspending.
    fn unyield(&mut self) -> Result<()> {
        self.shared.unyield()
    }
}

impl<S, D, R> SpawnUnyield for PoolWeakHandle<S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    fn is_finished(&mut self) -> bool {
        self.shared.is_finished()
    }

    fn unyield(&mut self) -> Result<()> {
        self.shared.unyield()
    }
}

impl<S, D, R> SpawnHandle<S, D, R> for PoolHandle<S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    type WeakHandle = PoolWeakHandle<S, D, R>;

    /// Waits while the service is on a worker, then gives it back: ended,
    /// or suspended (`Err(yielded)` if a command is half done). A panicked
    /// service is `ErrorKind::ServiceDied`.
    fn unwrap_state(self) -> Result<(S, D, R, Result<()>)> {
        let mut slot = self.shared.lock();
        while matches!(*slot, Slot::Running { .. }) {
            slot = self
                .shared
                .changed
                .wait(slot)
                .unwrap_or_else(|e| e.into_inner());
        }
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Idle(lp) => {
                self.shared.live.fetch_sub(1, Ordering::AcqRel);
                let end = lp.count.suspended_result();
                let (s, d, r) = lp.into_parts();
                Ok((s, d, r, end))
            }
            Slot::Done(lp, end) => {
                let (s, d, r) = lp.into_parts();
                Ok((s, d, r, end))
            }
            Slot::Died(e) => Err(e),
            Slot::Running { .. } | Slot::Taken => Err(Error::new(
                ErrorKind::Other,
                ErrorLevel::ShutDown,
                "pool service already given back",
            )),
        }
    }

    fn get_weak_handle(&self) -> Option<Self::WeakHandle> {
        Some(PoolWeakHandle {
            shared: self.shared.clone(),
        })
    }
}

impl<S: ServiceRestartable, D, R> Drop for PoolHandle<S, D, R> {
    /// A suspended service is dropped and leaves the pool; a running one
    /// does when it next suspends or ends.
    fn drop(&mut self) {
        let mut slot = self.shared.slot.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *slot {
            Slot::Idle(_) => {
                *slot = Slot::Taken;
                self.shared.live.fetch_sub(1, Ordering::AcqRel);
            }
            Slot::Running { abandoned, .. } => *abandoned = true,
            _ => {}
        }
    }
}
