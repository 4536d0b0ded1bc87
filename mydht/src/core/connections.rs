//! Connection events in the core (accepted, dialled, failed), dials, and
//! what is dropped with a connection.

use std::collections::VecDeque;
use std::time::Instant;

use mydht_base::{Error, ErrorKind, ErrorLevel, Peer};

use super::conn::{ConnKind, CoreConn, Dial, Phase, Target};
use super::{Action, NodeCore};
use crate::auth::{AuthError, Handshake};
use crate::command::{ConnRef, DialId};
use crate::conf::{Address, MyDHTConf};
use crate::frame::WireMessage;
use crate::identity::{PeerId, PeerInfo};
use crate::service::{ApiCommand, GlobalCommand, PeerMgmtCommand, PeerStatus};

impl<C: MyDHTConf> NodeCore<C> {
    /// An inbound connection, stored by the driver under `key`: its
    /// handshake starts (this side answers). The reference services will
    /// name it by; `None` when it was refused (too many connections: the
    /// close action follows). The handshake gets a spare ephemeral key only
    /// if its first message is a ping: a known-key flight needs none, and
    /// a spare taken at the accept would make the loop's idle work make
    /// another one while the flight is on its way.
    pub fn accepted(&mut self, key: usize, now: Instant) -> Option<ConnRef> {
        let handshake = Handshake::respond_with(
            self.me.clone(),
            self.constants.auth_timeout,
            now,
            None,
            (self.constants.auth_mode, self.constants.cipher_suite),
        )
        .also_accept(self.constants.send_once_auth);
        let conn = self.new_conn(key, None, now)?;
        conn.phase = Phase::Handshaking(Box::new(handshake));
        Some(ConnRef { key, id: conn.id })
    }

    /// The driver opened the connection of `dial`, stored under `key`:
    /// this side's handshake starts with its ping.
    pub fn dialled(&mut self, dial: DialId, key: usize, now: Instant) {
        if !self.dials.contains_key(&dial) {
            slog::error!(self.logger, "a dial nobody asked for"; "conn" => key);
            return self.actions.push_back(Action::Close {
                conn: key,
                error: None,
            });
        }
        let mode = match self.dials.get(&dial).map(|d| d.kind) {
            Some(ConnKind::Once) => self.constants.send_once_auth,
            _ => self.constants.auth_mode,
        };
        // A signed handshake to an expected peer refuses any other.
        let expected = self
            .dials
            .get(&dial)
            .and_then(|d| d.expected.as_ref())
            .map(|p| *p.get_id());
        let ephemeral = match self.spare_key.take() {
            Some(k) => Ok(k),
            None => crate::auth::EphemeralKey::generate(),
        };
        let started = ephemeral.map_err(Error::from).and_then(|e| {
            Handshake::initiate_with(
                self.me.clone(),
                expected,
                self.constants.auth_timeout,
                now,
                e,
                (mode, self.constants.cipher_suite),
            )
            .map_err(Error::from)
        });
        let Some(conn) = self.new_conn(key, Some(dial), now) else {
            return;
        };
        match started {
            Ok((handshake, ping)) => {
                conn.phase = Phase::Handshaking(Box::new(handshake));
                self.send_ping(key, ping, now);
            }
            Err(e) => self.drop_conn(key, Some(e)),
        }
    }

    /// The driver could not open the connection of `dial`.
    pub fn dial_failed(&mut self, dial: DialId, error: Error) {
        let Some(d) = self.take_dial(dial) else {
            return;
        };
        slog::debug!(self.logger, "dial failed"; "address" => ?d.address, "error" => %error);
        for qid in d.waiters {
            self.tell_api(ApiCommand::Fail(qid, error.clone()));
        }
        match d.kind {
            ConnKind::Pooled => self.tell_global(GlobalCommand::DialFailed(d.address, error)),
            ConnKind::Once => {
                let msg = lost_message(d.pending);
                self.tell_global(GlobalCommand::SendOnceFailed(d.address, error, msg))
            }
        }
    }

