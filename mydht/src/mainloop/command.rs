//! What the main loop is sent, and [`MainLoopSender`], how services and the
//! node handle reach it. Commands cross to the loop's thread in their
//! sendable form ([`MainLoopCommandSend`]), peer references included.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::Duration;

use mio::Waker;
use mydht_base::service::channel::MpscSend;
use mydht_base::{Error, ErrorKind, ErrorLevel, Result, SRef, SToRef, SpawnSend, TrySendError};

use super::blocking::Opened;
use super::command_send::MainLoopCommandSend;
use crate::conf::{Address, MyDHTConf, PeerVerdict};
use crate::identity::PeerId;
use crate::service::peer_store::PeerStoreReply;
use crate::service::{ApiResult, QueryId, Reply, ReplySlot, WireMessage};

/// A connection as services name it: its slab key and a number never
/// reused, so a message about a closed connection never reaches the next
/// one stored under the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnRef {
    /// Slab key (token minus the reserved tokens).
    pub key: usize,
    /// Unique id of the connection.
    pub id: u64,
}

/// What an api query asks the node.
pub enum ApiAction<C: MyDHTConf> {
    /// A command for the global service.
    Global(C::GlobalCmd),
    /// Connect and authenticate to this address; replies with the peer.
    Connect(Address<C>),
    /// The peer with this id if it is known; replies with it or `None`.
    FindPeer(PeerId),
    /// The peers currently connected.
    ConnectedPeers,
    /// Replies with the connected peers once their number is in range.
    WaitPeers(PeerCount),
    /// The node's counters, [`NodeStats`].
    Stats,
    /// Close the connection to this peer; replies with the peer, or `None`
    /// when it was not connected.
    Disconnect(PeerId),
}

/// Counters of a node, for [`ApiAction::Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Open connections: one per connected peer, save for the moment two
    /// nodes that dialled each other at once take to close the second.
    pub open_connections: usize,
    /// Discovery finds (peers near a random id, through the peer store)
    /// that came back.
    pub discovery_finds: u64,
    /// Peers those finds returned that the node then dialled.
    pub discovery_dials: u64,
}

/// A range of connected peer counts, for [`ApiAction::WaitPeers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerCount {
    /// At least this many.
    AtLeast(usize),
    /// At most this many.
    AtMost(usize),
}

impl PeerCount {
    /// True when `n` peers are in range.
    pub fn holds(self, n: usize) -> bool {
        match self {
            PeerCount::AtLeast(m) => n >= m,
            PeerCount::AtMost(m) => n <= m,
        }
    }
}

/// A command for the main loop.
pub enum MainLoopCommand<C: MyDHTConf> {
    /// An api query.
    Api {
        /// The query's id.
        qid: QueryId,
        /// Where its replies go.
        slot: ReplySlot<ApiResult<C>>,
        /// How long it may wait.
        timeout: Duration,
        /// What it asks.
        action: ApiAction<C>,
    },
    /// A local or global service's reply.
    Reply(Reply<C>),
    /// A read or write service ended: drop its connection.
    ConnectionEnded {
        /// Which connection.
        conn: ConnRef,
        /// Why, when it failed.
        error: Option<Error>,
    },
    /// A node-level message from a peer (peer store, discovery), as read by
    /// the connection's read service.
    Wire(C::PeerRef, WireMessage<C::ProtoMsg>),
    /// What the peer store asks.
    PeerStore(Vec<PeerStoreReply>),
    /// Peer management's verdict on a connection awaiting it.
    Verdict {
        /// The connection.
        conn: ConnRef,
        /// What to do with it.
        verdict: PeerVerdict,
    },
    /// A connection authenticated by the listener or a connector thread
    /// (blocking transports).
    Opened(Box<Opened<C>>),
    /// A connector thread failed.
    ConnectFailed {
        /// The connect query, if an api query asked for it.
        qid: Option<QueryId>,
        /// Why.
        error: Error,
    },
    /// Stop the node.
    Stop,
}

/// What a service's result becomes for the main loop (`None`: nothing to
/// do).
pub trait ToMainLoop<C: MyDHTConf> {
    /// The main loop command, if any.
    fn to_main_loop(self) -> Option<MainLoopCommand<C>>;
    /// The value back from the command `to_main_loop` made (a refused send
    /// gives it back to the sender).
    fn back(cmd: MainLoopCommand<C>) -> Self;
}

impl<C: MyDHTConf> ToMainLoop<C> for Reply<C> {
    fn to_main_loop(self) -> Option<MainLoopCommand<C>> {
        match self {
            Reply::None => None,
            r => Some(MainLoopCommand::Reply(r)),
        }
    }
    fn back(cmd: MainLoopCommand<C>) -> Self {
        match cmd {
            MainLoopCommand::Reply(r) => r,
            _ => Reply::None,
        }
    }
}

impl<C: MyDHTConf> ToMainLoop<C> for Vec<PeerStoreReply> {
    fn to_main_loop(self) -> Option<MainLoopCommand<C>> {
        if self.is_empty() {
            None
        } else {
            Some(MainLoopCommand::PeerStore(self))
        }
    }
    fn back(cmd: MainLoopCommand<C>) -> Self {
        match cmd {
            MainLoopCommand::PeerStore(r) => r,
            _ => Vec::new(),
        }
    }
}

