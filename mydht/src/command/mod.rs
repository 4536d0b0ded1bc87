//! What the node's main loop is sent: the commands of services and of the
//! node handle ([`MainLoopCommand`]), how they cross threads
//! ([`MainLoopCommandSend`]) and the sender that carries them
//! ([`MainLoopSender`]).
//!
//! These types sit below the loop: the configuration, the services, the
//! core and the drivers all name them, and they name none of those.

mod opened;
mod send;
mod sender;
mod wake;

pub use opened::{DialId, Opened};
pub use send::MainLoopCommandSend;
pub use sender::MainLoopSender;

use std::time::Duration;

use mydht_base::Error;

use crate::conf::{Address, MyDHTConf, PeerVerdict};
use crate::frame::WireMessage;
use crate::identity::PeerId;
use crate::identity::PeerInfo;
use crate::service::peer_store::PeerStoreReply;
use crate::service::{QueryId, Reply, ReplySlot};

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
    /// Connect to this peer at the address it announces, expecting it
    /// there: known-key at first contact when its key binding verifies,
    /// signed otherwise (refusing any other peer). Replies with the peer;
    /// another node answering at the address fails the query
    /// (`AuthError::KnownKeyRefused` for a known-key dial).
    ConnectTo(PeerInfo),
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
    /// Send-once flights this node accepted resumed from the last one of
    /// the same dialler (no public-key operation on either side; see
    /// [`auth::known::resume`](crate::auth::known::resume)).
    pub resumed_flights: u64,
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

/// One reply of a query.
pub enum ApiResult<C: MyDHTConf> {
    /// A reply of the application's services.
    App(C::ApiReply),
    /// A peer: the one a connect reached, or what a find returned.
    Peer(Option<PeerInfo>),
    /// The connected peers.
    Peers(Vec<PeerInfo>),
    /// The node's counters.
    Stats(NodeStats),
}

impl<C: MyDHTConf> std::fmt::Debug for ApiResult<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiResult::App(r) => f.debug_tuple("App").field(r).finish(),
            ApiResult::Peer(p) => f.debug_tuple("Peer").field(p).finish(),
            ApiResult::Peers(p) => f.debug_tuple("Peers").field(p).finish(),
            ApiResult::Stats(s) => f.debug_tuple("Stats").field(s).finish(),
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
    /// The peer of this connection admitted this node (its first frame).
    Admitted(ConnRef),
    /// The peer of this connection refused this node.
    Refused(ConnRef),
    /// The peer of this connection dialled it as a send-once connection.
    SendOnce(ConnRef),
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
        /// The dial it carried out.
        dial: DialId,
        /// Why.
        error: Error,
    },
    /// A stream this connection's read service lent came back, or was
    /// dropped: the driver wakes the read service (the core never sees
    /// it).
    StreamReturned(ConnRef),
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
