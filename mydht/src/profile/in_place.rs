//! [`InPlaceGlobal`]: the global service on a thread of its own that a
//! node handle's query runs on the handle's thread while that service is
//! idle (`threaded!`'s global service).

use std::cell::Cell;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mydht_base::service::channel::IdleInlineRecv;
use mydht_base::service::spawn::{IdleInline, InlineCall};
use mydht_base::{
    Error, ErrorKind, ErrorLevel, Result, Service, ServiceRestartable, SpawnHandle, SpawnRecv,
    SpawnUnyield, Spawner, SpawnerYield, ThreadPark, YieldReturn,
};

use crate::conf::MyDHTConf;
use crate::service::{GlobalCommand, GlobalDest, GlobalRecv, Reply};

thread_local! {
    /// This thread is a node handle's, giving a query to the global
    /// service ([`handle_gives`]).
    static HANDLE_GIVES: Cell<bool> = const { Cell::new(false) };
}

/// Runs `give` as a node handle giving a query to the global service:
/// a query it sends may run in place (only then, so that the main loop
/// never runs the global service's calls).
pub(crate) fn handle_gives<T>(give: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            HANDLE_GIVES.with(|g| g.set(false));
        }
    }
    HANDLE_GIVES.with(|g| g.set(true));
    let _reset = Reset;
    give()
}

/// Spawns the global service on `Sp` (`ThreadPark`: its own thread)
/// behind an [`IdleInlineChannel`] (`MpscChannelIdleInline` in the
/// profiles): a node handle's query ([`GlobalCommand::Api`] given by
/// [`NodeHandle`](crate::NodeHandle)'s `query` calls) that finds the
/// service idle (nothing queued, nothing being run) and at most one
/// other query pending in the node's book is run on the caller's thread,
/// before `query` (or `query_future`) waits: its frame to a peer encoded
/// and written there too when that peer's write service is idle, its
/// reply in the caller's slot. Not one thread wake-up between the caller
/// and the socket.
///
/// Everything else queues as before and is run by the service's thread:
/// the main loop's commands (peer events, messages, ticks, the queries
/// it forwards), a query that finds the service busy (its thread or
/// another caller runs a command; senders take the service with a
/// `try_lock`, they never wait for it), behind what is queued, in order,
/// and the queries of a node under load (more pending): the service's
/// thread runs those queued together, their messages to one peer held
/// and written as one batch ([`GlobalDest`]), where each run in place
/// would write its own frame. The service's thread is started only when
/// a command is queued, and goes back to the reuse pool once its channel
/// stays empty.
///
/// A call run in place waits in place when it yields (the yield loops
/// with [`std::thread::yield_now`], as under `restartable!` on the main
/// loop's thread): a global service whose call waits for something only
/// its caller would do (the test's go, say, sent by the thread that
/// queried) waits for good; it takes `global: ThreadPark, MpscChannel;`.
/// [`NodeHandle::queries_in_place`](crate::NodeHandle::queries_in_place)
/// counts the queries run in place.
///
/// [`IdleInlineChannel`]: mydht_base::service::channel::IdleInlineChannel
#[derive(Debug, Clone, Copy, Default)]
pub struct InPlaceGlobal<Sp = ThreadPark>(pub IdleInline<Sp>);

/// The global service as [`InPlaceGlobal`] runs it: a node handle's query
/// may run on the handle's thread.
pub struct InPlace<S, C> {
    service: S,
    in_place: Arc<AtomicU64>,
    _conf: PhantomData<fn() -> C>,
}

impl<S: Service, C> Service for InPlace<S, C> {
    type CommandIn = S::CommandIn;
    type CommandOut = S::CommandOut;

    fn call<Y: SpawnerYield>(&mut self, cmd: S::CommandIn, yld: &mut Y) -> Result<S::CommandOut> {
        self.service.call(cmd, yld)
    }
}

/// Its calls in place never stop half way (their yield waits): nothing to
/// resume.
impl<S: Service, C> ServiceRestartable for InPlace<S, C> {}

