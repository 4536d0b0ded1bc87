//! [`MayCoroutine`]: a `Send` service as a coroutine of may's scheduler,
//! run by may's worker threads.

use std::cell::OnceCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use may::coroutine::{self, Builder, Coroutine, JoinHandle};

mod idle;

pub use idle::{MayIdle, MayIdleHandle, MayIdleWeak, MayWaker, IDLE_AFTER};

use super::{service_died, LoopCount, LoopYield, OnEmpty, ServiceLoop};
use crate::error::{Error, ErrorKind, ErrorLevel, Result};
use crate::service::{
    Service, SpawnHandle, SpawnRecv, SpawnSend, SpawnUnyield, Spawner, SpawnerYield, YieldReturn,
};

/// Runs each service as a coroutine on may's scheduler (feature
/// `may-sched`): many services share may's few worker threads (one per
/// core unless `may::config().set_workers` said otherwise before the first
/// spawn). A yield (inside `call`, or on an empty channel) parks the
/// coroutine (`may::coroutine::park`), freeing its worker thread;
/// [`SpawnUnyield::unyield`] from the handle or a weak handle, on any
/// thread or coroutine, unparks it and the yield answers
/// [`YieldReturn::Loop`]. As for [`ThreadPark`](super::ThreadPark),
/// whoever queues a command or sees the service's stream become ready must
/// `unyield` it; an unyield while the coroutine runs makes its next park
/// return at once.
///
/// Unlike `CoRoutine` (a coroutine resumed by its own
/// thread, `!Send` handle), the coroutine here is scheduled by may and its
/// handle is `Send`. The service never waits on its channel: it only takes
/// what is queued (`SpawnRecv::recv`) and parks when there is none, so any
/// channel works; with [`MayChannel`](crate::service::channel::MayChannel)
/// a full queue also parks a sending coroutine instead of blocking a
/// worker thread (a full std channel, as a destination, blocks it).
///
/// `unwrap_state` asks the loop to end once its channel is empty (queued
/// commands are still processed; a yield inside `call` then answers
/// `Return`), waits for the coroutine (parking the caller if it is itself a
/// may coroutine) and gives the state back; a panic in the service is
/// `ErrorKind::ServiceDied`. Dropping the handle asks the same stop.
#[derive(Debug, Clone, Copy)]
pub struct MayCoroutine {
    stack_bytes: Option<usize>,
}

impl MayCoroutine {
    /// A spawner with may's default coroutine stack (`may::config()`'s
    /// stack size: 4,096 words, 32 KiB on 64-bit targets, unless set).
    ///
    /// # Safety
    ///
    /// may moves a parked coroutine to whichever worker thread wakes it.
    /// The services spawned must not use thread-local storage across a
    /// yield (a `thread_local!` borrow, a lock guard or anything else tied
    /// to the thread it started on, held over `spawn_yield`): may documents
    /// thread-local access in a coroutine as undefined behaviour. Their
    /// stack use must fit the coroutine's stack (an overflow hits a guard
    /// page and kills the process).
    pub unsafe fn new() -> Self {
        MayCoroutine { stack_bytes: None }
    }

    /// A spawner whose coroutines get `bytes` of stack, rounded up to
    /// whole 4 KiB pages (may's `Builder::stack_size` counts machine words:
    /// this converts).
    ///
    /// # Safety
    ///
    /// As for [`MayCoroutine::new`].
    pub unsafe fn with_stack_size(bytes: usize) -> Self {
        MayCoroutine {
            stack_bytes: Some(bytes),
        }
    }

    /// True in a coroutine of a `MayCoroutine` service whose owner asked it
    /// to stop (`unwrap_state`, or the handle dropped); false elsewhere. A
    /// wait that an unpark ends (`mydht_tcp::MayTcpTransport`'s) checks it
    /// before it parks: the stop's unpark may have been taken by an earlier
    /// wake.
    pub fn stop_asked() -> bool {
        current_ctl().is_some_and(|ctl| ctl.stop_asked())
    }

