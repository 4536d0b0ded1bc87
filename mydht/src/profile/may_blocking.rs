//! The [`may_blocking!`](crate::may_blocking) profile (feature `may`): the
//! blocking style of [`threaded_blocking!`](crate::threaded_blocking), its
//! read and write services as may coroutines instead of OS threads, and
//! [`MayBlock`], the spawner that runs them.

use may::coroutine;
use mydht_base::service::channel::NoRecv;
use mydht_base::service::spawn::{MayIdle, MayIdleHandle, MayIdleWeak};
use mydht_base::{
    Result, Service, ServiceRestartable, SpawnHandle, SpawnRecv, SpawnSend, SpawnUnyield, Spawner,
    SpawnerYield, YieldReturn,
};

use crate::command::MainLoopSender;
use crate::conf::MyDHTConf;
use crate::service::{ReadService, WriteCommand, WriteService};

/// The stack of a read or write coroutine, as `MayCoroutine::with_stack_size`
/// takes it. The deepest use measured (may's stack tracking, the touch
/// scenarios of `tests/node_may.rs` in a debug build, ChaCha20 and AES
/// sessions: a read coroutine decrypting and decoding a frame and calling
/// the local service inline) is 33 KiB, over may's default of 32 KiB;
/// pages of the stack never touched are never given memory.
const STACK_BYTES: usize = 128 * 1024;

/// Runs the node's read and write services as coroutines on may's worker
/// threads (`MayIdle`), for a transport whose streams wait by parking
/// the calling coroutine (`mydht_tcp::MayTcpTransport`). A yield inside a
/// service's `call` (its stream answered `WouldBlock`: the coroutine was
/// unparked while it waited) retries at once, as
/// [`ThreadBlock`](mydht_base::ThreadBlock) does, after letting the other
/// coroutines of the worker run, or ends the service when its owner asked
/// it to stop: the stop's unpark wakes a service waiting in its stream, so
/// an idle connection needs no I/O timeout and costs no wake-up. On an
/// empty channel the write service parks until the main loop queues a
/// command and wakes it. A service idle for `IDLE_AFTER` (1 s to 2 s)
/// suspends: its coroutine ends and its stack is unmapped, its state kept
/// in the handle; the main loop's next command (write service) or the
/// socket's readiness (read service, through the transport) starts a new
/// coroutine that resumes it. So an idle connection holds no stack.
///
/// It spawns only [`ReadService`] and [`WriteService`] (its two `Spawner`
/// implementations): code of this crate, which keeps no thread-local state
/// across a yield, the condition `MayCoroutine::new` puts on what runs as a
/// may coroutine. That is why it is safe to make.
#[derive(Debug, Clone, Copy)]
pub struct MayBlock {
    inner: MayIdle,
}

impl MayBlock {
    /// The spawner with coroutine stacks of `bytes` (the profile's
    /// `stack:` override; `STACK_BYTES`, 128 KiB, by default). Turns may's
    /// pinning of its worker threads to cores off (`may::config()`, for
    /// the whole process, if may's scheduler has not started yet).
    pub fn with_stack(bytes: usize) -> Self {
        // SAFETY: the services a `MayBlock` spawns are the node's read and
        // write services (see the `Spawner` impls below), which hold no
        // thread-local state or thread-bound guard across a yield; their
        // stack use is bounded by `STACK_BYTES` (see there), the default.
        // The application's local service, called inline by a read
        // service, runs with `Blocker`'s yield, which never parks the
        // coroutine.
        let inner = unsafe { MayIdle::with_stack_size(bytes) };
        // may pins each worker thread to a core unless told otherwise
        // before its scheduler starts; a coroutine woken from another
        // thread (the transport's, the main loop) is queued on a worker
        // chosen in turn, so a pinned worker whose core is busy holds it
        // even when the other core is free. Left to the OS scheduler, the
        // node bench's 64-in-flight p99 was 1.9-2.3 ms against 2.0-12.1 ms
        // pinned (3 alternating pairs, load 0.7-1.7). No effect once may's
        // scheduler runs.
        may::config().set_worker_pin(false);
        MayBlock { inner }
    }
}

impl Default for MayBlock {
    fn default() -> Self {
        Self::with_stack(STACK_BYTES)
    }
}

/// A service whose yields retry instead of waiting for a wake-up.
struct Retry<S>(S);

impl<S: Service> Service for Retry<S> {
    type CommandIn = S::CommandIn;
    type CommandOut = S::CommandOut;

    fn call<Y: SpawnerYield>(&mut self, cmd: S::CommandIn, yld: &mut Y) -> Result<S::CommandOut> {
        self.0.call(cmd, &mut RetryYield(yld))
    }
}

impl<S: ServiceRestartable> ServiceRestartable for Retry<S> {
    fn resume<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Option<S::CommandOut>> {
        self.0.resume(&mut RetryYield(yld))
    }
}

struct RetryYield<'a, Y>(&'a mut Y);

impl<Y: SpawnerYield> SpawnerYield for RetryYield<'_, Y> {
    fn spawn_yield(&mut self) -> YieldReturn {
        // `MayIdle`'s yield answers `Return` when a stop was asked or the
        // service is suspending, and otherwise parks until an unpark: the unpark made first makes
        // that park return at once (may keeps one pending unpark).
        coroutine::current().unpark();
        let step = self.0.spawn_yield();
        if step == YieldReturn::Loop {
            coroutine::yield_now();
        }
        step
    }
}

