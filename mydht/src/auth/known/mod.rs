//! The known-key handshake: one message, for a dialler that already knows
//! the acceptor's keys. Its frames follow the message at once, with no
//! round trip before them, and the acceptor answers nothing before it
//! reads them.
//!
//! Each node has a static X25519 key, its tunnel key
//! ([`Identity::tunnel_key`](crate::Identity::tunnel_key)), bound to its
//! Ed25519 identity by a [`KeyBinding`](crate::identity::KeyBinding) (the
//! identity's signature over both public keys, made once). The dialler
//! `I` knows the acceptor `R`'s [`PeerInfo`] — identity
//! key and tunnel key `S_r`, verified: met in an earlier authenticated
//! connection, or its binding checked. It sends one [`AuthKnown`]:
//!
//! ```text
//! dialler I (static s_i, fresh e)                    acceptor R (static s_r)
//!   h0 = SHA-256(label, id_r, key_r, S_r, E, ts, suite, once)
//!   es = X25519(e, S_r)                  es = X25519(s_r, E)
//!   sealed = AEAD(HKDF(es, h0), ad h0;   opens it: I's identity key, S_i,
//!            key_i, S_i, binding_i, addr_i)     binding_i (checked once per
//!   h1 = SHA-256(h0, sealed)                    peer), address
//!   ss = X25519(s_i, S_r)                ss = X25519(s_r, S_i)  (cached per peer)
//!   keys, proof = HKDF(es ‖ ss, h1)      same; checks proof; E unseen, ts fresh
//!   flight { id_r, E, ts, suite, once, sealed, proof } ──► then session frames
//! ```
//!
//! `once` (the flight's `send_once`) says the dialler sends one message and
//! closes: the acceptor then writes no admission (nobody would read it),
//! and the dialler takes the acceptor's session end, sealed under the
//! session keys, as the proof that `R` holds `s_r`. A pooled dial's flight
//! says no: its dialler learns it from `R`'s admission.
//!
//! - Only the holder of `s_r` can read the sealed identity, the proof or
//!   the frames (they need `es`), so only `R` can answer: a dialler that
//!   expected another peer at the address gets nothing delivered.
//! - Only the holder of `s_i` can compute `ss`, so only `I` could make the
//!   proof; the binding ties `s_i` to `I`'s identity, so `R` knows who
//!   dialled. Both identities, both static keys, the ephemeral key, the
//!   time and the suite are in `h1`, under the proof.
//! - Replay: `R` refuses a flight whose timestamp is more than its window
//!   (the node's `auth_timeout`) from its clock
//!   ([`AuthError::StaleFlight`]), and one
//!   whose ephemeral key it accepted within the window
//!   ([`AuthError::ReplayedFlight`]),
//!   remembered in a bounded memory: when it is full of live flights, the
//!   oldest is forgotten and every flight stamped no later than it is
//!   refused as stale from then on, so its replay cannot pass either.
//!   Nodes' clocks must agree within the window.
//! - Costs: the dialler one X25519 key generation and one exchange, the
//!   acceptor one exchange; `ss` and the binding's Ed25519 check once per
//!   peer. No signature is made or checked per connection.
//! - What it gives up against the signed handshake: the session keys
//!   depend on `R`'s static key and `I`'s fresh one only, so whoever later
//!   steals `s_r` can read recorded connections to `R` (no forward secrecy
//!   for the acceptor's static key, as Noise IK's first message); and a
//!   thief of `s_r` can pass as anyone *to* `R` (key-compromise
//!   impersonation). The signed handshake
//!   stays for peers a node does not know, and the known-key one can be
//!   switched off (`NodeConstants::known_key`).
//!
//! Where the dialler gets `R`'s keys: from the peer its dial expects
//! (`Reply::ConnectTo`, `Reply::SendOnceTo`, a peer the peer store or
//! discovery found: a [`PeerInfo`] carrying `R`'s binding, which
//! [`PeerInfo`]'s wire form and the signed handshake pass on, checked once
//! per peer before it is trusted; a binding that does not verify is
//! [`AuthError::BadBinding`] and the dial goes signed), or else from the
//! peer the dialled address led to before. The dialler learns that `R`
//! holds `s_r` from `R`'s first frame (its admission or refusal, sealed
//! under the session keys), or, for a send-once flight, from `R`'s sealed
//! session end; a connection that ends, or times out, before it is the
//! flight's refusal ([`AuthError::KnownKeyRefused`]: a pooled dial's
//! `GlobalCommand::DialFailed`, a send-once one's
//! `GlobalCommand::SendOnceFailed`), and an address that led there is forgotten
//! (a peer the dial named is dialled signed the next few times it is named:
//! `KnownPeers::refused_by`).
//!
//! The next send-once connection between the same two peers, once this
//! one is confirmed, skips even that: it resumes from a ticket both sides
//! derived from this flight ([`resume`]), with no public-key operation.
//!
//! What the node remembers ([`ChallengeCache`](super::ChallengeCache)
//! holds it, one per node, every part bounded): the peers whose keys it
//! verified and their static-static secrets, the peer each dialled address
//! led to (so the second and later connections to an address go
//! known-key), and the flights it accepted within the window.