    /// Parks the calling may coroutine until an unpark, as
    /// `may::coroutine::park`, for a wait that lasts as long as the
    /// service is idle (a socket's readiness, say). In a coroutine of a
    /// [`MayIdle`] service the wait counts as idle: when, after it, the
    /// service is suspending (the wait lasted long enough that it was asked
    /// to, or it already was), this answers the [`MayWaker`] that restarts
    /// it. The caller then makes the waker the wait's (whatever would have
    /// unparked the coroutine calls [`MayWaker::wake`] instead, or the
    /// caller does at once if that already happened) and returns
    /// `WouldBlock`: the service's yield answers `Return` and its coroutine
    /// ends. Elsewhere `None`.
    pub fn park_idle() -> Option<MayWaker> {
        match current_ctl() {
            Some(ctl) => ctl.park_idle(),
            None => {
                coroutine::park();
                None
            }
        }
    }
}

/// What a wait in a service's coroutine asks of its spawner.
pub(crate) trait CoCtl: Send + Sync {
    /// The owner asked the service to stop.
    fn stop_asked(&self) -> bool;
    /// See [`MayCoroutine::park_idle`].
    fn park_idle(self: Arc<Self>) -> Option<MayWaker>;
}

impl CoCtl for Flags {
    fn stop_asked(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn park_idle(self: Arc<Self>) -> Option<MayWaker> {
        coroutine::park();
        None
    }
}

may::coroutine_local!(static CO_CTL: OnceCell<Arc<dyn CoCtl>> = OnceCell::new());

/// The spawner's side of the calling coroutine, if it runs a service.
fn current_ctl() -> Option<Arc<dyn CoCtl>> {
    CO_CTL.with(|ctl| ctl.get().cloned())
}

/// Set once, on the coroutine's own storage, at its start.
pub(crate) fn set_ctl(ctl: Arc<dyn CoCtl>) {
    let _ = CO_CTL.with(|cell| cell.set(ctl));
}

/// Runs a coroutine's `body`, then yields once before the coroutine ends,
/// whether `body` returned or panicked (the panic goes on after the yield).
///
/// may 0.3 runs a coroutine at once, inside its park's own bookkeeping,
/// when the unpark comes while the coroutine is parking, and it drops a
/// coroutine that ends inside the run that resumed it. If the owner had
/// already dropped its handles (it saw the service finished and joined
/// it), that drop is the coroutine's last reference, and it waits for the
/// park's bookkeeping to end: the bookkeeping below it on the same worker
/// thread, which then spins for ever, and the coroutines queued on that
/// worker never run. After a yield, may's scheduler loop runs the
/// coroutine's last stretch, where nothing waits under it.
pub(crate) fn end_outside_a_wake_up<T>(body: impl FnOnce() -> T) -> T {
    let ran = catch_unwind(AssertUnwindSafe(body));
    coroutine::yield_now();
    ran.unwrap_or_else(|panic| resume_unwind(panic))
}

/// What may's `Builder::stack_size` takes for a stack of `bytes`: words
/// (`usize`s), rounded up to whole 4 KiB pages, so the count is even (may
/// reads an odd count as a request to trace the stack's use, which writes
/// every page of it and prints the figure when the coroutine ends).
pub(crate) fn stack_words(bytes: usize) -> usize {
    const PAGE: usize = 4096;
    bytes.div_ceil(PAGE).max(1) * (PAGE / std::mem::size_of::<usize>())
}

/// What the coroutine shares with its handles.
struct Flags {
    /// The owner asked the loop to end once its channel is empty.
    stop: AtomicBool,
    finished: AtomicBool,
}

/// Marks the service finished when its coroutine ends, panics included.
struct FinishGuard(Arc<Flags>);

impl Drop for FinishGuard {
    fn drop(&mut self) {
        self.0.finished.store(true, Ordering::Release);
    }
}

struct MayYield<'a>(&'a Flags);

impl SpawnerYield for MayYield<'_> {
    fn spawn_yield(&mut self) -> YieldReturn {
        if self.0.stop.load(Ordering::Acquire) {
            return YieldReturn::Return;
        }
        coroutine::park();
        YieldReturn::Loop
    }
}

