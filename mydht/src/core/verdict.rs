//! Peer management seen from the core: an authenticated connection waits
//! for its verdict (rejected at `verdict_timeout`); the verdict admits the
//! peer (its services open), ranks it against the connected peers when the
//! node is full, or closes the connection. A manager whose verdict does not
//! depend on the peer (`PeerManager::fixed_verdict`, e.g. `AcceptAll`) is
//! not asked: its verdict applies at once, a round trip less per connect.

use std::time::Instant;

use mydht_base::{Error, ErrorKind, ErrorLevel, Peer, Ref};

use super::conn::{BehindFlight, ConnKind, CoreConn, OpenState, Phase};
use super::{info_of, Action, NodeCore, PeerEntry, NO_QUERY};
use crate::auth::Authenticated;
use crate::command::ConnRef;
use crate::conf::{MyDHTConf, PeerVerdict};
use crate::frame::WireMessage;
use crate::service::peer_store::PeerStoreCommand;
use crate::service::{ApiCommand, ApiResult, GlobalCommand, PeerMgmtCommand, PeerStatus, QueryId};

impl<C: MyDHTConf> NodeCore<C> {
    /// A connection is authenticated by a handshake: its peer is
    /// remembered (see `handshake`), then it awaits peer management's
    /// verdict.
    pub(super) fn on_authenticated(&mut self, key: usize, auth: Authenticated, now: Instant) {
        if !self.is_me(auth.peer.get_id()) {
            self.remember_peer(key, &auth.peer);
        }
        self.authenticated(key, auth, now);
    }

    /// A connection is authenticated: it awaits peer management's verdict.
    pub(super) fn authenticated(&mut self, key: usize, auth: Authenticated, now: Instant) {
        if self.is_me(auth.peer.get_id()) {
            let e = Error::new(ErrorKind::Auth, ErrorLevel::ShutDown, "connected to itself");
            return self.drop_conn(key, Some(e));
        }
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        let peer = <C::PeerRef as Ref<C::Peer>>::new(C::Peer::from(auth.peer));
        conn.phase = Phase::Awaiting {
            keys: Box::new(auth.keys),
            peer: peer.clone(),
        };
        conn.deadline = now + self.constants.verdict_timeout;
        self.deadlines.push(conn.deadline, key);
        let cref = ConnRef { key, id: conn.id };
        if conn.kind == ConnKind::Once {
            // This node chose to send there: its message goes out, then the
            // connection closes. The peer is never online through it.
            return self.open_once(cref, now);
        }
        if conn.claimed {
            // An unauthenticated send-once connection: read its message.
            return self.open_claimed(cref, now);
        }
        match self.fixed_verdict {
            Some(verdict) => self.on_verdict(cref, verdict, now),
            None => self
                .actions
                .push_back(Action::PeerMgmt(PeerMgmtCommand::Accept {
                    conn: cref,
                    peer,
                })),
        }
    }

    /// Applies a verdict to the connection awaiting it (gone, timed out or
    /// another connection under the same key: nothing to do).
    pub(super) fn on_verdict(&mut self, cref: ConnRef, verdict: PeerVerdict, now: Instant) {
        let peer = match self.conns.get(&cref.key) {
            Some(c) if c.id == cref.id => match &c.phase {
                Phase::Awaiting { peer, .. } => peer.clone(),
                _ => return,
            },
            _ => return,
        };
        let priority = match verdict {
            PeerVerdict::Accept => 0,
            PeerVerdict::Priority(p) => p,
            PeerVerdict::Reject => {
                slog::info!(self.logger, "peer rejected"; "peer" => %peer.get_id());
                let e = Error::new(ErrorKind::Rejected, ErrorLevel::ShutDown, "peer rejected");
                // The peer hears it: its connect fails as refused.
                if let Some(Phase::Awaiting { keys, .. }) =
                    self.conns.get(&cref.key).map(|c| &c.phase)
                {
                    let keys = keys.clone();
                    self.actions.push_back(Action::Refuse {
                        conn: cref.key,
                        keys,
                    });
                }
                return self.drop_conn(cref.key, Some(e));
            }
        };
        self.admit(cref, priority, now);
    }