/// The handle on a service spawned by [`MayBlock`]: `Send`, wakes it from
/// any thread or coroutine, gives its state back once it ended.
pub struct MayBlockHandle<S: ServiceRestartable, D, R>(MayIdleHandle<Retry<S>, D, R>);

impl<S, D, R> SpawnUnyield for MayBlockHandle<S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    fn is_finished(&mut self) -> bool {
        self.0.is_finished()
    }

    fn unyield(&mut self) -> Result<()> {
        self.0.unyield()
    }
}

impl<S, D, R> SpawnHandle<S, D, R> for MayBlockHandle<S, D, R>
where
    S: ServiceRestartable + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    type WeakHandle = MayIdleWeak;

    fn unwrap_state(self) -> Result<(S, D, R, Result<()>)> {
        let (service, dest, recv, end) = self.0.unwrap_state()?;
        Ok((service.0, dest, recv, end))
    }

    fn get_weak_handle(&self) -> Option<MayIdleWeak> {
        self.0.get_weak_handle()
    }
}

impl<C: MyDHTConf> Spawner<ReadService<C>, MainLoopSender<C>, NoRecv> for MayBlock
where
    ReadService<C>: Send,
{
    type Handle = MayBlockHandle<ReadService<C>, MainLoopSender<C>, NoRecv>;

    fn spawn(
        &mut self,
        service: ReadService<C>,
        dest: MainLoopSender<C>,
        first_cmd: Option<<ReadService<C> as Service>::CommandIn>,
        recv: NoRecv,
        nb_loop: usize,
    ) -> Result<Self::Handle> {
        self.inner
            .spawn(Retry(service), dest, first_cmd, recv, nb_loop)
            .map(MayBlockHandle)
    }
}

impl<C: MyDHTConf, R> Spawner<WriteService<C>, MainLoopSender<C>, R> for MayBlock
where
    WriteService<C>: Send,
    WriteCommand<C>: Send,
    R: SpawnRecv<WriteCommand<C>> + Send + 'static,
{
    type Handle = MayBlockHandle<WriteService<C>, MainLoopSender<C>, R>;

    fn spawn(
        &mut self,
        service: WriteService<C>,
        dest: MainLoopSender<C>,
        first_cmd: Option<WriteCommand<C>>,
        recv: R,
        nb_loop: usize,
    ) -> Result<Self::Handle> {
        self.inner
            .spawn(Retry(service), dest, first_cmd, recv, nb_loop)
            .map(MayBlockHandle)
    }
}

/// The blocking style on may's scheduler, for `mydht_tcp::MayTcpTransport`
/// (features `may` of `mydht` and of `mydht-tcp`): each connection's read
/// and write services are may coroutines ([`MayBlock`]) that wait in their
/// streams, the write channel a `MayChannel` (a full queue parks the
/// sending coroutine); the application's local service runs inline in its
/// read coroutine (`Blocker`, `MayChannel`); the node-wide services (global,
/// api, peer store, peer management) on parked threads as in
/// [`threaded!`](crate::threaded). So a node of a thousand connections
/// runs on may's worker threads (one per core), its event loop, and a
/// handful of threads of its own (main loop, listener, the four node-wide
/// services, a connector thread while each outbound connect authenticates),
/// not two threads per connection. The transport's I/O timeout bounds the
/// waits of those plain threads (a handshake with a silent peer); the
/// coroutines wait without one, a stop wakes them. Peers are shared as
/// `ArcRef<PeerInfo>`, and the application's services and messages must be
/// `Send`. Takes the overrides of the [module doc](crate::profile).
///
/// # The may contract
///
/// may moves a parked coroutine to whichever worker thread wakes it, so
/// code running in a may coroutine must not hold thread-local state across
/// a point where the coroutine may park: a `thread_local!` borrow, a lock
/// guard or any other value tied to its thread (this is the condition of
/// `MayCoroutine::new`, undefined behaviour otherwise). The node's own
/// services meet it: they park only in may's I/O and channels and in their
/// spawner's yield, holding none of that. The application's local service
/// runs inside a read coroutine: its `call` must not hold such state across
/// a call into may (may's I/O, synchronisation or coroutine functions), the
/// only place its coroutine can park (its own yield, `Blocker`'s, never
/// parks). A blocking call that is not may's (std I/O, a std channel or
/// lock that waits) holds the whole worker thread, and with it the other
/// coroutines queued on it, until it returns.
///
/// ```ignore
/// impl MyDHTConf for MyNode {
///     type Transport = mydht_tcp::MayTcpTransport;
///     // ...
///     mydht::may_blocking!();
///     fn init_transport(&mut self) -> mydht_base::Result<Self::Transport> {
///         Ok(mydht_tcp::MayTcpTransport::bind(([127, 0, 0, 1], 0).into())?
///             .with_io_timeout(Some(std::time::Duration::from_millis(50))))
///     }
/// }
/// ```
#[macro_export]
macro_rules! may_blocking {
    ($($mix:tt)*) => {
        $crate::__profile!(@mix [
            MayBlock // read
            MayBlock MayChannel // write
            Blocker MayChannel // local
            ThreadPark MpscChannel // global
            ThreadPark MpscChannel // api
            ThreadPark MpscChannel // peer_store
            ThreadPark MpscChannel // peer_mgmt
            true ArcRef [$crate::PeerInfo] [] // on_threads, peer_ref, peer, stack
        ] $($mix)*);
    };
}
