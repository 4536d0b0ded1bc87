//! [`ThreadBlock`]: a service on its own thread, waiting on its channel.

use std::time::Duration;

use super::thread::{spawn_thread, Direct, Shared, ThreadHandle, ThreadMode, Waiter};
use super::{LoopYield, OnEmpty};
use crate::error::Result;
use crate::service::{Service, SpawnRecv, SpawnSend, Spawner, SpawnerYield, YieldReturn};

/// Runs each service on its own thread, waiting for commands on
/// [`SpawnRecv::recv_wait`]: nobody needs to `unyield` it after a send. A
/// yield inside `call` parks the thread until
/// [`SpawnUnyield::unyield`](crate::SpawnUnyield::unyield) or
/// [`BLOCK_SLICE`] at most, then retries: for services whose streams block
/// (a yield follows an I/O timeout), or that wait for something whose
/// owner unyields them (a lent stream given back). Pair it with a channel whose
/// `recv_wait` waits ([`MpscChannel`](crate::service::channel::MpscChannel));
/// with one that cannot wait the thread spins.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadBlock;

pub(crate) struct Block;

/// The longest a [`ThreadBlock`] yield inside `call` parks without an
/// `unyield` (it used to retry at once: a read service waiting for its
/// lent stream kept a core busy).
pub const BLOCK_SLICE: Duration = Duration::from_millis(10);

pub(crate) struct BlockYield<'a>(&'a Shared, Waiter);

impl SpawnerYield for BlockYield<'_> {
    fn spawn_yield(&mut self) -> YieldReturn {
        if self.0.stopping() {
            return YieldReturn::Return;
        }
        self.0.park_timeout(BLOCK_SLICE, &mut self.1);
        YieldReturn::Loop
    }
}

impl LoopYield for BlockYield<'_> {
    const WAITS: bool = true;
    fn on_empty(&mut self, _empties: u32) -> OnEmpty {
        if self.0.stopping() {
            OnEmpty::End
        } else {
            OnEmpty::Retry
        }
    }
}

impl ThreadMode for Block {
    type Yield<'a> = BlockYield<'a>;
    const NAME: &'static str = "mydht-thread-block";
    fn yielder(shared: &Shared) -> BlockYield<'_> {
        BlockYield(shared, Waiter::default())
    }
}

impl<S, D, R> Spawner<S, D, R> for ThreadBlock
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
        spawn_thread::<S, D, R, Direct, Block>(service, dest, first_cmd, recv, nb_loop)
    }
}