mod flight;
mod memory;
pub mod resume;

use serde::{Deserialize, Serialize};

use mydht_base::Peer;

use crate::auth::crypto::{check_exchange_key, x25519, EphemeralKey};
use crate::auth::error::AuthError;
use crate::auth::message::fixed;
use crate::auth::session_keys::SessionKeys;
use crate::auth::suite::CipherSuite;
use crate::auth::transcript::Role;
use crate::identity::{LocalPeer, PeerId, PeerInfo};
use flight::{derive, sealed_hash, Clear, SealedIdentity, MAX_SEALED_LEN, PROOF_LEN};

pub(crate) use memory::KnownPeers;
pub use resume::AuthResumed;
pub(crate) use resume::Ticket;

/// The known-key handshake's one message, dialler to acceptor (see the
/// [module](self)). Byte vectors on the wire; every length is checked on
/// receipt before use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthKnown {
    /// The id of the peer the dialler expects (32 bytes): any other
    /// refuses the flight at once.
    pub responder: Vec<u8>,
    /// The dialler's fresh X25519 key (32 bytes).
    pub ephemeral_key: Vec<u8>,
    /// The dialler's clock, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The session shadow's cipher suite: refused unless the acceptor's.
    pub suite: CipherSuite,
    /// The dialler sends one message and closes (a send-once connection):
    /// the acceptor writes it no admission, and its sealed session end
    /// confirms the flight instead. Under the proof (in `h0`), so it cannot
    /// be flipped.
    pub send_once: bool,
    /// The dialler of a send-once flight asks for a ticket: the acceptor
    /// keeps one for the dialler's next flight, resumed
    /// ([`resume`]). Under the proof. A dialler asks with one
    /// flight at a time per peer, so both sides keep the same ticket.
    #[serde(default)]
    pub ticket: bool,
    /// The dialler's identity, sealed for the acceptor.
    pub sealed: Vec<u8>,
    /// The dialler's proof over the whole flight (32 bytes).
    pub proof: Vec<u8>,
}

/// Dialler: the flight for `peer`, whose keys `memory` verified, this
/// side's session keys, and, if `ticket` (a send-once flight only), the
/// ticket of the next resumed flight to `peer` (see [`resume`]: to keep
/// once the flight is confirmed). `ephemeral` is made here if `None`;
/// `send_once` says the dialler sends one message and closes, `ticket`
/// that it asks for a ticket.
pub(crate) fn dial(
    local: &LocalPeer,
    peer: &PeerInfo,
    memory: &mut KnownPeers,
    ephemeral: Option<EphemeralKey>,
    (send_once, ticket): (bool, bool),
    suite: CipherSuite,
    wall_ms: u64,
) -> Result<(AuthKnown, SessionKeys, Option<Ticket>), AuthError> {
    let ticket = ticket && send_once;
    if !memory.is_verified(peer.get_id(), peer.identity_key(), peer.tunnel_public_key()) {
        return Err(AuthError::UnknownPeer);
    }
    if peer.get_id() == local.info().get_id() {
        return Err(AuthError::UnexpectedPeer);
    }
    let ephemeral = match ephemeral {
        Some(e) => e,
        None => EphemeralKey::generate()?,
    };
    let h0 = Clear {
        responder: peer,
        ephemeral_key: ephemeral.public(),
        timestamp_ms: wall_ms,
        suite,
        send_once,
        ticket,
    }
    .hash();
    let peer_key = memory.tunnel_pkey(peer.get_id())?;
    // Prepared at idle for this peer's key, if the key was made for it.
    let es = ephemeral.exchange_for(peer.tunnel_public_key(), &peer_key)?;
    let identity = local.identity();
    let sealed = SealedIdentity {
        identity_key: *identity.identity_key(),
        tunnel_key: *identity.tunnel_key(),
        binding: *identity.key_binding(),
        address: local.info().get_address().clone(),
    }
    .seal(&es, &h0)?;
    let h1 = sealed_hash(&h0, &sealed);
    let ss = memory.static_secret(local, peer.get_id())?;
    let ikm = Secrets::of(&es, &ss);
    let (keys, proof) = derive(&ikm.0, &h1, Role::Initiator, suite);
    let next = ticket.then(|| Ticket::derive(&ikm.0, &h1, wall_ms));
    let flight = AuthKnown {
        responder: peer.get_id().as_bytes().to_vec(),
        ephemeral_key: ephemeral.public().to_vec(),
        timestamp_ms: wall_ms,
        suite,
        send_once,
        ticket,
        sealed,
        proof: proof.to_vec(),
    };
    Ok((flight, keys, next))
}

