//! Where messages go: a service's reply to the api, the global service or
//! a peer; a peer's message to the peer store; the peer store's messages
//! to peers, dialling a peer that is not connected.

use std::time::Instant;

use mydht_base::{Error, ErrorKind, ErrorLevel, Peer};

use super::conn::{OpenState, Phase, Target};
use super::{info_of, Action, NodeCore, NO_QUERY};
use crate::command::ConnRef;
use crate::conf::{Address, MyDHTConf};
use crate::frame::WireMessage;
use crate::identity::{PeerId, PeerInfo};
use crate::service::kvstore::KVStoreReply;
use crate::service::peer_store::{PeerStoreCommand, PeerStoreReply};
use crate::service::{ApiCommand, ApiResult, GlobalCommand, Reply};
use crate::stream::StreamSlot;

/// The api query id of discovery finds: the api service numbers its
/// queries from 1 up, it never reaches this one.
pub(super) const DISCOVERY_QUERY: u64 = u64::MAX;

impl<C: MyDHTConf> NodeCore<C> {
    /// Carries out a local or global service's reply.
    pub(super) fn route_reply(&mut self, reply: Reply<C>) {
        match reply {
            Reply::None => {}
            Reply::Api(qid, r) => self.tell_api(ApiCommand::Reply(qid, ApiResult::App(r))),
            Reply::Global(from, msg) => self.tell_global(GlobalCommand::Distant(from, msg)),
            Reply::Many(replies) => replies.into_iter().for_each(|r| self.route_reply(r)),
            Reply::Send(to, msg) => self.send_to(&to, WireMessage::App(msg)),
            Reply::SendOnce(address, msg) => self.send_once(address, WireMessage::App(msg), None),
            Reply::SendOnceTo(peer, msg) => self.send_once_to(peer, WireMessage::App(msg)),
            Reply::SendStream(to, msg, stream) => {
                self.send_to(&to, WireMessage::AppStream(msg, StreamSlot::new(stream)))
            }
            Reply::SendOnceStream(address, msg, stream) => self.send_once(
                address,
                WireMessage::AppStream(msg, StreamSlot::new(stream)),
                None,
            ),
            Reply::SendOnceStreamTo(peer, msg, stream) => {
                self.send_once_to(peer, WireMessage::AppStream(msg, StreamSlot::new(stream)))
            }
            Reply::SendOn(conn, msg) => self.send_on(conn, WireMessage::App(msg)),
            Reply::Close(conn) => self.close_after_queued(conn),
            Reply::Connect(address) => {
                if let Err(e) = self.dial_address(address, None) {
                    slog::warn!(self.logger, "connect asked by a service refused"; "error" => %e);
                }
            }
            Reply::ConnectTo(peer) => {
                let dialled = self
                    .peer_address(&peer)
                    .and_then(|address| self.dial_address(address, Some(peer)));
                if let Err(e) = dialled {
                    slog::warn!(self.logger, "connect asked by a service refused"; "error" => %e);
                }
            }
            Reply::FindPeers => self.find_peers(),
            Reply::Broadcast(msg) => {
                let ids: Vec<PeerId> = self.peers.keys().copied().collect();
                self.send_each(ids, msg);
            }
            Reply::SendTo(mut ids, msg) => {
                ids.sort_unstable();
                ids.dedup();
                self.send_each(ids, msg);
            }
        }
    }

    /// Sends `msg` to each of `ids` (distinct), the last one without a
    /// copy.
    fn send_each(&mut self, mut ids: Vec<PeerId>, msg: C::ProtoMsg) {
        let Some(last) = ids.pop() else {
            return;
        };
        for id in &ids {
            self.send_to(id, WireMessage::App(msg.clone()));
        }
        self.send_to(&last, WireMessage::App(msg));
    }

    /// Sends to a connected peer.
    fn send_to(&mut self, to: &PeerId, msg: WireMessage<C::ProtoMsg>) {
        match self.peers.get(to).map(|p| p.conn) {
            Some(key) => self.queue_msg(key, msg),
            None => {
                slog::warn!(self.logger, "message for a peer that is not connected dropped"; "peer" => %to)
            }
        }
    }

    /// Sends on a connection, whatever its kind, while it is the one named.
    fn send_on(&mut self, conn: ConnRef, msg: WireMessage<C::ProtoMsg>) {
        if self.conns.get(&conn.key).is_some_and(|c| c.id == conn.id) {
            queue(self, conn.key, msg);
        } else {
            slog::warn!(self.logger, "message for a closed connection dropped"; "conn" => conn.id);
        }
    }

    /// Sends `msg` on a send-once connection to `peer`'s address, which
    /// goes known-key when `peer`'s keys are verified (its binding checked).
    fn send_once_to(&mut self, peer: PeerInfo, msg: WireMessage<C::ProtoMsg>) {
        match self.peer_address(&peer) {
            Ok(address) => self.send_once(address, msg, Some(peer)),
            Err(e) => slog::warn!(self.logger, "send-once message dropped"; "error" => %e),
        }
    }

    /// The address `peer` announces, as the transport's; a `Config` error
    /// when it does not parse.
    pub(super) fn peer_address(&self, peer: &PeerInfo) -> Result<Address<C>, Error> {
        peer.get_address().parse::<Address<C>>().map_err(|_| {
            Error::new(
                ErrorKind::Config,
                ErrorLevel::Ignore,
                format!("peer {} address does not parse", peer.get_id()),
            )
        })
    }