impl<C: MyDHTConf> ToMainLoop<C> for MainLoopCommand<C> {
    fn to_main_loop(self) -> Option<MainLoopCommand<C>> {
        Some(self)
    }
    fn back(cmd: MainLoopCommand<C>) -> Self {
        cmd
    }
}

impl<C: MyDHTConf> ToMainLoop<C> for Option<MainLoopCommand<C>> {
    fn to_main_loop(self) -> Option<MainLoopCommand<C>> {
        self
    }
    fn back(cmd: MainLoopCommand<C>) -> Self {
        Some(cmd)
    }
}

/// The sender of the main loop's bounded channel, with the poll's waker.
///
/// It is `Send` whatever the configuration's peer reference: a command
/// travels in its sendable form ([`MainLoopCommandSend`]; free for
/// `ArcRef`, a copy of each peer it names for `RcRef`) and is turned back
/// on the loop's thread.
///
/// Services on other threads wait while the channel is full
/// (back-pressure) when the configuration says they run on threads
/// ([`services_on_threads`](MyDHTConf::services_on_threads)); a service on
/// the main loop's own thread cannot wait for itself, so there a full
/// channel is a `ChannelFull` error whatever the configuration.
pub struct MainLoopSender<C: MyDHTConf> {
    send: MpscSend<MainLoopCommandSend<C>>,
    waker: Arc<Waker>,
    may_wait: bool,
    /// The main loop's own thread needs no wake: it drains its channel
    /// after every poll, and does not wait in the poll when it sent itself
    /// something ([`take_self_sent`](Self::take_self_sent)).
    loop_thread: ThreadId,
    self_sent: Arc<AtomicBool>,
}

impl<C: MyDHTConf> Clone for MainLoopSender<C> {
    fn clone(&self) -> Self {
        MainLoopSender {
            send: self.send.clone(),
            waker: self.waker.clone(),
            may_wait: self.may_wait,
            loop_thread: self.loop_thread,
            self_sent: self.self_sent.clone(),
        }
    }
}

impl<C: MyDHTConf> MainLoopSender<C> {
    /// Built on the main loop's thread.
    pub(crate) fn new(
        send: MpscSend<MainLoopCommandSend<C>>,
        waker: Arc<Waker>,
        may_wait: bool,
    ) -> Self {
        MainLoopSender {
            send,
            waker,
            may_wait,
            loop_thread: std::thread::current().id(),
            self_sent: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Sends a command and wakes the main loop.
    pub fn send_cmd(&mut self, cmd: MainLoopCommand<C>) -> Result<()> {
        match self.send.try_send(cmd.get_sendable()) {
            Ok(()) => {}
            // Never on the loop's own thread (an inline service of a mixed
            // profile): it would wait for itself.
            Err(TrySendError::Full(cmd)) if self.may_wait && !self.on_loop_thread() => {
                self.send.send(cmd)?
            }
            Err(TrySendError::Full(_)) => {
                return Err(Error::new(
                    ErrorKind::ChannelFull,
                    ErrorLevel::Ignore,
                    "main loop channel full",
                ))
            }
            Err(TrySendError::Closed(_)) => {
                return Err(Error::new(
                    ErrorKind::ChannelClosed,
                    ErrorLevel::ShutDown,
                    "main loop stopped",
                ))
            }
        }
        self.wake()
    }

    /// True when the main loop sent itself a command since the last call.
    pub(crate) fn take_self_sent(&self) -> bool {
        self.self_sent.swap(false, Ordering::Relaxed)
    }

    fn on_loop_thread(&self) -> bool {
        std::thread::current().id() == self.loop_thread
    }

    fn wake(&self) -> Result<()> {
        if self.on_loop_thread() {
            self.self_sent.store(true, Ordering::Relaxed);
            return Ok(());
        }
        self.waker.wake().map_err(Error::from)
    }
}

impl<C: MyDHTConf, X: ToMainLoop<C>> SpawnSend<X> for MainLoopSender<C> {
    fn send(&mut self, cmd: X) -> Result<()> {
        match cmd.to_main_loop() {
            Some(c) => self.send_cmd(c),
            None => Ok(()),
        }
    }

    fn try_send(&mut self, cmd: X) -> std::result::Result<(), TrySendError<X>> {
        match cmd.to_main_loop() {
            Some(c) => match self.send.try_send(c.get_sendable()) {
                Ok(()) => {
                    // A failed wake means the loop is gone; the next send
                    // reports it as a closed channel.
                    let _ = self.wake();
                    Ok(())
                }
                Err(TrySendError::Full(c)) => Err(TrySendError::Full(X::back(c.to_ref()))),
                Err(TrySendError::Closed(c)) => Err(TrySendError::Closed(X::back(c.to_ref()))),
            },
            None => Ok(()),
        }
    }
}

// Already `Send` (it carries sendable commands): crosses threads as itself,
// for services spawned with `ThreadParkRef`.
impl<C: MyDHTConf> SRef for MainLoopSender<C> {
    type Send = Self;
    fn get_sendable(self) -> Self {
        self
    }
}

impl<C: MyDHTConf> SToRef<MainLoopSender<C>> for MainLoopSender<C> {
    fn to_ref(self) -> Self {
        self
    }
}
