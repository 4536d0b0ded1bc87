//! A connection's handshake in the core: each frame the driver read is
//! decoded and given to the connection's [`Handshake`]; what it answers
//! goes out as a frame for the driver to write. A dial to an address whose
//! peer this node knows goes known-key ([`crate::auth::known`]): its one
//! flight out, the connection is authenticated at once.

use std::time::Instant;

use mydht_base::{Error, ErrorKind, ErrorLevel, MsgEnc, Peer};

use super::conn::{ConnKind, Phase};
use super::{Action, NodeCore};
use crate::auth::{
    wall_clock_ms, AuthError, AuthMessage, AuthMode, AuthPing, Authenticated, Handshake,
    SessionKeys, Step,
};
use crate::conf::MyDHTConf;
use crate::identity::PeerInfo;

/// Handshakes at most that hold session shadows built before their peer
/// is accepted: a responder builds them before the initiator is
/// authenticated, and each holds the shadow's chunk buffers (a 64 KiB
/// chunk each way with the default session shadow). Past it, shadows are
/// built when the services start.
const EARLY_SHADOWS: usize = 16;

impl<C: MyDHTConf> NodeCore<C> {
    /// A whole handshake frame (its body) read on connection `key`.
    pub fn handshake_frame(&mut self, key: usize, frame: &[u8], now: Instant) {
        match self.step_handshake(key, frame, now) {
            Ok(Some(auth)) => self.on_authenticated(key, auth, now),
            Ok(None) => {}
            Err(e) => self.drop_conn(key, Some(e)),
        }
    }

    fn step_handshake(
        &mut self,
        key: usize,
        frame: &[u8],
        now: Instant,
    ) -> Result<Option<Authenticated>, Error> {
        let msg: AuthMessage = self.enc.decode(frame)?;
        let Some(conn) = self.conns.get_mut(&key) else {
            return Ok(None);
        };
        let Phase::Handshaking(hs) = &mut conn.phase else {
            return Err(Error::new(
                ErrorKind::Auth,
                ErrorLevel::ShutDown,
                "handshake message out of turn",
            ));
        };
        if let AuthMessage::Pong(pong) = msg {
            // The final pong is signed and sent before the responder's
            // signature is checked (deferred work): both sides check at
            // once (see `auth`).
            let (fin, answered) = hs.answer_pong(&pong, now)?;
            conn.phase = Phase::Answered(Box::new(answered));
            if let Some(fin) = fin {
                self.send_frame(key, &AuthMessage::PongFinal(fin));
            }
            self.defer(key, now);
            return Ok(None);
        }
        // A ping's pong takes a spare ephemeral key (made at idle); a
        // known-key flight needs none of this side's.
        let send_once = match &msg {
            AuthMessage::Known(flight) => flight.send_once,
            AuthMessage::Resumed(_) => true,
            AuthMessage::Ping(_) => {
                if let Some(back) = self.spare_key.take().and_then(|k| hs.give_spare(k)) {
                    self.spare_key.give_back(back);
                }
                false
            }
            _ => false,
        };
        let step = hs.handle(&msg, &mut self.challenges, now)?;
        // A responder that answered a ping in the send-once mode.
        conn.claimed |= hs.mode() != self.constants.auth_mode;
        // Proven with the flight (its `send_once` is under the proof): a
        // send-once connection that gets no admission.
        conn.send_once_flight = send_once;
        match step {
            Step::Send(reply) => {
                // The keys are derived once the reply is out (deferred
                // work), while the peer checks it.
                self.send_frame(key, &reply);
                self.defer(key, now);
                Ok(None)
            }
            Step::SendAndFinish(reply, auth) => {
                self.send_frame(key, &reply);
                Ok(Some(auth))
            }
            Step::Finish(auth) => Ok(Some(auth)),
        }
    }

    /// Work left on connection `key` until its frame is out: the driver
    /// asks for it when it has carried out every action
    /// ([`poll_action`](Self::poll_action)).
    fn defer(&mut self, key: usize, now: Instant) {
        if let Some(conn) = self.conns.get(&key) {
            self.deferred.push_back((key, conn.id, now));
        }
    }