/// The yield of a call run in place: waits there.
struct WaitYield;

impl SpawnerYield for WaitYield {
    fn spawn_yield(&mut self) -> YieldReturn {
        std::thread::yield_now();
        YieldReturn::Loop
    }
}

impl<C, S> InlineCall for InPlace<S, C>
where
    C: MyDHTConf,
    S: Service<CommandIn = GlobalCommand<C>>,
{
    fn inline_ok(&self, cmd: &GlobalCommand<C>) -> bool {
        matches!(cmd, GlobalCommand::Api(..)) && HANDLE_GIVES.with(Cell::get)
    }

    /// A panic of the application's call ends the service's loop as it
    /// would have ended its thread (the main loop starts it again), not
    /// the caller's thread.
    fn call_in_place(&mut self, cmd: GlobalCommand<C>) -> Result<S::CommandOut> {
        self.in_place.fetch_add(1, Ordering::Relaxed);
        let call = AssertUnwindSafe(|| self.service.call(cmd, &mut WaitYield));
        catch_unwind(call).unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::ServiceDied,
                ErrorLevel::ShutDown,
                "the global service's call panicked on its caller's thread",
            ))
        })
    }
}

/// The channel's receiver as [`InPlaceGlobal`] is given it.
type OuterRecv<C, R> = GlobalRecv<C, IdleInlineRecv<R, GlobalCommand<C>>>;
/// The receiver of the loop it spawns.
type InnerRecv<C, R> = IdleInlineRecv<GlobalRecv<C, R>, GlobalCommand<C>>;

impl<C, S, R, Sp> Spawner<S, GlobalDest<C>, OuterRecv<C, R>> for InPlaceGlobal<Sp>
where
    C: MyDHTConf,
    S: Service<CommandIn = GlobalCommand<C>, CommandOut = Reply<C>>,
    R: SpawnRecv<Option<GlobalCommand<C>>>,
    IdleInline<Sp>: Spawner<InPlace<S, C>, GlobalDest<C>, InnerRecv<C, R>>,
{
    type Handle = InPlaceHandle<
        <IdleInline<Sp> as Spawner<InPlace<S, C>, GlobalDest<C>, InnerRecv<C, R>>>::Handle,
    >;

    fn spawn(
        &mut self,
        service: S,
        dest: GlobalDest<C>,
        first_cmd: Option<GlobalCommand<C>>,
        recv: OuterRecv<C, R>,
        nb_loop: usize,
    ) -> Result<Self::Handle> {
        let service = InPlace {
            service,
            in_place: dest.in_place_count(),
            _conf: PhantomData,
        };
        let h = self
            .0
            .spawn(service, dest, first_cmd, recv.inside_out(), nb_loop)?;
        Ok(InPlaceHandle(h))
    }
}

/// The handle of a global service spawned with [`InPlaceGlobal`].
pub struct InPlaceHandle<H>(H);

impl<H: SpawnUnyield> SpawnUnyield for InPlaceHandle<H> {
    fn is_finished(&mut self) -> bool {
        self.0.is_finished()
    }

    fn unyield(&mut self) -> Result<()> {
        self.0.unyield()
    }
}

impl<C, S, R, H> SpawnHandle<S, GlobalDest<C>, OuterRecv<C, R>> for InPlaceHandle<H>
where
    C: MyDHTConf,
    H: SpawnHandle<InPlace<S, C>, GlobalDest<C>, InnerRecv<C, R>>,
{
    type WeakHandle = H::WeakHandle;

    fn unwrap_state(self) -> Result<(S, GlobalDest<C>, OuterRecv<C, R>, Result<()>)> {
        let (service, dest, recv, end) = self.0.unwrap_state()?;
        Ok((service.service, dest, GlobalRecv::outside_in(recv), end))
    }

    fn get_weak_handle(&self) -> Option<H::WeakHandle> {
        self.0.get_weak_handle()
    }
}