    /// The connection failed or its peer closed it (read at end, an I/O
    /// error, a write service that refused a message).
    pub fn conn_failed(&mut self, key: usize, error: Option<Error>) {
        self.drop_conn(key, error);
    }

    /// Stores a new connection under `key`, with what its dial gathered;
    /// `None` (and the connection closed) when there are too many.
    pub(super) fn new_conn(
        &mut self,
        key: usize,
        dial: Option<DialId>,
        now: Instant,
    ) -> Option<&mut CoreConn<C>> {
        let mut dial = dial.and_then(|d| self.take_dial(d));
        if self.conns.len() >= self.constants.max_connections || self.conns.contains_key(&key) {
            slog::warn!(self.logger, "too many connections: one refused");
            let e = Error::new(
                ErrorKind::TooLarge,
                ErrorLevel::Ignore,
                "too many connections",
            );
            if let Some(d) = dial.as_mut().filter(|d| d.kind == ConnKind::Once) {
                let msg = lost_message(std::mem::take(&mut d.pending));
                let lost = GlobalCommand::SendOnceFailed(d.address.clone(), e.clone(), msg);
                self.tell_global(lost);
            }
            for qid in dial.into_iter().flat_map(|d| d.waiters) {
                self.tell_api(ApiCommand::Fail(qid, e.clone()));
            }
            self.actions.push_back(Action::Close {
                conn: key,
                error: Some(e),
            });
            return None;
        }
        self.next_conn_id += 1;
        let (kind, dialled, waiters, pending, expected) = match dial {
            // A send-once connection is not the one for its address.
            Some(d) if d.kind == ConnKind::Once => {
                self.once_count += 1;
                (d.kind, Some(d.address), d.waiters, d.pending, d.expected)
            }
            Some(d) => {
                self.dialled.insert(d.address.clone(), key);
                (d.kind, Some(d.address), d.waiters, d.pending, d.expected)
            }
            None => (ConnKind::Pooled, None, Vec::new(), VecDeque::new(), None),
        };
        let addresses = match (&dialled, kind) {
            (Some(a), ConnKind::Pooled) => vec![a.clone()],
            _ => Vec::new(),
        };
        let conn = CoreConn {
            id: self.next_conn_id,
            phase: Phase::Handshaking(Box::new(Handshake::respond(
                self.me.clone(),
                self.constants.auth_timeout,
                now,
            ))),
            pending,
            waiters,
            dialled,
            addresses,
            idle_at: None,
            deadline: now + self.constants.auth_timeout,
            early_shadows: false,
            kind,
            half_ended: false,
            claimed: false,
            expected,
            known_unconfirmed: false,
            behind_flight: None,
            send_once_flight: false,
            next_ticket: None,
            resumed: false,
        };
        self.deadlines.push(conn.deadline, key);
        if self.deadlines.needs_rebuild(self.conns.len()) {
            let current = self
                .conns
                .iter()
                .filter_map(|(k, c)| c.deadline().map(|d| (d, *k)));
            self.deadlines.rebuild(current);
        }
        Some(self.conns.entry(key).or_insert(conn))
    }

    /// The connection to `address`: the one this node dialled there (open
    /// or opening), the connection of `expected` when it is online, or a
    /// new dial expecting it. `Err` when too many are opening.
    pub(super) fn dial_address(
        &mut self,
        address: Address<C>,
        expected: Option<PeerInfo>,
    ) -> Result<Target, Error> {
        if let Some(entry) = expected.as_ref().and_then(|p| self.peers.get(p.get_id())) {
            return Ok(Target::Conn(entry.conn));
        }
        if let Some(&key) = self.dialled.get(&address) {
            if self.conns.contains_key(&key) {
                return Ok(Target::Conn(key));
            }
        }
        if let Some(&id) = self.pooled_dials.get(&address) {
            return Ok(Target::Dial(id));
        }
        if self.conns.len() + self.dials.len() >= self.constants.max_connections {
            return Err(Error::new(
                ErrorKind::TooLarge,
                ErrorLevel::Ignore,
                "too many connections opening",
            ));
        }
        Ok(Target::Dial(self.new_dial(
            ConnKind::Pooled,
            address,
            VecDeque::new(),
            expected,
        )))
    }

