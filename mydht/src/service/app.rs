//! What the application's services receive and answer: the contract between
//! the node and the user's local and global services.

use mydht_base::{Error, Peer};

use crate::command::ConnRef;
use crate::conf::{Address, MyDHTConf};
use crate::identity::{PeerId, PeerInfo};
use crate::stream::{LentStream, OutStream};

/// The id of an api query: carried by the application's messages so that
/// a reply, local or from another peer, reaches the query it answers.
pub type QueryId = u64;

/// Whether a peer is reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerStatus {
    /// Authenticated and connected.
    Online,
    /// Its connection ended.
    Offline,
}

/// A command for the application's global service. Peers come as the
/// configuration's [`PeerRef`](MyDHTConf::PeerRef) (its
/// [`Peer`](MyDHTConf::Peer), `PeerInfo` by default, behind `Deref`).
pub enum GlobalCommand<C: MyDHTConf> {
    /// A query from the api, to be answered with [`Reply::Api`] under `qid`.
    Api(QueryId, C::GlobalCmd),
    /// A message from a peer that its local service forwarded.
    Distant(C::PeerRef, C::ProtoMsg),
    /// A peer came online or went offline.
    PeerStatus(C::PeerRef, PeerStatus),
    /// A pooled connection this node dialled failed before it
    /// authenticated: nothing listens at the address, it could not be
    /// reached, or the connection broke or timed out during the handshake
    /// (the error says which), or whoever listens there refused its
    /// known-key flight (`AuthError::KnownKeyRefused`, found with
    /// `AuthError::of`). No peer event follows (the address never
    /// became a peer); a service that asked for the dial
    /// ([`Reply::Connect`], [`Reply::ConnectTo`]) or holds the address as
    /// a contact can forget it at once. Send-once dials raise none: they
    /// raise [`GlobalCommand::SendOnceFailed`].
    DialFailed(Address<C>, Error),
    /// A send-once message ([`Reply::SendOnce`], [`Reply::SendOnceTo`],
    /// [`Reply::SendOnceStream`], [`Reply::SendOnceStreamTo`]) to this
    /// address is lost: nothing listens there or it could not be reached,
    /// its connection broke or timed out before it authenticated or before
    /// its message was written, whoever listens there refused its
    /// known-key flight (`AuthError::KnownKeyRefused`, found with
    /// `AuthError::of`) or refused this node (kind `Rejected`), or the node
    /// had no room for one more send-once connection (kind `TooLarge`). Raised
    /// once per lost message; a send-once connection raises no peer event,
    /// so this is all the application hears of it. A failure after the
    /// message was written (its connection's write or read service ended
    /// cleanly first) raises none, except a refused known-key flight or a
    /// refusal, which the node can tell: whether the peer read the message
    /// is not known then. A message to a peer whose announced address does
    /// not parse, and the messages in flight when the node stops, raise
    /// none (logged).
    ///
    /// The third field gives the message back when the node still held it
    /// (a [`Reply::SendOnce`] or [`Reply::SendOnceTo`] message not yet sent:
    /// the dial failed, the handshake failed before the message left, or
    /// there was no room) or when it went out behind a known-key flight
    /// that the peer did not confirm (refused it, or failed before its
    /// session end: it may then have read the message), so that the
    /// application can tell which of its messages to that address was
    /// lost; `None` for a stream's message (its `OutStream`'s end callback
    /// tells its owner, the refused flight's included) and for a message
    /// handed to the connection's write service otherwise.
    SendOnceFailed(Address<C>, Error, Option<C::ProtoMsg>),
}

/// A message from a peer, for the local service of its connection.
pub struct LocalCommand<C: MyDHTConf> {
    /// The authenticated sender (shared with its read service).
    pub from: C::PeerRef,
    /// What it sent.
    pub msg: C::ProtoMsg,
    /// The connection it came on (answer on it with [`Reply::SendOn`]).
    pub conn: ConnRef,
    /// The connection's read half, lent, when raw bytes follow the message
    /// ([`Reply::SendStream`] on the sending side): read them, then give
    /// it back, or drop it to end the connection (see
    /// [`stream`](crate::stream)). The read service reads no frame until
    /// then.
    pub stream: Option<LentStream<C>>,
}