    /// With `max_peers` peers connected, evicts the lowest-priority one if
    /// `peer` ranks higher; false when there is no room for `peer`.
    fn make_room(&mut self, peer: &C::PeerRef, priority: u8) -> bool {
        if self.peers.contains_key(peer.get_id()) || self.peers.len() < self.constants.max_peers {
            return true;
        }
        let lowest = self
            .peers
            .values()
            .min_by_key(|p| p.priority)
            .map(|p| (p.conn, p.priority, *p.peer.get_id()));
        match lowest {
            Some((conn, lowest, id)) if lowest < priority => {
                slog::info!(self.logger, "peer evicted for a higher priority one"; "peer" => %id);
                let e = Error::new(ErrorKind::Rejected, ErrorLevel::ShutDown, "evicted");
                self.drop_conn(conn, Some(e));
                true
            }
            _ => false,
        }
    }

    /// This node admits the peer: the connection's services open, and its
    /// first frame tells the peer so. The peer is online once the peer's
    /// own admission comes ([`on_admitted`](Self::on_admitted)).
    fn admit(&mut self, cref: ConnRef, priority: u8, now: Instant) {
        let Some(conn) = self.conns.get_mut(&cref.key) else {
            return;
        };
        let Phase::Awaiting { keys, peer } = std::mem::replace(&mut conn.phase, Phase::Closing)
        else {
            return;
        };
        let mut pending: Vec<_> = conn.pending.drain(..).collect();
        if conn.kind == ConnKind::Once && conn.send_once_flight && conn.known_unconfirmed {
            conn.behind_flight = pending.iter().find_map(|m| match m {
                WireMessage::App(msg) => Some(BehindFlight::Message(msg.clone())),
                WireMessage::AppStream(_, slot) => slot.defer_end().map(BehindFlight::Stream),
                _ => None,
            });
        }
        // A send-once flight's dialler gets no admission (the flight said
        // it sends one message and closes). It still sends `Once`, which
        // the acceptor no longer needs: its session's chunks are then the
        // same length whether it was dialled known-key or signed (a tunnel
        // relay's frames do not tell its place in the route).
        let accepted_once = conn.send_once_flight && conn.kind == ConnKind::Pooled;
        if !conn.claimed && !accepted_once {
            pending.insert(
                0,
                match conn.kind {
                    ConnKind::Pooled => WireMessage::Admitted,
                    ConnKind::Once => WireMessage::Once,
                },
            );
        }
        let (state, wait) = match (conn.send_once_flight, conn.kind) {
            // Accepted: a send-once connection from its start.
            (true, ConnKind::Pooled) => (OpenState::Once, self.constants.send_once_timeout),
            // The peer has as long as this node had to admit it.
            _ => (OpenState::Admitting, self.constants.verdict_timeout),
        };
        conn.phase = Phase::Open {
            peer: peer.clone(),
            outbox: Vec::new(),
            priority,
            state,
        };
        conn.deadline = now + wait;
        self.deadlines.push(conn.deadline, cref.key);
        self.shadows_used(cref.key);
        self.actions.push_back(Action::Open {
            conn: cref,
            peer,
            keys,
            pending,
        });
    }

    /// Opens a send-once connection: its message, then `Finish`.
    fn open_once(&mut self, cref: ConnRef, now: Instant) {
        self.admit(cref, 0, now);
        let Some(conn) = self.conns.get_mut(&cref.key) else {
            return;
        };
        if let Phase::Open { state, .. } = &mut conn.phase {
            *state = OpenState::Once;
        }
        conn.deadline = now + self.constants.send_once_timeout;
        self.deadlines.push(conn.deadline, cref.key);
        self.actions.push_back(Action::Finish { conn: cref.key });
    }