    /// A dial of `kind` to `address`, with what its connection will send
    /// and the peer it expects there.
    fn new_dial(
        &mut self,
        kind: ConnKind,
        address: Address<C>,
        pending: VecDeque<WireMessage<C::ProtoMsg>>,
        expected: Option<PeerInfo>,
    ) -> DialId {
        self.next_dial += 1;
        let dial = DialId(self.next_dial);
        let d = Dial {
            kind,
            address: address.clone(),
            waiters: Vec::new(),
            pending,
            expected,
        };
        match kind {
            ConnKind::Pooled => {
                self.pooled_dials.insert(address.clone(), dial);
            }
            ConnKind::Once => self.once_count += 1,
        }
        self.dials.insert(dial, d);
        self.actions.push_back(Action::Dial { dial, address });
        dial
    }

    /// Sends `msg` on a send-once connection to `address`: dialled for it
    /// alone, closed once it is written; known-key when `expected`'s keys
    /// are verified. Dropped (and logged) past `max_send_once` of them, or
    /// past `max_connections`.
    pub(super) fn send_once(
        &mut self,
        address: Address<C>,
        msg: WireMessage<C::ProtoMsg>,
        expected: Option<PeerInfo>,
    ) {
        let total = self.conns.len() + self.dials.len();
        if self.once_count >= self.constants.max_send_once
            || total >= self.constants.max_connections
        {
            slog::warn!(self.logger, "send-once message dropped: too many connections"; "address" => ?address);
            let e = Error::new(
                ErrorKind::TooLarge,
                ErrorLevel::Ignore,
                "too many send-once connections",
            );
            let msg = lost_message([msg].into());
            return self.tell_global(GlobalCommand::SendOnceFailed(address, e, msg));
        }
        self.new_dial(ConnKind::Once, address, VecDeque::from([msg]), expected);
    }

    /// Drops a connection: its close action, its waiting queries failed,
    /// its peer offline unless another connection holds it.
    pub(super) fn drop_conn(&mut self, key: usize, error: Option<Error>) {
        let Some(mut conn) = self.conns.remove(&key) else {
            return;
        };
        if let Some(e) = &error {
            slog::debug!(self.logger, "connection dropped"; "conn" => conn.id, "error" => %e);
        }
        if conn.early_shadows {
            self.early_shadows -= 1;
        }
        if conn.kind == ConnKind::Once {
            self.once_count -= 1;
        }
        // Its flight was to give a ticket, never confirmed: the next
        // flight to the peer asks for one again.
        if let Some((peer, _)) = conn.next_ticket.take() {
            self.challenges.known().tickets().abandon_dial(&peer);
        }
        let error = self.known_refused(&conn, error);
        // What went out behind a known-key flight: a refused one's message
        // comes back, a stream's end is told.
        let behind = conn
            .behind_flight
            .take()
            .and_then(|b| b.settle(error.as_ref()));
        let err = waiters_error(error.as_ref());
        for qid in &conn.waiters {
            self.tell_api(ApiCommand::Fail(*qid, err.clone()));
        }
        // A pooled dial whose connection failed before it authenticated
        // (on loopback a refused connect fails at its first read or write),
        // or whose known-key flight was refused.
        let failed = matches!(conn.phase, Phase::Handshaking(_)) || conn.known_unconfirmed;
        if let (Some(e), Some(address), true, ConnKind::Pooled) =
            (&error, &conn.dialled, failed, conn.kind)
        {
            self.tell_global(GlobalCommand::DialFailed(address.clone(), e.clone()));
        }
        if let (Some(e), Some(address), ConnKind::Once) = (&error, &conn.dialled, conn.kind) {
            if once_lost(conn.half_ended, e) {
                let msg = lost_message(std::mem::take(&mut conn.pending)).or(behind);
                let lost = GlobalCommand::SendOnceFailed(address.clone(), e.clone(), msg);
                self.tell_global(lost);
            }
        }
        self.forget_addresses(key, &conn.addresses);
        self.actions.push_back(Action::Close { conn: key, error });
        if let Some(peer) = conn.online_peer() {
            self.peer_conn_gone(peer.clone(), key);
        }
    }