impl LoopYield for MayYield<'_> {
    fn on_empty(&mut self, _empties: u32) -> OnEmpty {
        if self.0.stop.load(Ordering::Acquire) {
            return OnEmpty::End;
        }
        // may's park consumes an unpark made while the coroutine ran, so
        // nothing sent before it is missed.
        coroutine::park();
        OnEmpty::Retry
    }
}

/// What the coroutine gives back when it ends.
type Ended<S, D, R> = ((S, D, R), Result<()>);

/// The owner's handle on a service running as a may coroutine; it is
/// `Send` (see [`MayCoroutine`]).
pub struct MayHandle<S, D, R> {
    join: Option<JoinHandle<Ended<S, D, R>>>,
    weak: MayWeakHandle,
}

/// A clonable handle on a may coroutine service, usable from any thread or
/// coroutine to wake it ([`SpawnUnyield::unyield`]) or check whether it
/// ended.
#[derive(Clone)]
pub struct MayWeakHandle {
    flags: Arc<Flags>,
    co: Coroutine,
}

impl<S, D, R> Spawner<S, D, R> for MayCoroutine
where
    S: Service + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    type Handle = MayHandle<S, D, R>;

    fn spawn(
        &mut self,
        service: S,
        dest: D,
        first_cmd: Option<S::CommandIn>,
        recv: R,
        nb_loop: usize,
    ) -> Result<Self::Handle> {
        let flags = Arc::new(Flags {
            stop: AtomicBool::new(false),
            finished: AtomicBool::new(false),
        });
        let on_co = flags.clone();
        let body = move || {
            end_outside_a_wake_up(|| {
                let _finished = FinishGuard(on_co.clone());
                set_ctl(on_co.clone());
                let mut lp =
                    ServiceLoop::new(service, dest, first_cmd, recv, LoopCount::new(nb_loop));
                let step = lp.run(&mut MayYield(&on_co));
                let end = lp.end_result(step);
                (lp.into_parts(), end)
            })
        };
        let mut builder = Builder::new().name("mydht-may".to_string());
        if let Some(bytes) = self.stack_bytes {
            builder = builder.stack_size(stack_words(bytes));
        }
        // SAFETY: the conditions of `MayCoroutine::new`, promised by whoever
        // made this spawner; the loop itself keeps no thread-local access
        // across a yield.
        let join = unsafe { builder.spawn(body) }?;
        let co = join.coroutine().clone();
        Ok(MayHandle {
            join: Some(join),
            weak: MayWeakHandle { flags, co },
        })
    }
}

impl MayWeakHandle {
    fn request_stop(&self) {
        self.flags.stop.store(true, Ordering::Release);
        self.co.unpark();
    }
}

impl<S, D, R> Drop for MayHandle<S, D, R> {
    fn drop(&mut self) {
        if self.join.is_some() {
            self.weak.request_stop();
        }
    }
}

impl SpawnUnyield for MayWeakHandle {
    fn is_finished(&mut self) -> bool {
        self.flags.finished.load(Ordering::Acquire)
    }

    /// Unparks the coroutine (may schedules it on a worker), or makes its
    /// next park return at once.
    fn unyield(&mut self) -> Result<()> {
        self.co.unpark();
        Ok(())
    }
}

impl<S, D, R> SpawnUnyield for MayHandle<S, D, R> {
    fn is_finished(&mut self) -> bool {
        self.weak.is_finished()
    }

    fn unyield(&mut self) -> Result<()> {
        self.weak.unyield()
    }
}

impl<S, D, R> SpawnHandle<S, D, R> for MayHandle<S, D, R> {
    type WeakHandle = MayWeakHandle;

    fn unwrap_state(mut self) -> Result<(S, D, R, Result<()>)> {
        self.weak.request_stop();
        // Only `unwrap_state` takes it, and it consumes the handle.
        let join = self.join.take().ok_or_else(|| {
            Error::new(
                ErrorKind::Other,
                ErrorLevel::ShutDown,
                "handle already used",
            )
        })?;
        match join.join() {
            Ok(((service, dest, recv), end)) => Ok((service, dest, recv, end)),
            Err(panic) => Err(service_died(panic)),
        }
    }

    fn get_weak_handle(&self) -> Option<MayWeakHandle> {
        Some(self.weak.clone())
    }
}
