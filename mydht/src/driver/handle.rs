//! [`start_loop`] and [`NodeHandle`]: how an application runs a node and
//! talks to it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use mydht_base::{Error, ErrorKind, ErrorLevel, Result};

use crate::error::NodeError;

use super::call::{self, CallFuture, Finish};
use super::global_door::{GlobalDoor, Passed};
use super::MainLoop;
use crate::command::{ApiAction, MainLoopCommand, MainLoopSender, NodeStats, PeerCount};
use crate::conf::{Address, MainLoopSpawn, MyDHTConf};
use crate::identity::{PeerId, PeerInfo};
use crate::service::{ApiResult, DirectPeers, Partial, Reply, ReplyFuture, ReplySlot};

struct Inner<C: MyDHTConf> {
    sender: Mutex<MainLoopSender<C>>,
    me: PeerInfo,
    /// The global service's direct ways (its count of direct sends).
    direct: Arc<DirectPeers<C>>,
    /// The way straight into the global service's channel, when the
    /// profile has one ([`MyDHTConf::direct_global`]).
    global: Option<Arc<GlobalDoor<C>>>,
    next_qid: AtomicU64,
    /// How long a lone synchronous caller spins for its replies
    /// ([`NodeConstants::caller_spin`](crate::NodeConstants::caller_spin)).
    caller_spin: Duration,
    /// The loop's thread; `None` once joined, or when the caller drives
    /// the loop.
    join: Mutex<Option<JoinHandle<Result<()>>>>,
    /// The caller drives the loop: a stop is only asked, once.
    driven: Option<AtomicBool>,
    /// The thread that last turned a driven loop: a blocking call there
    /// would wait for a loop that cannot turn.
    driver: DriverThread,
}

/// The global service's direct ways to peers, and the handles' way to the
/// global service (when the profile has one).
pub(super) type DirectWays<C> = (Arc<DirectPeers<C>>, Option<Arc<GlobalDoor<C>>>);

/// Which thread turns a driven main loop (`None` for a loop on its own
/// thread, or before the first turn: then it is the thread that built it).
pub(super) type DriverThread = Arc<Mutex<Option<ThreadId>>>;

impl<C: MyDHTConf> Inner<C> {
    fn stop(&self) -> Result<()> {
        let join = self.join.lock().unwrap_or_else(|e| e.into_inner()).take();
        let first_ask = self
            .driven
            .as_ref()
            .is_some_and(|asked| !asked.swap(true, Ordering::Relaxed));
        if join.is_none() && !first_ask {
            return Ok(());
        }
        // A loop that already ended has dropped its receiver: nothing to say.
        let _ = self
            .sender
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send_cmd(MainLoopCommand::Stop);
        match join {
            Some(join) => join.join().map_err(|_| {
                Error::new(
                    ErrorKind::ServiceDied,
                    ErrorLevel::Fatal,
                    "main loop panicked",
                )
            })?,
            None => Ok(()),
        }
    }
}

impl<C: MyDHTConf> Drop for Inner<C> {
    fn drop(&mut self) {
        // The last handle gone stops the node; its error has no one to go to.
        let _ = self.stop();
    }
}

/// The application's handle on a running node: queries (blocking with a
/// timeout, or as a `Future`) and stop. Clones share the node; the node
/// stops when [`stop`](Self::stop) is called or the last clone is dropped.
pub struct NodeHandle<C: MyDHTConf> {
    inner: Arc<Inner<C>>,
}

impl<C: MyDHTConf> Clone for NodeHandle<C> {
    fn clone(&self) -> Self {
        NodeHandle {
            inner: self.inner.clone(),
        }
    }
}

/// Starts a node on a thread of its own: binds its transport, makes its
/// identity and services, and runs its main loop. Returns once the node
/// listens. A configuration whose main loop runs on the caller's thread
/// ([`MainLoopSpawn::Caller`]) is a `Config` error: see
/// [`start_driven`](super::start_driven).
pub fn start_loop<C: MyDHTConf>(conf: C) -> Result<NodeHandle<C>> {
    if conf.main_loop_spawn() != MainLoopSpawn::Thread {
        return Err(Error::new(
            ErrorKind::Config,
            ErrorLevel::ShutDown,
            "the main loop runs on the caller's thread: use start_driven",
        ));
    }
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let join = std::thread::Builder::new()
        .name("mydht-mainloop".into())
        .spawn(move || match MainLoop::new(conf) {
            Ok(ml) => {
                let ways = (ml.services.direct.clone(), ml.services.global_door.clone());
                let spin = ml.core_constants().caller_spin;
                let _ = ready_tx.send(Ok((ml.sender(), ml.local_peer().clone(), ways, spin)));
                ml.run()
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e.clone()));
                Err(e)
            }
        })?;
    let (sender, me, ways, spin) = ready_rx.recv().map_err(|_| {
        Error::new(
            ErrorKind::ServiceDied,
            ErrorLevel::Fatal,
            "main loop died at start",
        )
    })??;
    Ok(NodeHandle::new(
        sender,
        me,
        (ways, spin),
        Some(join),
        DriverThread::default(),
    ))
}