    /// What a dropped connection's end means: for a known-key dial whose
    /// peer never answered (closed, reset or timed out before its first
    /// frame), the flight's refusal, logged with its cause, and the peer
    /// the address led to forgotten (the next dial there is signed; after
    /// a refused resumed flight, known-key); a stop of this node stays
    /// what it is.
    fn known_refused(&mut self, conn: &CoreConn<C>, error: Option<Error>) -> Option<Error> {
        if !conn.known_unconfirmed || error.as_ref().is_some_and(is_stop) {
            return error;
        }
        let refused = Error::from(AuthError::KnownKeyRefused);
        let cause = error.as_ref().map_or("closed", |e| e.message());
        if conn.resumed {
            // The peer forgot the ticket (its dial state was taken for
            // this flight): the next dial there asks for a new one by a
            // known-key flight, which needs no ticket.
            slog::warn!(self.logger, "resumed dial refused: next dial known-key"; "conn" => conn.id,
                "address" => ?conn.dialled, "error" => %refused, "cause" => cause);
            return Some(refused);
        }
        match (&conn.expected, &conn.dialled) {
            (None, Some(address)) => self.challenges.known().forget_address(address),
            (Some(peer), _) => self.challenges.known().refused_by(peer.get_id()),
            (None, None) => {}
        }
        slog::warn!(self.logger, "known-key dial refused"; "conn" => conn.id,
            "address" => ?conn.dialled, "error" => %refused, "cause" => cause);
        Some(refused)
    }

    /// The open connection `key` of `peer` is gone: the peer stays online
    /// through another one (two nodes that dialled each other at once), or
    /// goes offline.
    pub(super) fn peer_conn_gone(&mut self, peer: C::PeerRef, key: usize) {
        let id = *peer.get_id();
        let other = self.other_online(&id, key);
        match (other, self.peers.get_mut(&id)) {
            (Some(k), Some(entry)) if entry.conn == key => entry.conn = k,
            (None, Some(entry)) if entry.conn == key => {
                self.peers.remove(&id);
                self.view.remove(&id);
                self.route.remove(&id);
                slog::debug!(self.logger, "peer offline"; "peer" => %id);
                // The global service hears it before a wait for peers
                // answers: a query sent as soon as it does may go straight
                // into the global service's channel, behind this event.
                self.tell_global(GlobalCommand::PeerStatus(peer.clone(), PeerStatus::Offline));
                self.check_watchers();
                self.actions
                    .push_back(Action::PeerMgmt(PeerMgmtCommand::PeerOffline(peer)));
            }
            _ => {}
        }
    }
}

impl<C: MyDHTConf> NodeCore<C> {
    /// Removes dial `dial`, and it from the indexes.
    fn take_dial(&mut self, dial: DialId) -> Option<Dial<C>> {
        let d = self.dials.remove(&dial)?;
        match d.kind {
            ConnKind::Pooled => {
                if self.pooled_dials.get(&d.address) == Some(&dial) {
                    self.pooled_dials.remove(&d.address);
                }
            }
            ConnKind::Once => self.once_count -= 1,
        }
        Some(d)
    }

