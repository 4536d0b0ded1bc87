//! Connections as the core sees them: where each stands and what waits
//! for it; dials not answered yet.

use std::collections::VecDeque;
use std::time::Instant;

use mydht_base::Error;

use crate::auth::{AnsweredPong, AuthError, Handshake, SessionKeys, Ticket};
use crate::command::DialId;
use crate::conf::{Address, MyDHTConf};
use crate::frame::WireMessage;
use crate::identity::{PeerId, PeerInfo};
use crate::service::QueryId;
use crate::stream::DeferredEnd;

/// Where a connection stands.
pub(super) enum Phase<C: MyDHTConf> {
    /// Its handshake runs.
    Handshaking(Box<Handshake>),
    /// An initiator sent its final pong; the responder's signature is
    /// still to check (deferred work).
    Answered(Box<AnsweredPong>),
    /// Authenticated, waiting for peer management's verdict.
    Awaiting {
        keys: Box<SessionKeys>,
        /// The peer as the services will hold it, made once.
        peer: C::PeerRef,
    },
    /// Its services run.
    Open {
        peer: C::PeerRef,
        /// Messages routed to the peer during this turn: one batch.
        outbox: Vec<WireMessage<C::ProtoMsg>>,
        /// Its peer management priority here.
        priority: u8,
        /// Whether the peer admitted this node too.
        state: OpenState,
    },
    /// Between two phases, while the core moves it on.
    Closing,
}

/// Where an open connection stands with its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpenState {
    /// This node admitted the peer and told it so; the peer's own
    /// admission (its first frame) has not come yet.
    Admitting,
    /// Both sides admitted each other: the peer is online.
    Online,
    /// A second connection to an online peer, left open for the peer that
    /// dialled it to close (see `duplicate`): nothing is routed to it.
    Standby,
    /// A send-once connection, dialled by this node (its one message goes
    /// out, then it closes) or by its peer (announced by its first frame,
    /// `WireMessage::Once`). Its peer is never online through it.
    Once,
    /// Closed by this node (idle past `NodeConstants::idle_close`): its
    /// peer is offline, nothing is routed to it; its write service ends
    /// the session, then it closes.
    Ending,
}

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ConnKind {
    /// The node's connection to a peer: one per peer, online and offline
    /// events, the address it was dialled at remembered.
    Pooled,
    /// Dialled by address for one message, closed after it.
    Once,
}

/// What a send-once connection this node dialled known-key sent behind
/// its flight, kept until the peer confirms the flight (its sealed session
/// end, which only a peer holding the keys can make). A flight that is
/// not confirmed counts as refused (`AuthError::KnownKeyRefused`): the
/// message is given back with `GlobalCommand::SendOnceFailed`, or its
/// stream's `OutStream::on_end` told the refusal, as for one never sent
/// (a peer that read it then failed before its session end is counted so
/// too).
pub(super) enum BehindFlight<M> {
    /// A copy of the message (it left with the flight: `pending` no
    /// longer holds it).
    Message(M),
    /// A message's stream, whose end report waits for the flight's fate.
    Stream(DeferredEnd),
}

impl<M> BehindFlight<M> {
    /// The flight is confirmed (`None`) or the connection dropped with
    /// `error`: a stream's end is reported, a refused flight's message
    /// given back.
    pub(super) fn settle(self, error: Option<&Error>) -> Option<M> {
        match self {
            BehindFlight::Message(msg) => error
                .filter(|e| AuthError::of(e) == Some(&AuthError::KnownKeyRefused))
                .map(|_| msg),
            BehindFlight::Stream(end) => {
                end.settle(error.map_or(Ok(()), |e| Err(e.clone())));
                None
            }
        }
    }
}