impl<C: MyDHTConf> NodeHandle<C> {
    /// The handle of a loop on its thread `join`, or driven by the caller
    /// (`None`); `ways` are the global service's direct ways to peers and
    /// the handle's to the global service, and the callers' spin
    /// ([`NodeConstants::caller_spin`](crate::NodeConstants::caller_spin)).
    pub(super) fn new(
        sender: MainLoopSender<C>,
        me: PeerInfo,
        (ways, caller_spin): (DirectWays<C>, Duration),
        join: Option<JoinHandle<Result<()>>>,
        driver: DriverThread,
    ) -> Self {
        let driven = join.is_none().then(|| AtomicBool::new(false));
        let (direct, global) = ways;
        NodeHandle {
            inner: Arc::new(Inner {
                sender: Mutex::new(sender),
                me,
                direct,
                global,
                next_qid: AtomicU64::new(1),
                caller_spin,
                join: Mutex::new(join),
                driven,
                driver,
            }),
        }
    }

    /// This node's peer (id, listening address, keys).
    pub fn local_peer(&self) -> &PeerInfo {
        &self.inner.me
    }

    /// [`ask`](Self::ask) then waits.
    fn ask_wait(
        &self,
        action: ApiAction<C>,
        expected: usize,
        timeout: Duration,
    ) -> std::result::Result<Vec<ApiResult<C>>, NodeError> {
        self.refuse_on_driver()?;
        Ok(self.ask(action, expected, timeout)?.wait(timeout)?)
    }

    /// A one-reply call, blocking.
    fn call<T>(
        &self,
        action: ApiAction<C>,
        timeout: Duration,
        finish: Finish<C, T>,
    ) -> std::result::Result<T, NodeError> {
        finish(self.ask_wait(action, 1, timeout)?)
    }

    /// A one-reply call, as a `Future`.
    fn call_future<T>(
        &self,
        action: ApiAction<C>,
        timeout: Duration,
        finish: Finish<C, T>,
    ) -> std::result::Result<CallFuture<C, T>, NodeError> {
        let replies = self.ask(action, 1, timeout)?.into_future(Some);
        Ok(CallFuture::new(replies, finish))
    }

    /// A blocking call is refused at once on the thread that drives the
    /// loop, which would wait for the whole timeout for a loop only it can
    /// turn.
    fn refuse_on_driver(&self) -> std::result::Result<(), NodeError> {
        let driver = *self.inner.driver.lock().unwrap_or_else(|e| e.into_inner());
        if driver == Some(std::thread::current().id()) {
            return Err(NodeError::Misuse(Error::new(
                ErrorKind::Config,
                ErrorLevel::Ignore,
                "a blocking call on the thread that drives the main loop would wait for itself: \
                 use query_future, or call from another thread",
            )));
        }
        Ok(())
    }

    /// Sends the query `action` (its replies to a new slot, `expected` of
    /// them, failing after `timeout`): an application's query straight
    /// into the global service's channel when the profile has that way
    /// and it is open, through the main loop otherwise.
    fn ask(
        &self,
        action: ApiAction<C>,
        expected: usize,
        timeout: Duration,
    ) -> std::result::Result<ReplySlot<ApiResult<C>>, NodeError> {
        let qid = self.inner.next_qid.fetch_add(1, Ordering::Relaxed);
        // A call that waits for a handshake, a peer's close or an event
        // (hundreds of µs or more) never spins: its spin would miss, and
        // take a CPU from the node's threads doing that work.
        let spin = match action {
            ApiAction::Connect(_)
            | ApiAction::ConnectTo(_)
            | ApiAction::WaitPeers(_)
            | ApiAction::Disconnect(_) => Duration::ZERO,
            _ => self.inner.caller_spin,
        };
        let slot = ReplySlot::with_spin(expected, spin);
        let action = match (action, &self.inner.global) {
            (ApiAction::Global(cmd), Some(door)) => match door.give(qid, &slot, timeout, cmd) {
                Passed::Given => return Ok(slot),
                Passed::Stranded => {
                    // Any command turns the loop, which starts the global
                    // service again; a loop gone fails the query anyway.
                    let _ = self.send_cmd(MainLoopCommand::Reply(Reply::None));
                    return Ok(slot);
                }
                Passed::Back(cmd) => ApiAction::Global(cmd),
            },
            (action, _) => action,
        };
        self.send_cmd(MainLoopCommand::Api {
            qid,
            slot: slot.clone(),
            timeout,
            action,
        })?;
        Ok(slot)
    }