    /// Does one connection's deferred work: derives a responder's keys
    /// (its shadows are then built early), or checks the responder's
    /// signature on the initiator's side.
    pub(super) fn run_deferred(&mut self, key: usize, id: u64, now: Instant) {
        let Some(conn) = self.conns.get_mut(&key).filter(|c| c.id == id) else {
            return;
        };
        let phase = std::mem::replace(&mut conn.phase, Phase::Closing);
        match phase {
            Phase::Answered(answered) => match answered.finish() {
                Ok(auth) => {
                    self.prepare_shadows(key, &auth.keys);
                    self.on_authenticated(key, auth, now);
                }
                Err(e) => self.drop_conn(key, Some(e.into())),
            },
            Phase::Handshaking(mut hs) => {
                let keys = hs.derive_keys().map(|k| k.cloned());
                conn.phase = Phase::Handshaking(hs);
                match keys {
                    Ok(Some(keys)) => self.prepare_shadows(key, &keys),
                    Ok(None) => {}
                    Err(e) => self.drop_conn(key, Some(e.into())),
                }
            }
            other => conn.phase = other,
        }
    }

    /// A dialled connection's first flight: `ping`, or, when the dialled
    /// address led to a peer this node knows (and `known_key` is on, in the
    /// signed mode), the known-key flight: the connection is then
    /// authenticated at once, its frames go right behind the flight.
    pub(super) fn send_ping(&mut self, key: usize, ping: AuthPing, now: Instant) {
        match self.dial_known(key) {
            None => self.send_frame(key, &AuthMessage::Ping(ping)),
            Some(Ok((flight, auth))) => {
                slog::debug!(self.logger, "known-key dial"; "conn" => key, "peer" => %auth.peer.get_id());
                if let Some(conn) = self.conns.get_mut(&key) {
                    conn.known_unconfirmed = true;
                    conn.send_once_flight = conn.kind == ConnKind::Once;
                }
                self.send_frame(key, &flight);
                self.authenticated(key, auth, now);
            }
            Some(Err(e)) => {
                slog::warn!(self.logger, "known-key dial failed"; "conn" => key, "error" => %e);
                self.drop_conn(key, Some(e));
            }
        }
    }

    /// The known-key flight for dialled connection `key` and its outcome;
    /// `None` when the signed handshake applies (unknown peer, switched
    /// off, not the signed mode). The peer is the one the dial expects
    /// (its keys verified, or its binding checked now), or else the one
    /// the dialled address led to before.
    fn dial_known(&mut self, key: usize) -> Option<Result<(AuthMessage, Authenticated), Error>> {
        if !self.constants.known_key {
            return None;
        }
        let conn = self.conns.get_mut(&key)?;
        let Phase::Handshaking(hs) = &mut conn.phase else {
            return None;
        };
        if hs.mode() != AuthMode::Signed {
            return None;
        }
        let peer = match &conn.expected {
            Some(peer) if self.challenges.known().dial_signed(peer.get_id()) => return None,
            Some(peer) => match self.challenges.known().check_peer(peer) {
                Ok(()) => peer.clone(),
                Err(AuthError::UnknownPeer) => return None,
                Err(e) => {
                    // Never trusted: the signed handshake proves the peer.
                    slog::warn!(self.logger, "key binding refused: signed handshake";
                        "conn" => key, "peer" => %peer.get_id(), "error" => %e);
                    return None;
                }
            },
            None => self.challenges.known().expect_at(conn.dialled.as_ref()?)?,
        };
        let wall_ms = wall_clock_ms();
        let suite = self.constants.cipher_suite;
        // A send-once dial to a peer this node's last send-once flight to
        // it was confirmed by: resumed from that flight, no key needed.
        if conn.kind == ConnKind::Once {
            let resumed =
                Handshake::dial_resumed(&self.me, &peer, &mut self.challenges, suite, wall_ms);
            if let Some((flight, auth, next)) = resumed {
                if let Some(unused) = hs.take_ephemeral() {
                    self.spare_key.give_back(unused);
                }
                conn.next_ticket = Some((*peer.get_id(), next));
                conn.resumed = true;
                return Some(Ok((AuthMessage::Resumed(flight), auth)));
            }
        }
        // A send-once dial (a tunnel hop: one of a few peers, dialled
        // again and again) without a ticket: a key whose exchange with this
        // peer was made at idle, if one is ready (the handshake's spare key
        // is kept for the next one). A pooled connection is dialled once:
        // nothing prepared.
        let prepared = match conn.kind {
            ConnKind::Once => self.spare_key.take_for(&peer),
            ConnKind::Pooled => None,
        };
        let ephemeral = match prepared {
            Some(prepared) => {
                if let Some(unused) = hs.take_ephemeral() {
                    self.spare_key.give_back(unused);
                }
                Some(prepared)
            }
            None => hs.take_ephemeral(),
        };
        // A send-once flight asks for a ticket if none is kept or asked
        // for: its next flight to the peer may then resume.
        let once = conn.kind == ConnKind::Once;
        let tickets = self.challenges.known().tickets();
        let ticket = once && tickets.ask_ticket(peer.get_id());
        let dialled = Handshake::dial_known_with(
            &self.me,
            &peer,
            &mut self.challenges,
            ephemeral,
            (once, ticket),
            suite,
            wall_ms,
        );
        match dialled {
            Ok((flight, auth, next)) => {
                conn.next_ticket = next.map(|t| (*peer.get_id(), t));
                Some(Ok((AuthMessage::Known(flight), auth)))
            }
            Err(e) => {
                if ticket {
                    self.challenges
                        .known()
                        .tickets()
                        .abandon_dial(peer.get_id());
                }
                Some(Err(e.into()))
            }
        }
    }