    /// Connection `kept` is the one for `address` now (it was found there
    /// under another connection).
    pub(super) fn map_address(&mut self, address: Address<C>, kept: usize) {
        if let Some(conn) = self.conns.get_mut(&kept) {
            if !conn.addresses.contains(&address) {
                conn.addresses.push(address.clone());
            }
            self.dialled.insert(address, kept);
        }
    }

    /// Forgets the addresses that led to connection `key` (the one dialled
    /// on it, and those a lost duplicate handed over), where they still
    /// name it.
    pub(super) fn forget_addresses(&mut self, key: usize, addresses: &[Address<C>]) {
        for a in addresses {
            if self.dialled.get(a) == Some(&key) {
                self.dialled.remove(a);
            }
        }
    }

    /// When `gone` was the connection of peer `id`'s entry: an online
    /// connection the peer superseded, to take over. Forgets `gone` and
    /// the superseded connections closed since.
    fn other_online(&mut self, id: &PeerId, gone: usize) -> Option<usize> {
        let list = self.superseded.get_mut(id)?;
        let conns = &self.conns;
        list.retain(|&k| {
            k != gone
                && conns
                    .get(&k)
                    .and_then(CoreConn::online_peer)
                    .is_some_and(|p| p.get_id() == id)
        });
        let entry_gone = self.peers.get(id).is_some_and(|p| p.conn == gone);
        let other = if entry_gone { list.pop() } else { None };
        if list.is_empty() {
            self.superseded.remove(id);
        }
        other
    }

    /// The write service of `key` refused messages: dropped (and logged)
    /// when it is only full, the connection closed otherwise.
    pub fn write_failed(&mut self, key: usize, error: Error) {
        if error.level() == ErrorLevel::Ignore {
            slog::warn!(self.logger, "messages dropped"; "conn" => key, "error" => %error);
        } else {
            self.drop_conn(key, Some(error));
        }
    }

    /// True while connection `key` expects handshake frames (the driver
    /// reads them for it); false once authenticated, when bytes that
    /// arrive are for its read service.
    pub fn is_handshaking(&self, key: usize) -> bool {
        self.conns
            .get(&key)
            .is_some_and(|c| matches!(c.phase, Phase::Handshaking(_)))
    }
}

/// True for the error of a connection this node closed because it stops.
fn is_stop(e: &Error) -> bool {
    e.kind() == ErrorKind::ChannelClosed && e.message() == super::stopped().message()
}

/// True when a send-once connection this node dialled, dropped with
/// `error`, lost its message: it ended before either of its services ended
/// cleanly (its message not written yet), or its peer refused its known-key
/// flight or this node; never when this node stops.
fn once_lost(half_ended: bool, error: &Error) -> bool {
    let refused = AuthError::of(error) == Some(&AuthError::KnownKeyRefused)
        || error.kind() == ErrorKind::Rejected;
    !is_stop(error) && (!half_ended || refused)
}

/// The application message of a lost send-once connection's queue, given
/// back with [`GlobalCommand::SendOnceFailed`]: a send-once dial carries
/// one message; a stream's (`AppStream`) is not given back, its stream's
/// end tells its owner.
fn lost_message<M>(pending: VecDeque<WireMessage<M>>) -> Option<M> {
    pending.into_iter().find_map(|m| match m {
        WireMessage::App(msg) => Some(msg),
        _ => None,
    })
}

/// What the connect queries waiting on a dropped connection fail with:
/// its error, or, closed without one, a connection closed before the peer
/// was admitted (a peer that refuses this node says so:
/// [`WireMessage::Refused`], seen as `Rejected`).
fn waiters_error(error: Option<&Error>) -> Error {
    error.cloned().unwrap_or_else(|| {
        Error::new(
            ErrorKind::Io(std::io::ErrorKind::ConnectionAborted),
            ErrorLevel::Ignore,
            "connection closed before the peer was admitted",
        )
    })
}
