//! [`Blocker`]: runs a service inline, in the caller, until its channel is
//! empty.

use super::{LoopCount, LoopYield, NoWeakHandle, OnEmpty, ServiceLoop};
use crate::error::Result;
use crate::service::{
    Service, SpawnHandle, SpawnRecv, SpawnSend, SpawnUnyield, Spawner, SpawnerYield, YieldReturn,
};

/// Runs the service inline in `spawn`: the first command, then every queued
/// command, and returns when the channel is empty (or closed, or after
/// `nb_loop` commands). It never suspends: a yield inside `call` retries in
/// place (after a `thread::yield_now`), so use it for services whose calls do
/// not wait on anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Blocker;

/// The handle of a [`Blocker`] service: the loop is already over when
/// `spawn` returns.
pub struct BlockerHandle<S: Service, D, R> {
    lp: ServiceLoop<S, D, R>,
    end: Result<()>,
}

struct BlockYield;

impl SpawnerYield for BlockYield {
    fn spawn_yield(&mut self) -> YieldReturn {
        std::thread::yield_now();
        YieldReturn::Loop
    }
}

impl LoopYield for BlockYield {
    fn on_empty(&mut self, _empties: u32) -> OnEmpty {
        OnEmpty::End
    }
}

impl<S, D, R> Spawner<S, D, R> for Blocker
where
    S: Service,
    D: SpawnSend<S::CommandOut>,
    R: SpawnRecv<S::CommandIn>,
{
    type Handle = BlockerHandle<S, D, R>;

    fn spawn(
        &mut self,
        service: S,
        dest: D,
        first_cmd: Option<S::CommandIn>,
        recv: R,
        nb_loop: usize,
    ) -> Result<Self::Handle> {
        let mut lp = ServiceLoop::new(service, dest, first_cmd, recv, LoopCount::new(nb_loop));
        let step = lp.run(&mut BlockYield);
        let end = lp.end_result(step);
        Ok(BlockerHandle { lp, end })
    }
}

impl<S: Service, D, R> SpawnUnyield for BlockerHandle<S, D, R> {
    fn is_finished(&mut self) -> bool {
        true
    }

    /// Nothing to wake: spawn again from `unwrap_state` to process new
    /// commands.
    fn unyield(&mut self) -> Result<()> {
        Ok(())
    }
}

impl<S, D, R> SpawnHandle<S, D, R> for BlockerHandle<S, D, R>
where
    S: Service,
    D: SpawnSend<S::CommandOut>,
    R: SpawnRecv<S::CommandIn>,
{
    type WeakHandle = NoWeakHandle;

    fn unwrap_state(self) -> Result<(S, D, R, Result<()>)> {
        let (s, d, r) = self.lp.into_parts();
        Ok((s, d, r, self.end))
    }

    fn get_weak_handle(&self) -> Option<NoWeakHandle> {
        None
    }
}
