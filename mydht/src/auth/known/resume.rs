//! Resumed send-once flights: the next send-once connection between a
//! dialler and an acceptor that just completed one authenticates with a
//! secret both derived from it, with no public-key operation on either
//! side.
//!
//! A send-once flight (known-key or resumed) gives both sides, beside the
//! session keys, a ticket: a 32-byte secret and a 16-byte id, derived from
//! the flight's secrets and hash. The acceptor keeps it at once, under its
//! id; the dialler keeps it once the acceptor's sealed session end
//! confirmed the flight (so it never holds a ticket the acceptor did not
//! keep, unless the acceptor forgot it since). The dialler's next
//! send-once dial to that peer sends, instead of a known-key flight:
//!
//! ```text
//! dialler I                                          acceptor R
//!   h = SHA-256(label, id_r, id_i, ticket id, ts, suite)
//!   keys, proof = HKDF(secret, h)          takes the ticket (single use),
//!   next ticket = HKDF(secret, h)          same; checks proof and ts
//!   resumed { id_r, ticket id, ts, suite, proof } ──► then session frames
//! ```
//!
//! - Only I and R know the secret (it comes from the flight's `es` and
//!   `ss`), so only I could make the proof and only R can read the frames.
//!   R knows the dialler from the ticket: no identity is sent.
//! - Replay: R takes a ticket out at its first use, proven or not, and a
//!   ticket lives 60 s at most (its dialler uses it within 30 s): a
//!   replayed or forged flight finds none ([`AuthError::UnknownTicket`]).
//!   The timestamp is checked against the window as a known-key flight's.
//! - One ticket at a time per pair: a known-key flight asks for one
//!   ([`AuthKnown::ticket`](super::AuthKnown::ticket), under its proof)
//!   only while the dialler keeps none and none is asked for, and a
//!   resumed flight gives the next; so the dialler's ticket is the one the
//!   acceptor kept last for it, however many send-once connections run
//!   between the two at once (the others go known-key).
//! - Secrecy: the ticket chain starts from a known-key flight's secrets, so
//!   whoever steals R's static key and recorded that flight can read the
//!   resumed ones too (the known-key handshake's own limit). A ticket is
//!   erased at its use and the next one derived through a one-way
//!   function: a thief of a node's memory learns the live tickets (the
//!   next connections), not the connections before.
//! - A ticket the acceptor forgot (it restarted, or more diallers than its
//!   memory holds resumed with it) refuses the flight, as a known-key
//!   flight is refused: `AuthError::KnownKeyRefused` at the dialler (the
//!   message given back to its global service, a stream not sent again).
//!   Its next dial to that peer is a known-key flight that asks for a new
//!   ticket (not a signed one, as after a refused known-key flight: the
//!   chain began with a known-key flight that passed, so the clocks
//!   agree).
//! - Costs: a few HMAC-SHA256 per side, against two X25519 operations and
//!   a key generation for a known-key flight.

use openssl::sha::Sha256;
use serde::{Deserialize, Serialize};

use mydht_base::Peer;

use super::flight::{derive, PROOF_LEN};
use super::memory::Bounded;
use crate::auth::crypto::hkdf_sha256;
use crate::auth::error::AuthError;
use crate::auth::message::fixed;
use crate::auth::session_keys::SessionKeys;
use crate::auth::suite::CipherSuite;
use crate::auth::transcript::Role;
use crate::identity::{PeerId, PeerInfo};

const HASH_LABEL: &[u8] = b"mydht-resumed-v1 flight\0";
const TICKET_INFO: &[u8] = b"mydht-resumed-v1 ticket";
/// Length of a ticket's id.
pub(crate) const TICKET_ID_LEN: usize = 16;
/// How long an acceptor keeps a ticket.
pub(crate) const TICKET_LIFETIME_MS: u64 = 60_000;
/// How long a dialler uses one: half the acceptor's, so that a ticket the
/// dialler sends is one the acceptor still keeps.
const DIAL_LIFETIME_MS: u64 = TICKET_LIFETIME_MS / 2;
/// Most tickets a node keeps, as acceptor (one per dialler) and as dialler
/// (one per peer).
const MAX_TICKETS: usize = 1024;

/// The resumed flight, dialler to acceptor (see the [module](self)). Byte
/// vectors on the wire; every length is checked on receipt before use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthResumed {
    /// The id of the peer the dialler expects (32 bytes).
    pub responder: Vec<u8>,
    /// The ticket's id (16 bytes): single use.
    pub ticket: Vec<u8>,
    /// The dialler's clock, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The session shadow's cipher suite: refused unless the acceptor's.
    pub suite: CipherSuite,
    /// The dialler's proof over the flight (32 bytes).
    pub proof: Vec<u8>,
}