    /// Sends `cmd` to the main loop.
    fn send_cmd(&self, cmd: MainLoopCommand<C>) -> Result<()> {
        self.inner
            .sender
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send_cmd(cmd)
    }

    /// Asks the global service and waits for `expected` replies (from this
    /// node or, through the application's messages, from others) at most
    /// `timeout`: all of them, or [`NodeError::Timeout`] (whose message
    /// says how many came). To get the replies that did come by the
    /// timeout, use [`query_partial`](Self::query_partial). Like every
    /// blocking call of the handle, it is [`NodeError::Misuse`] on the
    /// thread that drives a [`MainLoopDriver`](super::MainLoopDriver) (use
    /// [`query_future`](Self::query_future) there).
    pub fn query(
        &self,
        cmd: C::GlobalCmd,
        expected: usize,
        timeout: Duration,
    ) -> std::result::Result<Vec<C::ApiReply>, NodeError> {
        let replies = self.ask_wait(ApiAction::Global(cmd), expected, timeout)?;
        Ok(replies.into_iter().filter_map(app_reply::<C>).collect())
    }

    /// [`query`](Self::query) that gives what arrived: the replies
    /// received by the timeout (or all `expected` of them, as soon as they
    /// are in) with the number expected ([`Partial::is_complete`]). A
    /// fan-out caller need not know how many peers will answer. Errors are
    /// those of the node (stopped, misuse), never a timeout.
    pub fn query_partial(
        &self,
        cmd: C::GlobalCmd,
        expected: usize,
        timeout: Duration,
    ) -> std::result::Result<Partial<C::ApiReply>, NodeError> {
        self.refuse_on_driver()?;
        let slot = self.ask(ApiAction::Global(cmd), expected, timeout)?;
        let Partial { replies, expected } = slot.wait_partial(timeout)?;
        let replies = replies.into_iter().filter_map(app_reply::<C>).collect();
        Ok(Partial { replies, expected })
    }

    /// [`query`](Self::query) as a `Future`; it resolves with the replies,
    /// or fails when the query expires after `timeout`. Unlike `query`'s
    /// lone caller it never spins for its replies, unless asked with
    /// [`ReplyFuture::spin_first_poll`] (a caller with nothing else to
    /// run meanwhile).
    pub fn query_future(
        &self,
        cmd: C::GlobalCmd,
        expected: usize,
        timeout: Duration,
    ) -> std::result::Result<ReplyFuture<ApiResult<C>, C::ApiReply>, NodeError> {
        Ok(self
            .ask(ApiAction::Global(cmd), expected, timeout)?
            .into_future(app_reply::<C>))
    }

    /// Connects to `address`, authenticates, and answers once both sides
    /// admitted each other (each side's peer management): the peer found
    /// there, now online. A peer that refuses this node is
    /// [`NodeError::Rejected`] (and is never listed among the connected
    /// peers); nothing listening there is [`NodeError::Unreachable`].
    pub fn connect(
        &self,
        address: Address<C>,
        timeout: Duration,
    ) -> std::result::Result<PeerInfo, NodeError> {
        self.call(
            ApiAction::Connect(address),
            timeout,
            call::connected_peer::<C>,
        )
    }

    /// Connects to `peer` at the address it announces, expecting it there,
    /// and answers once both sides admitted each other: the peer, now
    /// online (at once when it already is). A first contact goes
    /// known-key (one message, no round trip before the first frame) when
    /// `peer`'s key binding verifies, signed otherwise (a binding that
    /// does not verify is never used). Another node answering at the
    /// address is [`NodeError::AuthFailed`]:
    /// [`AuthError::of`](crate::AuthError::of) its error is
    /// [`AuthError::KnownKeyRefused`](crate::AuthError::KnownKeyRefused)
    /// for a known-key dial, and
    /// [`AuthError::UnexpectedPeer`](crate::AuthError::UnexpectedPeer) for
    /// a signed one. An address that does not parse is
    /// [`NodeError::Misuse`]; the other errors are those of
    /// [`connect`](Self::connect).
    pub fn connect_to(
        &self,
        peer: PeerInfo,
        timeout: Duration,
    ) -> std::result::Result<PeerInfo, NodeError> {
        self.call(
            ApiAction::ConnectTo(peer),
            timeout,
            call::connected_peer::<C>,
        )
    }

