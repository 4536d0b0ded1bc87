//! [`ThreadPark`] and [`ThreadParkRef`]: a service on its own thread, parked
//! when it yields, unparked by `unyield`.

use super::thread::{spawn_thread, Direct, Shared, ThreadHandle, ThreadMode, ViaSRef, Waiter};
use super::{LoopYield, OnEmpty};
use crate::error::Result;
use crate::service::{Service, SpawnRecv, SpawnSend, Spawner, SpawnerYield, YieldReturn};
use crate::sref::SRef;

/// Runs each service on its own thread. A yield (inside `call`, or on an
/// empty channel) parks the thread until
/// [`SpawnUnyield::unyield`](crate::SpawnUnyield::unyield) from the handle or a weak handle on any
/// thread; the yield answers [`YieldReturn::Loop`]. Whoever queues a command
/// or sees the service's stream become ready must `unyield` it.
///
/// On an empty channel the thread first polls it again for a few
/// microseconds (std's channel backoff: spins, then `yield_now`), then
/// parks. `unyield` is a load while a wake-up is already pending (the
/// service is busy or polling), an atomic swap otherwise, and a syscall
/// only when the thread is really parked. On Linux, before parking, the
/// thread issues one `membarrier(2)` so that load needs no fence
/// (elsewhere it is a `fence(SeqCst)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadPark;

/// [`ThreadPark`] for services that hold `Rc`s: the service, its
/// destination, its receiver and its first command are [`SRef`]s, sent to
/// the thread as their sendable form and rebuilt there (and the other way
/// for `unwrap_state`). Pair it with
/// [`MpscChannelRef`](crate::service::channel::MpscChannelRef).
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadParkRef;

pub(crate) struct Park;

pub(crate) struct ParkYield<'a>(&'a Shared, Waiter);

impl SpawnerYield for ParkYield<'_> {
    fn spawn_yield(&mut self) -> YieldReturn {
        if self.0.stopping() {
            return YieldReturn::Return;
        }
        self.0.yield_until_notified(&mut self.1);
        YieldReturn::Loop
    }
}

impl LoopYield for ParkYield<'_> {
    fn on_empty(&mut self, empties: u32) -> OnEmpty {
        if self.0.stopping() {
            return OnEmpty::End;
        }
        self.0.wait_for_input(empties, &mut self.1);
        OnEmpty::Retry
    }
}

impl ThreadMode for Park {
    type Yield<'a> = ParkYield<'a>;
    const NAME: &'static str = "mydht-thread-park";
    fn yielder(shared: &Shared) -> ParkYield<'_> {
        ParkYield(shared, Waiter::default())
    }
}

impl<S, D, R> Spawner<S, D, R> for ThreadPark
where
    S: Service + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    type Handle = ThreadHandle<S, D, R, Direct>;

    fn spawn(
        &mut self,
        service: S,
        dest: D,
        first_cmd: Option<S::CommandIn>,
        recv: R,
        nb_loop: usize,
    ) -> Result<Self::Handle> {
        spawn_thread::<S, D, R, Direct, Park>(service, dest, first_cmd, recv, nb_loop)
    }
}

impl<S, D, R> Spawner<S, D, R> for ThreadParkRef
where
    S: Service + SRef + 'static,
    S::Send: 'static,
    S::CommandIn: SRef,
    <S::CommandIn as SRef>::Send: 'static,
    D: SpawnSend<S::CommandOut> + SRef + 'static,
    D::Send: 'static,
    R: SpawnRecv<S::CommandIn> + SRef + 'static,
    R::Send: 'static,
{
    type Handle = ThreadHandle<S, D, R, ViaSRef>;

    fn spawn(
        &mut self,
        service: S,
        dest: D,
        first_cmd: Option<S::CommandIn>,
        recv: R,
        nb_loop: usize,
    ) -> Result<Self::Handle> {
        spawn_thread::<S, D, R, ViaSRef, Park>(service, dest, first_cmd, recv, nb_loop)
    }
}