/// A ticket: the secret of the next resumed flight between two peers, and
/// its id. Erased when dropped.
pub(crate) struct Ticket {
    id: [u8; TICKET_ID_LEN],
    secret: [u8; 32],
    made_ms: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.secret.fill(0);
    }
}

impl Ticket {
    /// The ticket of the flight whose secrets are `ikm` and hash `h`, made
    /// at `wall_ms`.
    pub(crate) fn derive(ikm: &[u8], h: &[u8; 32], wall_ms: u64) -> Self {
        let mut okm = hkdf_sha256(ikm, h, TICKET_INFO);
        let mut ticket = Ticket {
            id: [0; TICKET_ID_LEN],
            secret: [0; 32],
            made_ms: wall_ms,
        };
        ticket.secret.copy_from_slice(&okm[..32]);
        ticket.id.copy_from_slice(&okm[32..32 + TICKET_ID_LEN]);
        okm.fill(0);
        ticket
    }
}

/// The flight's hash: whom it is for, who sends it, which ticket, when,
/// and the suite.
fn flight_hash(
    responder: &PeerId,
    dialler: &PeerId,
    ticket: &[u8; TICKET_ID_LEN],
    timestamp_ms: u64,
    suite: CipherSuite,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(HASH_LABEL);
    h.update(responder.as_bytes());
    h.update(dialler.as_bytes());
    h.update(ticket);
    h.update(&timestamp_ms.to_be_bytes());
    h.update(&[suite.transcript_id()]);
    h.finish()
}

/// A dialler's ticket for one peer.
enum DialTicket {
    /// A flight that will give one is out, not confirmed yet: no other
    /// flight to the peer asks for one meanwhile.
    Pending,
    /// Confirmed by the peer: the next send-once dial resumes with it.
    Ready(Ticket),
}

/// The tickets a node keeps (see the [module](self)): as acceptor, by id,
/// one per dialler; as dialler, one per peer.
pub(crate) struct Tickets {
    accepted: Bounded<[u8; TICKET_ID_LEN], (PeerInfo, Ticket)>,
    /// The id of each dialler's ticket, so that its newest replaces it.
    by_dialler: Bounded<PeerId, [u8; TICKET_ID_LEN]>,
    dial: Bounded<PeerId, DialTicket>,
    resumed: u64,
}

impl Tickets {
    pub(crate) fn new() -> Self {
        Tickets {
            accepted: Bounded::new(MAX_TICKETS),
            by_dialler: Bounded::new(MAX_TICKETS),
            dial: Bounded::new(MAX_TICKETS),
            resumed: 0,
        }
    }

    /// Acceptor: keeps `ticket` for the next resumed flight of `dialler`
    /// (replacing its earlier one).
    pub(crate) fn keep_accepted(&mut self, dialler: PeerInfo, ticket: Ticket) {
        let id = *dialler.get_id();
        if let Some(earlier) = self.by_dialler.remove(&id) {
            self.accepted.remove(&earlier);
        }
        self.by_dialler.insert(id, ticket.id);
        self.accepted.insert(ticket.id, (dialler, ticket));
    }

    /// Dialler: whether a known-key send-once flight to `peer` asks for a
    /// ticket: when no flight that will give one is out and none is kept.
    /// If so, one is out from now on.
    pub(crate) fn ask_ticket(&mut self, peer: &PeerId) -> bool {
        if self.dial.get(peer).is_some() {
            return false;
        }
        self.dial.insert(*peer, DialTicket::Pending);
        true
    }

    /// Dialler: `peer` confirmed the flight that gave `ticket`: the next
    /// send-once dial to it resumes with it.
    pub(crate) fn keep_dial(&mut self, peer: PeerId, ticket: Ticket) {
        self.dial.remove(&peer);
        self.dial.insert(peer, DialTicket::Ready(ticket));
    }

    /// Dialler: the flight to `peer` that was to give a ticket ended
    /// unconfirmed: the next flight asks again.
    pub(crate) fn abandon_dial(&mut self, peer: &PeerId) {
        if let Some(DialTicket::Pending) = self.dial.get(peer) {
            self.dial.remove(peer);
        }
    }

    /// Dialler: the ticket for a send-once dial to `peer` at `wall_ms`, if
    /// one is kept and young enough (taken: the flight resumed with it
    /// gives the next, pending from now on).
    pub(crate) fn take_dial(&mut self, peer: &PeerId, wall_ms: u64) -> Option<Ticket> {
        let Some(DialTicket::Ready(ticket)) = self.dial.get(peer) else {
            return None;
        };
        let young = wall_ms.saturating_sub(ticket.made_ms) <= DIAL_LIFETIME_MS;
        match self.dial.remove(peer) {
            Some(DialTicket::Ready(ticket)) if young => {
                self.dial.insert(*peer, DialTicket::Pending);
                Some(ticket)
            }
            _ => None,
        }
    }