    /// A connection authenticated by a handshake (not known-key dialled):
    /// a peer the signed handshake proved is remembered as verified, and
    /// the peer a dialled address led to, so that the next dial there may
    /// go known-key.
    pub(super) fn remember_peer(&mut self, key: usize, peer: &PeerInfo) {
        let Some(conn) = self.conns.get(&key) else {
            return;
        };
        let mode = match (conn.kind, &conn.dialled) {
            (ConnKind::Once, Some(_)) => self.constants.send_once_auth,
            _ => self.constants.auth_mode,
        };
        if mode != AuthMode::Signed || conn.claimed {
            // Only claimed, not proven.
            return;
        }
        match &conn.dialled {
            Some(address) => self.challenges.known().learn_address(address, peer),
            None => self.challenges.known().proven(peer),
        }
    }

    /// The peer of dialled connection `key` sent its first frame (its
    /// admission, or its refusal), or, on a send-once flight's connection,
    /// its session end: sealed under the session keys, so whoever it
    /// dialled holds the keys expected there. A known-key dial to that
    /// address is confirmed; the address is not learnt again (a signed
    /// dial learnt it when it authenticated, and a refusal there since
    /// stands).
    pub(super) fn confirm_peer(&mut self, key: usize, peer: &PeerInfo) {
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        let known_key_dial = std::mem::take(&mut conn.known_unconfirmed);
        if let Some(behind) = conn.behind_flight.take() {
            behind.settle(None);
        }
        if let Some((id, ticket)) = conn.next_ticket.take() {
            self.challenges.known().tickets().keep_dial(id, ticket);
        }
        if let (Some(address), true) = (&conn.dialled, known_key_dial) {
            self.challenges.known().confirm_address(address, peer);
        }
    }

    /// Encodes a handshake message for the driver to write on `key`.
    pub(super) fn send_frame(&mut self, key: usize, msg: &AuthMessage) {
        let mut frame = Vec::new();
        match self.enc.encode(msg, &mut frame) {
            Ok(()) => self
                .actions
                .push_back(Action::SendFrame { conn: key, frame }),
            Err(e) => self.drop_conn(key, Some(e)),
        }
    }

    /// The session keys are known: the driver builds the shadows now, while
    /// fewer than [`EARLY_SHADOWS`] handshakes hold some.
    fn prepare_shadows(&mut self, key: usize, keys: &SessionKeys) {
        if self.early_shadows >= EARLY_SHADOWS {
            return;
        }
        if let Some(conn) = self.conns.get_mut(&key) {
            if !conn.early_shadows {
                conn.early_shadows = true;
                self.early_shadows += 1;
                self.actions.push_back(Action::PrepareShadows {
                    conn: key,
                    keys: Box::new(keys.clone()),
                });
            }
        }
    }

    /// The shadows of `key` were used (its services started) or dropped.
    pub(super) fn shadows_used(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(&key) {
            if conn.early_shadows {
                conn.early_shadows = false;
                self.early_shadows -= 1;
            }
        }
    }
}
