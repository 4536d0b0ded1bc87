//! [`CoRoutine`]: a service as a stackful coroutine of the spawning thread
//! (on `generator`, the coroutine engine of `may`).

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use generator::{Gn, LocalGenerator, Scope};

use super::{service_died, LoopCount, LoopYield, NoWeakHandle, OnEmpty, ServiceLoop};
use crate::error::{Error, ErrorKind, ErrorLevel, Result};
use crate::service::{
    Service, SpawnHandle, SpawnRecv, SpawnSend, SpawnUnyield, Spawner, SpawnerYield, YieldReturn,
};

/// Default coroutine stack: 64 KiB.
const DEFAULT_STACK_BYTES: usize = 64 * 1024;

/// Runs each service as a stackful coroutine on the spawning thread. A yield
/// (inside `call`, or on an empty channel) switches back to whoever resumed
/// the coroutine; [`SpawnUnyield::unyield`] switches into it again and the
/// yield answers [`YieldReturn::Loop`]: the service's code is written as if
/// it blocked, without a thread per service.
///
/// Safety conditions, which the service code must respect:
/// - the coroutine is only ever resumed by the thread that spawned it: its
///   handle is `!Send` (it holds an `Rc`), so the type system enforces it;
/// - no thread-local borrow or lock guard may be held across a yield: another
///   coroutine or the owner runs on the same thread meanwhile;
/// - the stack is fixed ([`CoRoutine::with_stack_size`], 64 KiB by default):
///   deep recursion or large locals in `call` overflow it (the guard page
///   turns that into a crash, not memory corruption);
/// - a panic inside the service unwinds the coroutine and is reported as
///   `ErrorKind::ServiceDied` by `unyield`/`unwrap_state`, never resumed.
///
/// ```compile_fail
/// // The handle cannot leave its thread.
/// use mydht_base::service::channel::{NoRecv, NoSend};
/// use mydht_base::service::spawn::CoRoutine;
/// use mydht_base::{Result, Service, Spawner, SpawnerYield};
/// struct Echo;
/// impl Service for Echo {
///     type CommandIn = u8;
///     type CommandOut = u8;
///     fn call<Y: SpawnerYield>(&mut self, c: u8, _: &mut Y) -> Result<u8> { Ok(c) }
/// }
/// let h = CoRoutine::new().spawn(Echo, NoSend, Some(1), NoRecv, 0).unwrap();
/// std::thread::spawn(move || drop(h));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CoRoutine {
    stack_bytes: usize,
}

impl CoRoutine {
    /// A spawner with the default stack size (64 KiB).
    pub fn new() -> Self {
        CoRoutine {
            stack_bytes: DEFAULT_STACK_BYTES,
        }
    }

    /// A spawner whose coroutines get `bytes` of stack.
    pub fn with_stack_size(bytes: usize) -> Self {
        CoRoutine { stack_bytes: bytes }
    }
}

impl Default for CoRoutine {
    fn default() -> Self {
        CoRoutine::new()
    }
}

/// A loop that ended, with its end result.
type Ended<S, D, R> = (ServiceLoop<S, D, R>, Result<()>);

/// What the coroutine and its handle share (on one thread).
struct CoShared<S: Service, D, R> {
    stop: Cell<bool>,
    end: RefCell<Option<Ended<S, D, R>>>,
}

/// The owner's handle on a coroutine service; `!Send`: only the spawning
/// thread resumes it.
pub struct CoRoutineHandle<S: Service, D, R> {
    co: LocalGenerator<'static, (), ()>,
    shared: Rc<CoShared<S, D, R>>,
    died: Option<Error>,
}

struct CoYield<'r, 's, 'a> {
    scope: &'r mut Scope<'s, 'a, (), ()>,
    stop: &'r Cell<bool>,
}

impl SpawnerYield for CoYield<'_, '_, '_> {
    fn spawn_yield(&mut self) -> YieldReturn {
        if self.stop.get() {
            return YieldReturn::Return;
        }
        self.scope.yield_with(());
        YieldReturn::Loop
    }
}