    /// How many resumed flights this node accepted.
    pub(crate) fn resumed(&self) -> u64 {
        self.resumed
    }
}

/// Dialler: the resumed flight to `peer` with `ticket`, this side's
/// session keys and the next ticket (to keep once the flight is confirmed).
pub(crate) fn dial_resumed(
    local: &PeerId,
    peer: &PeerId,
    ticket: Ticket,
    suite: CipherSuite,
    wall_ms: u64,
) -> (AuthResumed, SessionKeys, Ticket) {
    let h = flight_hash(peer, local, &ticket.id, wall_ms, suite);
    let (keys, proof) = derive(&ticket.secret, &h, Role::Initiator, suite);
    let next = Ticket::derive(&ticket.secret, &h, wall_ms);
    let flight = AuthResumed {
        responder: peer.as_bytes().to_vec(),
        ticket: ticket.id.to_vec(),
        timestamp_ms: wall_ms,
        suite,
        proof: proof.to_vec(),
    };
    (flight, keys, next)
}

/// Acceptor: checks `flight` (for this node, fresh, its ticket kept here
/// and proven) and gives the dialler and this side's session keys; keeps
/// the next ticket. The ticket is taken at its first use, proven or not.
pub(crate) fn accept_resumed(
    local: &PeerId,
    flight: &AuthResumed,
    tickets: &mut Tickets,
    window_ms: u64,
    suite: CipherSuite,
    wall_ms: u64,
) -> Result<(PeerInfo, SessionKeys), AuthError> {
    let responder: [u8; 32] = fixed(&flight.responder, "responder id")?;
    if &PeerId::from(responder) != local {
        return Err(AuthError::UnexpectedPeer);
    }
    if flight.suite != suite {
        return Err(AuthError::SuiteMismatch {
            ours: suite,
            theirs: flight.suite,
        });
    }
    if flight.timestamp_ms.abs_diff(wall_ms) > window_ms {
        return Err(AuthError::StaleFlight);
    }
    let id: [u8; TICKET_ID_LEN] = fixed(&flight.ticket, "ticket id")?;
    let proof: [u8; PROOF_LEN] = fixed(&flight.proof, "proof")?;
    let (dialler, ticket) = tickets
        .accepted
        .remove(&id)
        .ok_or(AuthError::UnknownTicket)?;
    tickets.by_dialler.remove(dialler.get_id());
    if wall_ms.saturating_sub(ticket.made_ms) > TICKET_LIFETIME_MS {
        return Err(AuthError::UnknownTicket);
    }
    let h = flight_hash(local, dialler.get_id(), &id, flight.timestamp_ms, suite);
    let (keys, expected) = derive(&ticket.secret, &h, Role::Responder, suite);
    if !openssl::memcmp::eq(&expected, &proof) {
        return Err(AuthError::BadProof);
    }
    let next = Ticket::derive(&ticket.secret, &h, wall_ms);
    tickets.keep_accepted(dialler.clone(), next);
    tickets.resumed += 1;
    Ok((dialler, keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    const SUITE: CipherSuite = CipherSuite::ChaCha20Poly1305;
    const WINDOW: u64 = 5_000;

    fn peer(address: &str) -> PeerInfo {
        let identity = Identity::generate().unwrap();
        PeerInfo::new(
            *identity.identity_key(),
            address.into(),
            *identity.tunnel_key(),
        )
        .unwrap()
    }

    /// Alice dialled bob once: each keeps the same ticket.
    fn ticketed(alice: &PeerInfo, bob: &PeerInfo, wall: u64) -> (Tickets, Tickets) {
        let (mut at_alice, mut at_bob) = (Tickets::new(), Tickets::new());
        let h = [5u8; 32];
        at_alice.keep_dial(*bob.get_id(), Ticket::derive(&[9; 64], &h, wall));
        at_bob.keep_accepted(alice.clone(), Ticket::derive(&[9; 64], &h, wall));
        (at_alice, at_bob)
    }

    #[test]
    fn a_ticket_resumes_once_and_chains_to_the_next() {
        let (alice, bob) = (peer("10.0.0.1:1"), peer("10.0.0.2:2"));
        let wall = 1_000_000;
        let (mut at_alice, mut at_bob) = ticketed(&alice, &bob, wall);
        for round in 0..3 {
            let ticket = at_alice.take_dial(bob.get_id(), wall).expect("a ticket");
            // Its flight is out: no other asks for one meanwhile.
            assert!(at_alice.take_dial(bob.get_id(), wall).is_none());
            assert!(!at_alice.ask_ticket(bob.get_id()));
            let (flight, keys, next) =
                dial_resumed(alice.get_id(), bob.get_id(), ticket, SUITE, wall);
            let (dialler, theirs) =
                accept_resumed(bob.get_id(), &flight, &mut at_bob, WINDOW, SUITE, wall)
                    .expect("resumed");
            assert_eq!(dialler.get_id(), alice.get_id());
            assert_eq!(keys.send, theirs.recv);
            assert_eq!(keys.recv, theirs.send);
            assert_eq!(at_bob.resumed(), round + 1);
            // Its replay finds no ticket.
            assert_eq!(
                accept_resumed(bob.get_id(), &flight, &mut at_bob, WINDOW, SUITE, wall).map(|_| ()),
                Err(AuthError::UnknownTicket)
            );
            at_alice.keep_dial(*bob.get_id(), next);
        }
        assert_eq!(at_bob.accepted.len(), 1);
    }

    #[test]
    fn a_resumed_flight_is_refused_typed_for_each_fault() {
        let (alice, bob) = (peer("10.0.0.1:1"), peer("10.0.0.2:2"));
        let wall = 1_000_000;
        let refusal = |flight: &AuthResumed, at: u64| {
            let (_, mut at_bob) = ticketed(&alice, &bob, wall);
            accept_resumed(bob.get_id(), flight, &mut at_bob, WINDOW, SUITE, at).map(|_| ())
        };
        let (mut at_alice, _) = ticketed(&alice, &bob, wall);
        let ticket = at_alice.take_dial(bob.get_id(), wall).unwrap();
        let (flight, _, _) = dial_resumed(alice.get_id(), bob.get_id(), ticket, SUITE, wall);
        assert_eq!(refusal(&flight, wall), Ok(()));
        let mut bad = flight.clone();
        bad.proof[0] ^= 1;
        assert_eq!(refusal(&bad, wall), Err(AuthError::BadProof));
        let mut bad = flight.clone();
        bad.ticket[0] ^= 1;
        assert_eq!(refusal(&bad, wall), Err(AuthError::UnknownTicket));
        let mut bad = flight.clone();
        bad.responder = alice.get_id().as_bytes().to_vec();
        assert_eq!(refusal(&bad, wall), Err(AuthError::UnexpectedPeer));
        assert_eq!(
            refusal(&flight, wall + WINDOW + 1),
            Err(AuthError::StaleFlight)
        );
        let mut bad = flight.clone();
        bad.timestamp_ms += 1;
        assert_eq!(refusal(&bad, wall), Err(AuthError::BadProof));
        let mut bad = flight.clone();
        bad.ticket.pop();
        assert_eq!(refusal(&bad, wall), Err(AuthError::Malformed("ticket id")));
        // A ticket older than its lifetime, its flight fresh.
        let late = wall + TICKET_LIFETIME_MS + 1;
        let (mut at_alice, _) = ticketed(&alice, &bob, wall);
        let Some(DialTicket::Ready(ticket)) = at_alice.dial.remove(bob.get_id()) else {
            panic!("a ticket kept");
        };
        let (flight, _, _) = dial_resumed(alice.get_id(), bob.get_id(), ticket, SUITE, late);
        assert_eq!(refusal(&flight, late), Err(AuthError::UnknownTicket));
    }

    #[test]
    fn a_dialler_uses_one_ticket_at_a_time_for_half_its_life_and_tickets_are_bounded() {
        let (alice, bob) = (peer("10.0.0.1:1"), peer("10.0.0.2:2"));
        let wall = 1_000_000;
        let (mut at_alice, _) = ticketed(&alice, &bob, wall);
        assert!(at_alice
            .take_dial(bob.get_id(), wall + DIAL_LIFETIME_MS + 1)
            .is_none());
        // Too old, forgotten: the next known-key flight asks for one, and
        // only that one until it ends.
        assert!(at_alice.ask_ticket(bob.get_id()));
        assert!(!at_alice.ask_ticket(bob.get_id()));
        at_alice.abandon_dial(bob.get_id());
        assert!(at_alice.ask_ticket(bob.get_id()));
        at_alice.keep_dial(*bob.get_id(), Ticket::derive(&[3; 64], &[4; 32], wall));
        at_alice.abandon_dial(bob.get_id());
        assert!(at_alice.take_dial(bob.get_id(), wall).is_some());
        let mut at_bob = Tickets::new();
        for n in 0..MAX_TICKETS + 2 {
            let dialler = peer(&format!("10.0.{}.{}:1", n / 256, n % 256));
            let ticket = Ticket::derive(&(n as u64).to_le_bytes(), &[1; 32], wall);
            at_bob.keep_accepted(dialler.clone(), ticket);
            // A dialler's newer ticket replaces its older.
            at_bob.keep_accepted(
                dialler,
                Ticket::derive(&(n as u64).to_le_bytes(), &[2; 32], wall),
            );
        }
        assert_eq!(at_bob.accepted.len(), MAX_TICKETS);
        assert_eq!(at_bob.by_dialler.len(), MAX_TICKETS);
    }
}