/// One connection.
pub(super) struct CoreConn<C: MyDHTConf> {
    /// Never reused, so a late command about a closed connection never
    /// reaches the next one stored under the same key.
    pub(super) id: u64,
    pub(super) phase: Phase<C>,
    /// Messages for the peer, kept until the connection opens.
    pub(super) pending: VecDeque<WireMessage<C::ProtoMsg>>,
    /// Connect queries waiting for the peer's admission.
    pub(super) waiters: Vec<QueryId>,
    /// The address this node dialled; `None` for an accepted connection.
    pub(super) dialled: Option<Address<C>>,
    /// The addresses the node's address map may name it by (the one
    /// dialled, those a lost duplicate handed over): forgotten with it.
    pub(super) addresses: Vec<Address<C>>,
    /// When its idle check is due (online pooled connections, with
    /// `NodeConstants::idle_close`): the time of its one live entry in the
    /// idle heap.
    pub(super) idle_at: Option<Instant>,
    /// When a connection still authenticating, or awaiting its verdict,
    /// is dropped.
    pub(super) deadline: Instant,
    /// It holds shadows built before its services.
    pub(super) early_shadows: bool,
    /// Pooled, or send-once.
    pub(super) kind: ConnKind,
    /// A send-once connection this node dialled whose write or read
    /// service ended cleanly: the other one's end closes it (its message
    /// written, it reads until its peer closes, so that closing never
    /// resets a peer still reading: a close with unread bytes sends a
    /// reset, which loses what the peer had not read yet).
    pub(super) half_ended: bool,
    /// Accepted in the unauthenticated send-once mode
    /// (`NodeConstants::send_once_auth`): its peer is what it claims, and
    /// the connection is a send-once one whatever it asks.
    pub(super) claimed: bool,
    /// The peer its dial expected at the address ([`Dial::expected`]).
    pub(super) expected: Option<PeerInfo>,
    /// Dialled known-key, and the peer's first frame (its admission or
    /// refusal, which only the expected peer can seal) has not come yet:
    /// its end before then is the flight's refusal
    /// (`AuthError::KnownKeyRefused`).
    pub(super) known_unconfirmed: bool,
    /// What went out behind this node's known-key send-once flight, kept
    /// while the flight is unconfirmed.
    pub(super) behind_flight: Option<BehindFlight<C::ProtoMsg>>,
    /// Known-key, by a flight that says its dialler sends one message and
    /// closes (`AuthKnown::send_once`): accepted, it is a send-once
    /// connection from its start and gets no admission; dialled, the
    /// peer's session end, sealed under the keys (the read service's clean
    /// end), confirms the flight instead of an admission.
    pub(super) send_once_flight: bool,
    /// The ticket its send-once flight (known-key or resumed) derived for
    /// the next resumed flight to the same peer, and that peer, kept here
    /// until the flight is confirmed.
    pub(super) next_ticket: Option<(PeerId, Ticket)>,
    /// Dialled by a resumed flight (`AuthMessage::Resumed`): its refusal
    /// means the peer no longer holds the ticket (it restarted, or more
    /// diallers resumed with it than it keeps), not that the clocks
    /// disagree, so the next dial there goes known-key, not signed.
    pub(super) resumed: bool,
}

impl<C: MyDHTConf> CoreConn<C> {
    /// Its deadline, while one applies: authenticating, awaiting a
    /// verdict, or awaiting the peer's admission.
    pub(super) fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Open {
                state: OpenState::Online | OpenState::Standby,
                ..
            } => None,
            _ => Some(self.deadline),
        }
    }

    /// Its outbox, once open.
    pub(super) fn outbox(&mut self) -> Option<&mut Vec<WireMessage<C::ProtoMsg>>> {
        match &mut self.phase {
            Phase::Open { outbox, .. } => Some(outbox),
            _ => None,
        }
    }

    /// Its peer, once open.
    pub(super) fn open_peer(&self) -> Option<&C::PeerRef> {
        match &self.phase {
            Phase::Open { peer, .. } => Some(peer),
            _ => None,
        }
    }

    /// Its peer, once both sides admitted each other.
    pub(super) fn online_peer(&self) -> Option<&C::PeerRef> {
        match &self.phase {
            Phase::Open {
                peer,
                state: OpenState::Online,
                ..
            } => Some(peer),
            _ => None,
        }
    }

    /// True once its services run.
    pub(super) fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open { .. })
    }

    /// True once its peer is online through it.
    pub(super) fn is_online(&self) -> bool {
        self.online_peer().is_some()
    }
}

/// A dial asked of the driver: what waits for its connection.
pub(super) struct Dial<C: MyDHTConf> {
    pub(super) kind: ConnKind,
    pub(super) address: Address<C>,
    pub(super) waiters: Vec<QueryId>,
    pub(super) pending: VecDeque<WireMessage<C::ProtoMsg>>,
    /// The peer expected at the address (a `Reply::ConnectTo` or
    /// `Reply::SendOnceTo`, a peer the peer store or discovery found): with
    /// its keys verified (its binding checked) the dial goes known-key;
    /// otherwise the signed handshake runs and refuses any other peer.
    pub(super) expected: Option<PeerInfo>,
}

/// Where a message or a connect query for an address goes.
pub(super) enum Target {
    /// A connection (open or opening).
    Conn(usize),
    /// A dial not answered yet.
    Dial(DialId),
}