/// What a local or global service asks the node to do.
pub enum Reply<C: MyDHTConf> {
    /// Nothing.
    None,
    /// Give `reply` to the api query `qid`.
    Api(QueryId, C::ApiReply),
    /// Send `msg` to the peer with this id (dropped, and logged, when the
    /// peer is not connected).
    Send(PeerId, C::ProtoMsg),
    /// Send `msg` to every peer online now, once each.
    Broadcast(C::ProtoMsg),
    /// Send `msg` to each of these peers that is online (once each, however
    /// often it is named; the others are logged).
    SendTo(Vec<PeerId>, C::ProtoMsg),
    /// Send `msg` on a connection of its own to whoever listens at this
    /// address, then close it: a send-once connection (authenticated as the
    /// node's connections are; outside the one-connection-per-peer rule;
    /// no online or offline event on either side; at most
    /// `NodeConstants::max_send_once` open at once, past it the message is
    /// dropped and logged).
    SendOnce(Address<C>, C::ProtoMsg),
    /// [`Reply::SendOnce`] to this peer at the address it announces,
    /// expecting it there: known-key at first contact as
    /// [`Reply::ConnectTo`], the message sealed right behind the flight
    /// (one message, no round trip before it). A refused flight is logged
    /// (`known-key dial refused`, `AuthError::KnownKeyRefused`) and raises
    /// [`GlobalCommand::SendOnceFailed`]; nothing sent on it was read.
    SendOnceTo(PeerInfo, C::ProtoMsg),
    /// Send `msg` to the peer with this id, followed on the connection by
    /// the bytes of `stream` (see [`stream`](crate::stream)); dropped, and
    /// logged, when the peer is not connected.
    SendStream(PeerId, C::ProtoMsg, OutStream),
    /// Send `msg` followed by the bytes of `stream` on a send-once
    /// connection to this address (as [`Reply::SendOnce`]), closed once
    /// the stream is written.
    SendOnceStream(Address<C>, C::ProtoMsg, OutStream),
    /// [`Reply::SendOnceStream`] to this peer, expecting it at its address
    /// as [`Reply::SendOnceTo`].
    SendOnceStreamTo(PeerInfo, C::ProtoMsg, OutStream),
    /// Send `msg` on this connection, whatever its kind (an accepted
    /// send-once connection included): an answer to the message that came
    /// on it ([`LocalCommand::conn`]). Dropped, and logged, once the
    /// connection is closed.
    SendOn(ConnRef, C::ProtoMsg),
    /// Close this connection once what was sent on it before is written
    /// (its session ends cleanly); what comes later is dropped.
    Close(ConnRef),
    /// Connect to this address (a pooled connection, as the node handle's
    /// `connect` makes).
    Connect(Address<C>),
    /// Connect to this peer at the address it announces (a pooled
    /// connection), expecting it there: known-key at first contact when
    /// the peer's [`KeyBinding`](crate::identity::KeyBinding) is in it and
    /// checks (once per peer; a node already met needs none), the signed
    /// handshake otherwise (which then refuses any other peer at the
    /// address). A flight refused there (another node at the address, or
    /// one that cannot read it) ends in [`GlobalCommand::DialFailed`] with
    /// `AuthError::KnownKeyRefused` (see `AuthError::of`); dial the address
    /// ([`Reply::Connect`]) to try the signed handshake. Nothing is dialled
    /// when the peer is online already.
    ConnectTo(PeerInfo),
    /// Look for more peers now: a discovery round through the peer store,
    /// whatever the pool size, that dials at most one peer past it.
    FindPeers,
    /// Forward a message of `from` to the global service.
    Global(C::PeerRef, C::ProtoMsg),
    /// Several of the above, in order.
    Many(Vec<Reply<C>>),
}

impl<C: MyDHTConf> std::fmt::Debug for Reply<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::None => f.write_str("None"),
            Reply::Api(qid, r) => f.debug_tuple("Api").field(qid).field(r).finish(),
            Reply::Send(id, m) => f.debug_tuple("Send").field(id).field(m).finish(),
            Reply::Broadcast(m) => f.debug_tuple("Broadcast").field(m).finish(),
            Reply::SendOnce(a, m) => f.debug_tuple("SendOnce").field(a).field(m).finish(),
            Reply::SendOnceTo(p, m) => f
                .debug_tuple("SendOnceTo")
                .field(p.get_id())
                .field(m)
                .finish(),
            Reply::SendStream(id, m, s) => f
                .debug_tuple("SendStream")
                .field(id)
                .field(m)
                .field(s)
                .finish(),
            Reply::SendOnceStream(a, m, s) => f
                .debug_tuple("SendOnceStream")
                .field(a)
                .field(m)
                .field(s)
                .finish(),
            Reply::SendOnceStreamTo(p, m, s) => f
                .debug_tuple("SendOnceStreamTo")
                .field(p.get_id())
                .field(m)
                .field(s)
                .finish(),
            Reply::SendOn(c, m) => f.debug_tuple("SendOn").field(c).field(m).finish(),
            Reply::Close(c) => f.debug_tuple("Close").field(c).finish(),
            Reply::Connect(a) => f.debug_tuple("Connect").field(a).finish(),
            Reply::ConnectTo(p) => f.debug_tuple("ConnectTo").field(p.get_id()).finish(),
            Reply::FindPeers => f.write_str("FindPeers"),
            Reply::SendTo(ids, m) => f.debug_tuple("SendTo").field(ids).field(m).finish(),
            Reply::Global(p, m) => f.debug_tuple("Global").field(p.get_id()).field(m).finish(),
            Reply::Many(v) => f.debug_tuple("Many").field(v).finish(),
        }
    }
}