/// Acceptor: checks `flight` (for this node, fresh, sealed and proven by
/// the holder of the keys it names, never seen) and gives the dialler and
/// this side's session keys. Cheap checks first; the flight is recorded
/// as seen only once proven, so garbage cannot fill the memory.
pub(crate) fn accept(
    local: &LocalPeer,
    flight: &AuthKnown,
    memory: &mut KnownPeers,
    suite: CipherSuite,
    wall_ms: u64,
) -> Result<(PeerInfo, SessionKeys), AuthError> {
    let responder: [u8; 32] = fixed(&flight.responder, "responder id")?;
    if &PeerId::from(responder) != local.info().get_id() {
        return Err(AuthError::UnexpectedPeer);
    }
    if flight.suite != suite {
        return Err(AuthError::SuiteMismatch {
            ours: suite,
            theirs: flight.suite,
        });
    }
    if flight.timestamp_ms.abs_diff(wall_ms) > memory.window_ms() {
        return Err(AuthError::StaleFlight);
    }
    let ephemeral = fixed(&flight.ephemeral_key, "ephemeral key")?;
    check_exchange_key(&ephemeral)?;
    let proof: [u8; PROOF_LEN] = fixed(&flight.proof, "proof")?;
    if flight.sealed.len() > MAX_SEALED_LEN {
        return Err(AuthError::Malformed("sealed identity"));
    }
    let h0 = Clear {
        responder: local.info(),
        ephemeral_key: &ephemeral,
        timestamp_ms: flight.timestamp_ms,
        suite,
        send_once: flight.send_once,
        ticket: flight.ticket,
    }
    .hash();
    let es = x25519(local.identity().tunnel_private_key(), &ephemeral)?;
    let dialler = SealedIdentity::open(&flight.sealed, &es, &h0)?;
    let id = memory.check_binding(&dialler.identity_key, &dialler.tunnel_key, &dialler.binding)?;
    if &id == local.info().get_id() {
        return Err(AuthError::UnexpectedPeer);
    }
    let ss = memory.static_secret(local, &id)?;
    let h1 = sealed_hash(&h0, &flight.sealed);
    let ikm = Secrets::of(&es, &ss);
    let (keys, expected) = derive(&ikm.0, &h1, Role::Responder, suite);
    if !openssl::memcmp::eq(&expected, &proof) {
        return Err(AuthError::BadProof);
    }
    memory.use_flight(&ephemeral, flight.timestamp_ms, wall_ms)?;
    let peer = PeerInfo::new(dialler.identity_key, dialler.address, dialler.tunnel_key)
        .map_err(|_| AuthError::Malformed("address"))?
        .with_binding(dialler.binding);
    if flight.send_once && flight.ticket {
        let ticket = Ticket::derive(&ikm.0, &h1, wall_ms);
        memory.tickets().keep_accepted(peer.clone(), ticket);
    }
    Ok((peer, keys))
}

/// A known-key flight's two secrets, `es ‖ ss`: what its keys, proof and
/// ticket derive from. Erased when dropped.
struct Secrets([u8; 64]);

impl Secrets {
    fn of(es: &[u8; 32], ss: &[u8; 32]) -> Self {
        let mut ikm = [0u8; 64];
        ikm[..32].copy_from_slice(es);
        ikm[32..].copy_from_slice(ss);
        Secrets(ikm)
    }
}

impl Drop for Secrets {
    fn drop(&mut self) {
        self.0.fill(0);
    }
}