    /// [`connect_to`](Self::connect_to) as a `Future`, for a thread that
    /// drives the loop itself (or any executor).
    pub fn connect_to_future(
        &self,
        peer: PeerInfo,
        timeout: Duration,
    ) -> std::result::Result<CallFuture<C, PeerInfo>, NodeError> {
        self.call_future(
            ApiAction::ConnectTo(peer),
            timeout,
            call::connected_peer::<C>,
        )
    }

    /// Closes the connection to the peer `id`: its services stop, its socket
    /// closes, it goes offline here (and, when it reads the close, on its
    /// side). The peer that was connected, or `None`.
    pub fn disconnect(
        &self,
        id: &PeerId,
        timeout: Duration,
    ) -> std::result::Result<Option<PeerInfo>, NodeError> {
        self.call(ApiAction::Disconnect(*id), timeout, call::maybe_peer::<C>)
    }

    /// The peer with this id, if the node knows it.
    pub fn find_peer(
        &self,
        id: &PeerId,
        timeout: Duration,
    ) -> std::result::Result<Option<PeerInfo>, NodeError> {
        self.call(ApiAction::FindPeer(*id), timeout, call::maybe_peer::<C>)
    }

    /// [`connect`](Self::connect) as a `Future`, for a thread that drives
    /// the loop itself (or any executor).
    pub fn connect_future(
        &self,
        address: Address<C>,
        timeout: Duration,
    ) -> std::result::Result<CallFuture<C, PeerInfo>, NodeError> {
        self.call_future(
            ApiAction::Connect(address),
            timeout,
            call::connected_peer::<C>,
        )
    }

    /// The peers connected now.
    pub fn connected_peers(
        &self,
        timeout: Duration,
    ) -> std::result::Result<Vec<PeerInfo>, NodeError> {
        self.call(ApiAction::ConnectedPeers, timeout, call::peers::<C>)
    }

    /// [`connected_peers`](Self::connected_peers) as a `Future`.
    pub fn connected_peers_future(
        &self,
        timeout: Duration,
    ) -> std::result::Result<CallFuture<C, Vec<PeerInfo>>, NodeError> {
        self.call_future(ApiAction::ConnectedPeers, timeout, call::peers::<C>)
    }

    /// Messages the global service gave straight to the write service of
    /// a peer's connection, not through the main loop
    /// ([`GlobalDest`](crate::service::GlobalDest)), since the node
    /// started: a statistic for tests and benchmarks, read without asking
    /// the main loop.
    pub fn direct_sends(&self) -> u64 {
        self.inner.direct.sent()
    }

    /// Queries this node's handles gave straight to the global service's
    /// channel, not through the main loop ([`MyDHTConf::direct_global`]),
    /// since the node started: a statistic for tests and benchmarks, read
    /// without asking the main loop. Always 0 where the profile has no
    /// such way (`restartable!`, `single_thread!`).
    pub fn direct_queries(&self) -> u64 {
        self.inner.global.as_ref().map_or(0, |door| door.given())
    }

    /// Queries this node's global service ran on the thread of the handle
    /// that sent them, not on its own thread
    /// ([`InPlaceGlobal`](crate::profile::InPlaceGlobal), `threaded!`),
    /// since the node started: a statistic for tests and benchmarks, read
    /// without asking the main loop. Always 0 under the other profiles.
    pub fn queries_in_place(&self) -> u64 {
        self.inner.direct.in_place()
    }

    /// The node's counters now.
    pub fn stats(&self, timeout: Duration) -> std::result::Result<NodeStats, NodeError> {
        self.call(ApiAction::Stats, timeout, call::stats::<C>)
    }

    /// Waits until the number of connected peers is in `count`'s range;
    /// the connected peers then.
    pub fn wait_peers(
        &self,
        count: PeerCount,
        timeout: Duration,
    ) -> std::result::Result<Vec<PeerInfo>, NodeError> {
        self.call(ApiAction::WaitPeers(count), timeout, call::peers::<C>)
    }

    /// [`wait_peers`](Self::wait_peers) as a `Future`.
    pub fn wait_peers_future(
        &self,
        count: PeerCount,
        timeout: Duration,
    ) -> std::result::Result<CallFuture<C, Vec<PeerInfo>>, NodeError> {
        self.call_future(ApiAction::WaitPeers(count), timeout, call::peers::<C>)
    }

    /// Stops the node: every service stopped, every thread joined, every
    /// socket closed. Other clones then get `ChannelClosed`. When the
    /// caller drives the loop, this only asks: the stop is done by the
    /// driver's next turn.
    pub fn stop(self) -> Result<()> {
        self.inner.stop()
    }
}

fn app_reply<C: MyDHTConf>(r: ApiResult<C>) -> Option<C::ApiReply> {
    match r {
        ApiResult::App(r) => Some(r),
        _ => None,
    }
}