impl LoopYield for CoYield<'_, '_, '_> {
    fn on_empty(&mut self, _empties: u32) -> OnEmpty {
        if self.stop.get() {
            return OnEmpty::End;
        }
        self.scope.yield_with(());
        OnEmpty::Retry
    }
}

impl<S, D, R> Spawner<S, D, R> for CoRoutine
where
    S: Service + 'static,
    S::CommandIn: 'static,
    D: SpawnSend<S::CommandOut> + 'static,
    R: SpawnRecv<S::CommandIn> + 'static,
{
    type Handle = CoRoutineHandle<S, D, R>;

    fn spawn(
        &mut self,
        service: S,
        dest: D,
        first_cmd: Option<S::CommandIn>,
        recv: R,
        nb_loop: usize,
    ) -> Result<Self::Handle> {
        let shared = Rc::new(CoShared {
            stop: Cell::new(false),
            end: RefCell::new(None),
        });
        let mut lp = ServiceLoop::new(service, dest, first_cmd, recv, LoopCount::new(nb_loop));
        let on_co = shared.clone();
        let words = self.stack_bytes / std::mem::size_of::<usize>();
        let co = Gn::<()>::new_scoped_opt_local(words, move |mut scope| {
            let mut yld = CoYield {
                scope: &mut scope,
                stop: &on_co.stop,
            };
            let step = lp.run(&mut yld);
            let end = lp.end_result(step);
            *on_co.end.borrow_mut() = Some((lp, end));
        });
        let mut handle = CoRoutineHandle {
            co,
            shared,
            died: None,
        };
        handle.resume();
        Ok(handle)
    }
}

impl<S: Service, D, R> CoRoutineHandle<S, D, R> {
    /// Switches into the coroutine until its next yield or its end.
    fn resume(&mut self) {
        if self.co.is_done() || self.died.is_some() {
            return;
        }
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.co.resume())) {
            self.died = Some(service_died(panic));
        }
    }

    fn ended(&self) -> bool {
        self.died.is_some() || self.co.is_done()
    }
}

impl<S: Service, D, R> SpawnUnyield for CoRoutineHandle<S, D, R> {
    fn is_finished(&mut self) -> bool {
        self.ended()
    }

    /// Resumes the coroutine on this thread until its next yield or its end;
    /// a panic inside it is `ErrorKind::ServiceDied`.
    fn unyield(&mut self) -> Result<()> {
        self.resume();
        match &self.died {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

/// A loop asked to stop keeps processing queued commands; past this many
/// resumes without ending, the service ignores `YieldReturn::Return`.
const MAX_STOP_RESUMES: usize = 1 << 20;

impl<S: Service, D, R> SpawnHandle<S, D, R> for CoRoutineHandle<S, D, R> {
    type WeakHandle = NoWeakHandle;

    /// Asks the loop to end once its channel is empty (a yield inside `call`
    /// then answers `Return`), resumes it until it does, and gives the state
    /// back.
    fn unwrap_state(mut self) -> Result<(S, D, R, Result<()>)> {
        self.shared.stop.set(true);
        let mut resumes = 0;
        while !self.ended() {
            if resumes == MAX_STOP_RESUMES {
                return Err(Error::new(
                    ErrorKind::ServiceDied,
                    ErrorLevel::ShutDown,
                    "coroutine service does not stop: it ignores YieldReturn::Return",
                ));
            }
            self.resume();
            resumes += 1;
        }
        if let Some(e) = self.died.take() {
            return Err(e);
        }
        match self.shared.end.borrow_mut().take() {
            Some((lp, end)) => {
                let (s, d, r) = lp.into_parts();
                Ok((s, d, r, end))
            }
            None => Err(Error::new(
                ErrorKind::ServiceDied,
                ErrorLevel::ShutDown,
                "coroutine ended without its state",
            )),
        }
    }

    fn get_weak_handle(&self) -> Option<NoWeakHandle> {
        None
    }
}
