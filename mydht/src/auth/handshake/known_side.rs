//! Both sides of the known-key handshake (see [`known`](crate::auth::known)):
//! the dialler needs no state machine (its one message sent, it is done);
//! the acceptor is a responder that got a flight instead of a ping.

use std::mem;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::exchange::Authenticated;
use super::{unexpected, Handshake, State};
use crate::auth::challenge::ChallengeCache;
use crate::auth::crypto::EphemeralKey;
use crate::auth::error::AuthError;
use crate::auth::known::{self, resume, AuthKnown, AuthResumed, Ticket};
use crate::auth::mode::AuthMode;
use crate::auth::suite::CipherSuite;
use crate::identity::{LocalPeer, PeerInfo};
use mydht_base::Peer;

/// This machine's clock in milliseconds since the Unix epoch (0 before it):
/// a known-key flight's timestamp.
pub fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Handshake {
    /// Dialler of the known-key handshake: the flight for `peer`, whose
    /// keys `memory` verified (an earlier authenticated connection, or
    /// [`ChallengeCache::verify_peer`]; [`AuthError::UnknownPeer`]
    /// otherwise), stamped `wall_ms` ([`wall_clock_ms`]), and the outcome:
    /// this side may send under the keys at once. Only `peer` can read
    /// them; a connection on which nothing ever comes back (not even the
    /// peer's admission) reached someone else.
    pub fn dial_known(
        local: &LocalPeer,
        peer: &PeerInfo,
        memory: &mut ChallengeCache,
        suite: CipherSuite,
        wall_ms: u64,
    ) -> Result<(AuthKnown, Authenticated), AuthError> {
        Self::dial_known_with(local, peer, memory, None, (false, false), suite, wall_ms)
            .map(|(flight, auth, _)| (flight, auth))
    }

    /// [`Handshake::dial_known`] for a send-once connection: the flight
    /// says the dialler sends one message and closes
    /// ([`AuthKnown::send_once`]), so the acceptor writes no admission;
    /// the acceptor's session end, sealed under the keys, is what comes
    /// back.
    pub fn dial_known_send_once(
        local: &LocalPeer,
        peer: &PeerInfo,
        memory: &mut ChallengeCache,
        suite: CipherSuite,
        wall_ms: u64,
    ) -> Result<(AuthKnown, Authenticated), AuthError> {
        Self::dial_known_with(local, peer, memory, None, (true, false), suite, wall_ms)
            .map(|(flight, auth, _)| (flight, auth))
    }

    /// [`Handshake::dial_known`] with an ephemeral key made ahead of time,
    /// for a send-once connection or not, and asking for a ticket or not
    /// (`(send_once, ticket)`); with the ticket of the next resumed flight
    /// to `peer` if it asked (to keep once this one is confirmed).
    pub(crate) fn dial_known_with(
        local: &LocalPeer,
        peer: &PeerInfo,
        memory: &mut ChallengeCache,
        ephemeral: Option<EphemeralKey>,
        (send_once, ticket): (bool, bool),
        suite: CipherSuite,
        wall_ms: u64,
    ) -> Result<(AuthKnown, Authenticated, Option<Ticket>), AuthError> {
        let (flight, keys, ticket) = known::dial(
            local,
            peer,
            memory.known(),
            ephemeral,
            (send_once, ticket),
            suite,
            wall_ms,
        )?;
        let peer = peer.clone();
        Ok((flight, Authenticated { peer, keys }, ticket))
    }

    /// Dialler of a send-once connection to `peer` resumed from the last
    /// one ([`resume`](crate::auth::known::resume)), if `memory` keeps a
    /// ticket for it: the flight, the outcome, and the next ticket (to keep
    /// once this flight is confirmed). `None` without a ticket.
    pub(crate) fn dial_resumed(
        local: &LocalPeer,
        peer: &PeerInfo,
        memory: &mut ChallengeCache,
        suite: CipherSuite,
        wall_ms: u64,
    ) -> Option<(AuthResumed, Authenticated, Ticket)> {
        let ticket = memory.known().tickets().take_dial(peer.get_id(), wall_ms)?;
        let me = local.info().get_id();
        let (flight, keys, next) = resume::dial_resumed(me, peer.get_id(), ticket, suite, wall_ms);
        let peer = peer.clone();
        Some((flight, Authenticated { peer, keys }, next))
    }

    /// Acceptor: checks a resumed flight instead of a ping (see
    /// [`on_known`](Self::on_known)): its ticket must be one this node
    /// keeps ([`AuthError::UnknownTicket`] otherwise).
    pub fn on_resumed(
        &mut self,
        flight: &AuthResumed,
        memory: &mut ChallengeCache,
        now: Instant,
        wall_ms: u64,
    ) -> Result<Authenticated, AuthError> {
        self.check_timeout(now)?;
        self.known_flight_expected()?;
        let known = memory.known();
        let window_ms = known.window_ms();
        let me = self.local.info().get_id();
        let (peer, keys) =
            resume::accept_resumed(me, flight, known.tickets(), window_ms, self.suite, wall_ms)?;
        Ok(Authenticated { peer, keys })
    }

    /// Ends a responder waiting for its first message, which is a flight
    /// (known-key or resumed): accepted in the signed mode only (the
    /// flight proves as much as a signed handshake).
    fn known_flight_expected(&mut self) -> Result<(), AuthError> {
        match mem::replace(&mut self.state, State::Ended) {
            State::AwaitPing(_) => {}
            other => return Err(unexpected(&other, "known-key flight")),
        }
        if self.mode != AuthMode::Signed {
            if self.also != Some(AuthMode::Signed) {
                return Err(AuthError::ModeMismatch);
            }
            self.mode = AuthMode::Signed;
        }
        Ok(())
    }

    /// Acceptor: checks a known-key flight instead of a ping, at `now`
    /// (the handshake's deadline) and `wall_ms` (the flight's time window);
    /// gives the authenticated dialler. `memory` refuses a replayed flight.
    /// The handshake ends either way. Accepted in the signed mode only (the
    /// flight proves as much as a signed handshake).
    pub fn on_known(
        &mut self,
        flight: &AuthKnown,
        memory: &mut ChallengeCache,
        now: Instant,
        wall_ms: u64,
    ) -> Result<Authenticated, AuthError> {
        self.check_timeout(now)?;
        self.known_flight_expected()?;
        let (peer, keys) = known::accept(&self.local, flight, memory.known(), self.suite, wall_ms)?;
        Ok(Authenticated { peer, keys })
    }

    /// Gives a responder waiting for its first message an ephemeral key
    /// made ahead of time, for the ping it got (its pong then makes no key
    /// generation); the key back if it has one already or waits for
    /// nothing.
    pub(crate) fn give_spare(&mut self, key: EphemeralKey) -> Option<EphemeralKey> {
        match &mut self.state {
            State::AwaitPing(spare @ None) => {
                *spare = Some(key);
                None
            }
            _ => Some(key),
        }
    }

    /// An initiator's ephemeral key, taken out before its ping is sent:
    /// the dial goes known-key instead, and this handshake ends.
    pub(crate) fn take_ephemeral(&mut self) -> Option<EphemeralKey> {
        match mem::replace(&mut self.state, State::Ended) {
            State::AwaitPong { ephemeral, .. } => Some(ephemeral),
            other => {
                self.state = other;
                None
            }
        }
    }
}