    /// The peer of connection `cref` admitted this node: the peer is
    /// online (unless the connection is a duplicate that loses, or the node
    /// has no room for it).
    pub(super) fn on_admitted(&mut self, cref: ConnRef) {
        let confirmed = match self.conns.get(&cref.key) {
            Some(c) if c.id == cref.id => c.open_peer().map(|p| info_of::<C>(p).clone()),
            _ => None,
        };
        if let Some(peer) = confirmed {
            self.confirm_peer(cref.key, &peer);
        }
        let (peer, priority) = match self.conns.get(&cref.key) {
            Some(c) if c.id == cref.id => match &c.phase {
                Phase::Open {
                    peer,
                    priority,
                    state: OpenState::Admitting,
                    ..
                } => (peer.clone(), *priority),
                _ => return,
            },
            _ => return,
        };
        let key = cref.key;
        // Online already: both nodes dialled each other at once.
        let old = self
            .peers
            .get(peer.get_id())
            .map(|p| p.conn)
            .filter(|&k| k != key);
        if let Some(old) = old {
            if !self.keeps_new(key, old, &peer) {
                return self.lose(cref, old, peer);
            }
        }
        if !self.make_room(&peer, priority) {
            // Its services run: the refusal goes through them, then the
            // session ends and the connection is dropped.
            slog::info!(self.logger, "no room for the peer: refused"; "peer" => %peer.get_id());
            self.set_open_state(key, OpenState::Standby);
            if let Some(outbox) = self.conns.get_mut(&key).and_then(CoreConn::outbox) {
                outbox.clear();
            }
            self.actions.push_back(Action::Write {
                conn: key,
                msgs: vec![WireMessage::Refused],
            });
            return self.actions.push_back(Action::Finish { conn: key });
        }
        slog::debug!(self.logger, "peer online"; "peer" => %peer.get_id());
        self.set_open_state(key, OpenState::Online);
        self.view.insert(info_of::<C>(&peer));
        self.peers.insert(
            *peer.get_id(),
            PeerEntry {
                peer: peer.clone(),
                conn: key,
                priority,
            },
        );
        let waiters = match self.conns.get_mut(&key) {
            Some(conn) => std::mem::take(&mut conn.waiters),
            None => Vec::new(),
        };
        if let Some(old) = old {
            // Online already: only the connection changes.
            self.answer_connects(waiters, &peer);
            return self.supersede(old, key);
        }
        let info = info_of::<C>(&peer).clone();
        self.route.add(&info);
        // The global service hears the peer is online before any caller
        // hears it: a query sent as soon as `connect` (or a wait for
        // peers) answers may go straight into the global service's
        // channel (`MyDHTConf::direct_global`), behind this event. The
        // callers' other calls go through this core, after what it tells
        // the peer store and peer management below.
        self.tell_global(GlobalCommand::PeerStatus(peer.clone(), PeerStatus::Online));
        self.answer_connects(waiters, &peer);
        self.check_watchers();
        self.tell_peer_store(PeerStoreCommand::StoreLocally(NO_QUERY, info));
        self.actions
            .push_back(Action::PeerMgmt(PeerMgmtCommand::PeerOnline(peer)));
    }

    /// Answers the connect queries `waiters` with `peer`, now online.
    fn answer_connects(&mut self, waiters: Vec<QueryId>, peer: &C::PeerRef) {
        for qid in waiters {
            let info = info_of::<C>(peer).clone();
            self.tell_api(ApiCommand::Reply(qid, ApiResult::Peer(Some(info))));
        }
    }

    /// The peer of connection `cref` refused this node: the connection is
    /// dropped, its connect queries failed as refused.
    pub(super) fn on_refused(&mut self, cref: ConnRef) {
        if let Some(conn) = self.conns.get_mut(&cref.key).filter(|c| c.id == cref.id) {
            // Sealed under the session keys: the expected peer refused.
            conn.known_unconfirmed = false;
            let e = Error::new(
                ErrorKind::Rejected,
                ErrorLevel::Ignore,
                "the peer refused this node",
            );
            self.drop_conn(cref.key, Some(e));
        }
    }

    /// Opens an unauthenticated send-once connection this node accepted:
    /// no peer management (its peer is only a claim), never online, open
    /// for its message up to the send-once timeout.
    fn open_claimed(&mut self, cref: ConnRef, now: Instant) {
        self.admit(cref, 0, now);
        if let Some(conn) = self.conns.get_mut(&cref.key) {
            if let Phase::Open { state, .. } = &mut conn.phase {
                *state = OpenState::Once;
            }
            conn.deadline = now + self.constants.send_once_timeout;
            self.deadlines.push(conn.deadline, cref.key);
        }
    }

    /// The peer of `cref` dialled it as a send-once connection: its peer
    /// never goes online through it, and it may stay open for its message
    /// up to the send-once timeout.
    pub(super) fn on_send_once(&mut self, cref: ConnRef, now: Instant) {
        let Some(conn) = self.conns.get_mut(&cref.key).filter(|c| c.id == cref.id) else {
            return;
        };
        if let Phase::Open {
            state: state @ OpenState::Admitting,
            ..
        } = &mut conn.phase
        {
            *state = OpenState::Once;
            conn.deadline = now + self.constants.send_once_timeout;
            self.deadlines.push(conn.deadline, cref.key);
        }
    }

    /// Moves open connection `key` to `state`.
    pub(super) fn set_open_state(&mut self, key: usize, new: OpenState) {
        if let Some(Phase::Open { state, .. }) = self.conns.get_mut(&key).map(|c| &mut c.phase) {
            *state = new;
        }
    }
}