    /// Closes a connection once what is queued for it is written: its
    /// outbox now, then the end of its session. One not open yet is
    /// dropped.
    fn close_after_queued(&mut self, conn: ConnRef) {
        let Some(c) = self.conns.get_mut(&conn.key).filter(|c| c.id == conn.id) else {
            return;
        };
        // This node ends it: not a refusal of its known-key flight.
        c.known_unconfirmed = false;
        if matches!(
            c.phase,
            Phase::Open {
                state: OpenState::Ending,
                ..
            }
        ) {
            return; // its session ends already
        }
        match c.outbox() {
            Some(outbox) => {
                let msgs = std::mem::take(outbox);
                if !msgs.is_empty() {
                    self.actions.push_back(Action::Write {
                        conn: conn.key,
                        msgs,
                    });
                }
                self.actions.push_back(Action::Finish { conn: conn.key });
            }
            None => self.drop_conn(conn.key, None),
        }
    }

    /// Sends to `peer`, dialling the address it announced when it is not
    /// connected.
    fn send_to_peer(&mut self, peer: &PeerInfo, msg: WireMessage<C::ProtoMsg>) {
        if self.peers.contains_key(peer.get_id()) {
            return self.send_to(peer.get_id(), msg);
        }
        let Ok(address) = peer.get_address().parse::<Address<C>>() else {
            slog::warn!(self.logger, "peer address does not parse"; "peer" => %peer.get_id());
            return;
        };
        match self.dial_address(address, Some(peer.clone())) {
            Ok(Target::Conn(key)) => self.queue_msg(key, msg),
            Ok(Target::Dial(dial)) => {
                let limit = self.constants.pending_per_peer;
                match self.dials.get_mut(&dial) {
                    Some(d) if d.pending.len() < limit => d.pending.push_back(msg),
                    _ => {
                        slog::warn!(self.logger, "message dropped: too many wait for a dial"; "peer" => %peer.get_id())
                    }
                }
            }
            Err(e) => {
                slog::warn!(self.logger, "cannot reach peer"; "peer" => %peer.get_id(), "error" => %e)
            }
        }
    }

    /// A node-level message from a peer.
    pub(super) fn on_wire(&mut self, from: C::PeerRef, msg: WireMessage<C::ProtoMsg>) {
        match msg {
            // The peer store keeps its own copies (its route is shared
            // with the core across threads).
            WireMessage::PeerStore(m) => {
                let from = info_of::<C>(&from).clone();
                self.tell_peer_store(PeerStoreCommand::Received(from, *m));
            }
            // Read services give application messages to local services,
            // and admissions as `Admitted` with their connection.
            WireMessage::App(_)
            | WireMessage::AppStream(..)
            | WireMessage::Admitted
            | WireMessage::Refused
            | WireMessage::Once => {}
        }
    }

    /// What the peer store asks.
    pub(super) fn on_peer_store(&mut self, reply: PeerStoreReply, now: Instant) {
        match reply {
            KVStoreReply::Forward(peers, msg) => {
                for p in &peers {
                    self.send_to_peer(p, WireMessage::PeerStore(Box::new(msg.clone())));
                }
            }
            KVStoreReply::Reply(p, msg) => {
                self.send_to_peer(&p, WireMessage::PeerStore(Box::new(msg)))
            }
            KVStoreReply::FoundApi(qid, found)
            | KVStoreReply::Expired {
                api: qid, found, ..
            } => {
                if qid == DISCOVERY_QUERY {
                    self.on_discovered(found, now);
                } else if qid != NO_QUERY {
                    let peer = found.into_iter().next();
                    self.tell_api(ApiCommand::Reply(qid, ApiResult::Peer(peer)));
                }
            }
            KVStoreReply::Done(..) => {}
            KVStoreReply::Failed(qid, e) => {
                slog::warn!(self.logger, "peer store refused a peer"; "error" => %e);
                self.fail_query(qid, e);
            }
        }
    }
}

/// Queues `msg` on connection `key`: in its outbox once open (one batch per
/// turn, or at once past `pending_per_peer`), in its pending queue until
/// then (bounded: past it the message is dropped and logged).
pub(super) fn queue<C: MyDHTConf>(
    core: &mut NodeCore<C>,
    key: usize,
    msg: WireMessage<C::ProtoMsg>,
) {
    let limit = core.constants.pending_per_peer;
    let Some(conn) = core.conns.get_mut(&key) else {
        return;
    };
    match &mut conn.phase {
        Phase::Open {
            state: OpenState::Ending,
            ..
        } => {
            slog::warn!(core.logger, "message for a closing connection dropped"; "conn" => conn.id);
        }
        Phase::Open { outbox, .. } => {
            if outbox.is_empty() {
                core.outboxes.push(key);
            }
            outbox.push(msg);
            if outbox.len() >= limit {
                let msgs = std::mem::take(outbox);
                core.actions.push_back(Action::Write { conn: key, msgs });
            }
        }
        _ if conn.pending.len() < limit => conn.pending.push_back(msg),
        _ => {
            let e = Error::new(
                ErrorKind::ChannelFull,
                ErrorLevel::Ignore,
                "too many messages waiting for authentication",
            );
            slog::warn!(core.logger, "message dropped"; "conn" => key, "error" => %e);
        }
    }
}
