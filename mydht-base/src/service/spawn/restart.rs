//! [`RestartOrError`]: runs a service on the caller's thread; a yield stores
//! its state in the handle and `unyield` restarts it.

use super::{LoopCount, LoopYield, NoWeakHandle, OnEmpty, ServiceLoop, Step};
use crate::error::Result;
use crate::service::{
    ServiceRestartable, SpawnHandle, SpawnRecv, SpawnSend, SpawnUnyield, Spawner, SpawnerYield,
    YieldReturn,
};

/// Runs the service in `spawn` on the caller's thread until it yields: a
/// yield answers [`YieldReturn::Return`], the service saves its progress in
/// itself and returns `Error::yielded`, and `spawn` (or `unyield`) returns
/// with the state kept in the handle. An empty channel suspends the same way.
/// [`SpawnUnyield::unyield`] restarts it: [`ServiceRestartable::resume`]
/// first, then new commands. No thread, no coroutine: the mode for services
/// written as resumable state machines.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestartOrError;

/// The handle of a [`RestartOrError`] service: holds its state while it is
/// suspended.
pub struct RestartHandle<S: ServiceRestartable, D, R> {
    lp: ServiceLoop<S, D, R>,
    end: Option<Result<()>>,
}

struct ReturnYield;

impl SpawnerYield for ReturnYield {
    fn spawn_yield(&mut self) -> YieldReturn {
        YieldReturn::Return
    }
}

impl LoopYield for ReturnYield {
    fn on_empty(&mut self, _empties: u32) -> OnEmpty {
        OnEmpty::Suspend
    }
}

impl<S, D, R> RestartHandle<S, D, R>
where
    S: ServiceRestartable,
    D: SpawnSend<S::CommandOut>,
    R: SpawnRecv<S::CommandIn>,
{
    fn run(&mut self) {
        if let Step::End(r) = self.lp.restart(&mut ReturnYield) {
            self.end = Some(r);
        }
    }
}

impl<S, D, R> Spawner<S, D, R> for RestartOrError
where
    S: ServiceRestartable,
    D: SpawnSend<S::CommandOut>,
    R: SpawnRecv<S::CommandIn>,
{
    type Handle = RestartHandle<S, D, R>;

    fn spawn(
        &mut self,
        service: S,
        dest: D,
        first_cmd: Option<S::CommandIn>,
        recv: R,
        nb_loop: usize,
    ) -> Result<Self::Handle> {
        let lp = ServiceLoop::new(service, dest, first_cmd, recv, LoopCount::new(nb_loop));
        let mut handle = RestartHandle { lp, end: None };
        handle.run();
        Ok(handle)
    }
}

impl<S, D, R> SpawnUnyield for RestartHandle<S, D, R>
where
    S: ServiceRestartable,
    D: SpawnSend<S::CommandOut>,
    R: SpawnRecv<S::CommandIn>,
{
    fn is_finished(&mut self) -> bool {
        self.end.is_some()
    }

    /// Restarts the service on this thread until its next yield or its end.
    fn unyield(&mut self) -> Result<()> {
        if self.end.is_none() {
            self.run();
        }
        Ok(())
    }
}

impl<S, D, R> SpawnHandle<S, D, R> for RestartHandle<S, D, R>
where
    S: ServiceRestartable,
    D: SpawnSend<S::CommandOut>,
    R: SpawnRecv<S::CommandIn>,
{
    type WeakHandle = NoWeakHandle;

    /// Never waits: a suspended service is given back as it is, with
    /// `Err(yielded)` if a command is half done (spawning it again on a
    /// restarting spawner finishes it).
    fn unwrap_state(self) -> Result<(S, D, R, Result<()>)> {
        let end = match self.end {
            Some(end) => end,
            None => self.lp.count.suspended_result(),
        };
        let (s, d, r) = self.lp.into_parts();
        Ok((s, d, r, end))
    }

    fn get_weak_handle(&self) -> Option<NoWeakHandle> {
        None
    }
}
