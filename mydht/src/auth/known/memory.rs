//! What a node remembers between known-key handshakes, every part bounded:
//! the peers whose keys it verified (with their static-static secret), the
//! peer each dialled address led to, and the flights it accepted recently
//! (replays).

use std::collections::hash_map::RandomState;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};

use mydht_base::Peer;

use super::resume::Tickets;
use crate::auth::crypto::{x25519, x25519_public};
use crate::auth::error::AuthError;
use crate::auth::transcript::EPHEMERAL_KEY_LEN;
use crate::identity::{KeyBinding, LocalPeer, PeerId, PeerInfo, IDENTITY_KEY_LEN};
use openssl::pkey::{PKey, Public};

/// Most peers whose keys are remembered, and most addresses.
const MAX_KNOWN: usize = 1024;
/// Most known-key dials to an address not confirmed yet.
const MAX_UNCONFIRMED: u8 = 4;
/// Dials naming a peer that go signed after that peer refused a known-key
/// flight of one (then known-key is tried again).
const SIGNED_AFTER_REFUSAL: u8 = 16;

/// A map of at most `capacity` entries that forgets the oldest inserted.
pub(super) struct Bounded<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    pub(super) fn new(capacity: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    pub(super) fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    pub(super) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    pub(super) fn insert(&mut self, key: K, value: V) {
        if self.map.insert(key.clone(), value).is_some() {
            return;
        }
        if self.order.len() >= self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.map.remove(&oldest);
            }
        }
        self.order.push_back(key);
    }

    pub(super) fn remove(&mut self, key: &K) -> Option<V> {
        let value = self.map.remove(key)?;
        self.order.retain(|k| k != key);
        Some(value)
    }

    pub(super) fn len(&self) -> usize {
        self.map.len()
    }
}

/// A peer's keys, verified: its tunnel key is bound to its identity key
/// (by a [`KeyBinding`] checked here, or by a signed handshake), and the
/// static-static X25519 secret with this node once computed.
struct Verified {
    identity_key: [u8; IDENTITY_KEY_LEN],
    tunnel_key: [u8; EPHEMERAL_KEY_LEN],
    static_secret: Option<[u8; 32]>,
    /// `tunnel_key` imported into openssl, once: each dial exchanges its
    /// fresh key with it.
    tunnel_pkey: Option<PKey<Public>>,
}

/// The node's memory of known-key handshakes (see the [module](super)).
pub(crate) struct KnownPeers {
    peers: Bounded<PeerId, Verified>,
    /// By a hash of the dialled address (this memory is not generic over
    /// the transport's address type).
    addresses: Bounded<u64, (PeerInfo, u8)>,
    /// Peers that refused a known-key flight of a dial naming them (a
    /// clock too far off theirs, say), with how many of the next dials
    /// naming them go signed.
    refused: Bounded<PeerId, u8>,
    hasher: RandomState,
    flights: SeenFlights,
    tickets: Tickets,
}

impl KnownPeers {
    /// A memory of at most `flights` recent flights, each refused again
    /// while its timestamp is within `window_ms` of the clock.
    pub(crate) fn new(flights: usize, window_ms: u64) -> Self {
        KnownPeers {
            peers: Bounded::new(MAX_KNOWN),
            addresses: Bounded::new(MAX_KNOWN),
            refused: Bounded::new(MAX_KNOWN),
            hasher: RandomState::new(),
            flights: SeenFlights::new(flights, window_ms),
            tickets: Tickets::new(),
        }
    }

    /// The window within which a flight's timestamp must fall.
    pub(crate) fn window_ms(&self) -> u64 {
        self.flights.window_ms
    }

    /// Records that `peer`'s tunnel key is bound to its identity key: a
    /// signed handshake proved it.
    pub(crate) fn proven(&mut self, peer: &PeerInfo) {
        let (identity_key, tunnel_key) = (*peer.identity_key(), *peer.tunnel_public_key());
        if self.is_verified(peer.get_id(), &identity_key, &tunnel_key) {
            return;
        }
        self.peers.insert(
            *peer.get_id(),
            Verified {
                identity_key,
                tunnel_key,
                static_secret: None,
                tunnel_pkey: None,
            },
        );
    }

    /// True when `id`'s keys are these, verified.
    pub(crate) fn is_verified(
        &self,
        id: &PeerId,
        identity_key: &[u8; IDENTITY_KEY_LEN],
        tunnel_key: &[u8; EPHEMERAL_KEY_LEN],
    ) -> bool {
        self.peers
            .get(id)
            .is_some_and(|v| &v.identity_key == identity_key && &v.tunnel_key == tunnel_key)
    }

    /// Checks `binding` for these keys, once per peer and keys: a known
    /// peer costs no Ed25519 verification again. [`AuthError::BadBinding`]
    /// when it does not verify.
    pub(crate) fn check_binding(
        &mut self,
        identity_key: &[u8; IDENTITY_KEY_LEN],
        tunnel_key: &[u8; EPHEMERAL_KEY_LEN],
        binding: &KeyBinding,
    ) -> Result<PeerId, AuthError> {
        let id = PeerId::of_key(identity_key);
        if self.is_verified(&id, identity_key, tunnel_key) {
            return Ok(id);
        }
        if !binding.verify(identity_key, tunnel_key) {
            return Err(AuthError::BadBinding);
        }
        self.peers.insert(
            id,
            Verified {
                identity_key: *identity_key,
                tunnel_key: *tunnel_key,
                static_secret: None,
                tunnel_pkey: None,
            },
        );
        Ok(id)
    }

    /// Whether `peer` may be dialled known-key: its keys verified already
    /// (a handshake with it, or its binding checked before), or its
    /// [`KeyBinding`] checked now (once: then remembered).
    /// [`AuthError::UnknownPeer`] without a binding,
    /// [`AuthError::BadBinding`] when its binding does not verify.
    pub(crate) fn check_peer(&mut self, peer: &PeerInfo) -> Result<(), AuthError> {
        let (identity_key, tunnel_key) = (peer.identity_key(), peer.tunnel_public_key());
        if self.is_verified(peer.get_id(), identity_key, tunnel_key) {
            return Ok(());
        }
        let binding = peer.key_binding().ok_or(AuthError::UnknownPeer)?;
        self.check_binding(identity_key, tunnel_key, binding)
            .map(|_| ())
    }

    /// X25519 of this node's tunnel key and verified peer `id`'s: computed
    /// once per peer. [`AuthError::UnknownPeer`] when `id` is not verified
    /// (or was forgotten).
    pub(crate) fn static_secret(
        &mut self,
        local: &LocalPeer,
        id: &PeerId,
    ) -> Result<[u8; 32], AuthError> {
        let verified = self.peers.get_mut(id).ok_or(AuthError::UnknownPeer)?;
        if let Some(secret) = verified.static_secret {
            return Ok(secret);
        }
        let secret = x25519(local.identity().tunnel_private_key(), &verified.tunnel_key)?;
        verified.static_secret = Some(secret);
        Ok(secret)
    }

    /// Verified peer `id`'s tunnel key as an openssl key, imported once
    /// per peer. [`AuthError::UnknownPeer`] when `id` is not verified.
    pub(crate) fn tunnel_pkey(&mut self, id: &PeerId) -> Result<PKey<Public>, AuthError> {
        let verified = self.peers.get_mut(id).ok_or(AuthError::UnknownPeer)?;
        if let Some(key) = &verified.tunnel_pkey {
            return Ok(key.clone());
        }
        let key = x25519_public(&verified.tunnel_key)?;
        verified.tunnel_pkey = Some(key.clone());
        Ok(key)
    }

    fn address_key<A: Hash>(&self, address: &A) -> u64 {
        self.hasher.hash_one(address)
    }

    /// A dial to `address` reached `peer`, authenticated: the next dial
    /// there may go known-key. Only for addresses this node dialled (a
    /// peer could announce another node's address).
    pub(crate) fn learn_address<A: Hash>(&mut self, address: &A, peer: &PeerInfo) {
        self.proven(peer);
        let key = self.address_key(address);
        self.addresses.insert(key, (peer.clone(), 0));
    }

    /// The peer expected at `address`, for a known-key dial there. Each
    /// such dial counts as unconfirmed until a known-key dial there is
    /// confirmed ([`confirm_address`](Self::confirm_address), when the
    /// peer's first frame comes). At the first one refused
    /// ([`forget_address`](Self::forget_address)) the address is
    /// forgotten: a peer that changed its keys, or left its address to
    /// another, costs a failed connection (or a few dialled at once), then
    /// the signed handshake. With [`MAX_UNCONFIRMED`] of them not answered
    /// yet, the dials there go signed until one is confirmed (a burst of
    /// dials to a busy peer) or refused.
    pub(crate) fn expect_at<A: Hash>(&mut self, address: &A) -> Option<PeerInfo> {
        let key = self.address_key(address);
        let (peer, unconfirmed) = self.addresses.get_mut(&key)?;
        if *unconfirmed >= MAX_UNCONFIRMED {
            return None;
        }
        *unconfirmed += 1;
        let peer = peer.clone();
        let verified =
            self.is_verified(peer.get_id(), peer.identity_key(), peer.tunnel_public_key());
        verified.then_some(peer)
    }

    /// A known-key dial to `address` that expected `peer` was confirmed
    /// (the peer's first frame came, sealed under the session keys): the
    /// dials there count as confirmed again. Only a refresh: an address
    /// forgotten since that dial (another dial there was refused), or that
    /// leads to another peer now, stays as it is. A confirmation read
    /// late, from a connection older than a refusal, never undoes it; only
    /// a new signed handshake there ([`learn_address`](Self::learn_address))
    /// teaches the address again.
    pub(crate) fn confirm_address<A: Hash>(&mut self, address: &A, peer: &PeerInfo) {
        let key = self.address_key(address);
        if let Some((known, unconfirmed)) = self.addresses.get_mut(&key) {
            if known.get_id() == peer.get_id() {
                *unconfirmed = 0;
            }
        }
    }

    /// Forgets the peer `address` led to: a known-key dial there was
    /// refused (another node listens there now, or the peer changed its
    /// keys), so the next dial there is signed.
    pub(crate) fn forget_address<A: Hash>(&mut self, address: &A) {
        let key = self.address_key(address);
        self.addresses.remove(&key);
    }

    /// Peer `id` refused a known-key flight of a dial that named it: the
    /// next [`SIGNED_AFTER_REFUSAL`] dials naming it go signed (the signed
    /// handshake needs no agreement of the two clocks), then known-key is
    /// tried again.
    pub(crate) fn refused_by(&mut self, id: &PeerId) {
        self.refused.insert(*id, SIGNED_AFTER_REFUSAL);
    }

    /// Whether a dial naming peer `id` goes signed, because the peer
    /// refused a known-key flight lately ([`refused_by`](Self::refused_by));
    /// counts the dial.
    pub(crate) fn dial_signed(&mut self, id: &PeerId) -> bool {
        let Some(left) = self.refused.get_mut(id) else {
            return false;
        };
        if *left == 0 {
            self.refused.remove(id);
            return false;
        }
        *left -= 1;
        true
    }

    /// Records a flight's ephemeral key, once: [`AuthError::ReplayedFlight`]
    /// if it is recorded already (or its timestamp is too old to tell).
    pub(crate) fn use_flight(
        &mut self,
        ephemeral: &[u8; EPHEMERAL_KEY_LEN],
        timestamp_ms: u64,
        wall_ms: u64,
    ) -> Result<(), AuthError> {
        self.flights.use_once(ephemeral, timestamp_ms, wall_ms)
    }

    /// The tickets of resumed send-once flights, this node's as dialler
    /// and as acceptor.
    pub(crate) fn tickets(&mut self) -> &mut Tickets {
        &mut self.tickets
    }

    /// How many resumed flights this node accepted.
    pub(crate) fn resumed_flights(&self) -> u64 {
        self.tickets.resumed()
    }

    /// How many peers, addresses and flights are remembered.
    pub(crate) fn sizes(&self) -> (usize, usize, usize) {
        (
            self.peers.len(),
            self.addresses.len(),
            self.flights.seen.len(),
        )
    }
}

/// Known-key flights accepted within the replay window, by ephemeral key.
/// An entry lives as long as its flight's timestamp would be accepted.
/// Past `capacity` live entries, the one with the oldest timestamp is
/// forgotten and every flight stamped no later than it is refused from
/// then on (the `floor`, [`AuthError::StaleFlight`]): its replay cannot
/// pass, and fresh flights (stamped now) still do. A flood of flights only
/// narrows the window for peers whose clocks run behind.
struct SeenFlights {
    seen: HashMap<[u8; EPHEMERAL_KEY_LEN], u64>,
    by_time: BTreeSet<(u64, [u8; EPHEMERAL_KEY_LEN])>,
    capacity: usize,
    window_ms: u64,
    floor: u64,
}

impl SeenFlights {
    fn new(capacity: usize, window_ms: u64) -> Self {
        SeenFlights {
            seen: HashMap::new(),
            by_time: BTreeSet::new(),
            capacity: capacity.max(1),
            window_ms,
            floor: 0,
        }
    }

    fn use_once(
        &mut self,
        ephemeral: &[u8; EPHEMERAL_KEY_LEN],
        timestamp_ms: u64,
        wall_ms: u64,
    ) -> Result<(), AuthError> {
        if timestamp_ms.abs_diff(wall_ms) > self.window_ms || timestamp_ms <= self.floor {
            return Err(AuthError::StaleFlight);
        }
        // Forget the flights whose timestamps fell out of the window: they
        // would be refused as stale now.
        let oldest = wall_ms.saturating_sub(self.window_ms);
        while let Some(&(at, key)) = self.by_time.first() {
            if at >= oldest {
                break;
            }
            self.by_time.pop_first();
            self.seen.remove(&key);
        }
        if self.seen.contains_key(ephemeral) {
            return Err(AuthError::ReplayedFlight);
        }
        if self.seen.len() >= self.capacity {
            if let Some((at, key)) = self.by_time.pop_first() {
                self.seen.remove(&key);
                self.floor = self.floor.max(at);
            }
            if timestamp_ms <= self.floor {
                return Err(AuthError::StaleFlight);
            }
        }
        self.seen.insert(*ephemeral, timestamp_ms);
        self.by_time.insert((timestamp_ms, *ephemeral));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn peer_at(address: &str) -> PeerInfo {
        let local = LocalPeer::new(Identity::generate().unwrap(), address.into()).unwrap();
        local.info().clone()
    }

    #[test]
    fn a_late_confirmation_never_undoes_a_refusal_at_an_address() {
        let mut memory = KnownPeers::new(4, 1000);
        let (bee, carol) = (peer_at("10.0.0.2:4000"), peer_at("10.0.0.3:4000"));
        let address = "10.0.0.2:4000";
        memory.learn_address(&address, &bee);
        assert_eq!(
            memory.expect_at(&address).map(|p| *p.get_id()),
            Some(*bee.get_id())
        );
        // Refused there, then an older dial's confirmation is read: the
        // address stays forgotten, the next dial there is signed.
        memory.forget_address(&address);
        memory.confirm_address(&address, &bee);
        assert!(memory.expect_at(&address).is_none());
        // A signed handshake there teaches it again.
        memory.learn_address(&address, &bee);
        assert!(memory.expect_at(&address).is_some());
        // Another peer's confirmation changes nothing there.
        memory.confirm_address(&address, &carol);
        assert_eq!(
            memory.expect_at(&address).map(|p| *p.get_id()),
            Some(*bee.get_id())
        );
    }

    #[test]
    fn a_confirmed_dial_lets_more_dials_go_known_key() {
        let mut memory = KnownPeers::new(4, 1000);
        let bee = peer_at("10.0.0.2:4000");
        let address = "10.0.0.2:4000";
        memory.learn_address(&address, &bee);
        for _ in 0..MAX_UNCONFIRMED {
            assert!(memory.expect_at(&address).is_some());
        }
        memory.confirm_address(&address, &bee);
        for _ in 0..MAX_UNCONFIRMED {
            assert!(memory.expect_at(&address).is_some());
        }
        // Unconfirmed up to the bound: signed dials, until one of the
        // known-key ones is confirmed.
        assert!(memory.expect_at(&address).is_none());
        assert!(memory.expect_at(&address).is_none());
        memory.confirm_address(&address, &bee);
        assert!(memory.expect_at(&address).is_some());
        // Or refused: then a confirmation read after it changes nothing.
        for _ in 1..MAX_UNCONFIRMED {
            assert!(memory.expect_at(&address).is_some());
        }
        memory.forget_address(&address);
        memory.confirm_address(&address, &bee);
        assert!(memory.expect_at(&address).is_none());
    }

    #[test]
    fn a_peer_that_refused_a_flight_is_dialled_signed_for_a_while() {
        let mut memory = KnownPeers::new(4, 1000);
        let (refusing, other) = (PeerId::of_key(&[1; 32]), PeerId::of_key(&[2; 32]));
        assert!(!memory.dial_signed(&refusing));
        memory.refused_by(&refusing);
        for _ in 0..SIGNED_AFTER_REFUSAL {
            assert!(memory.dial_signed(&refusing));
            assert!(!memory.dial_signed(&other));
        }
        // Then known-key again; a new refusal starts the count over.
        assert!(!memory.dial_signed(&refusing));
        assert!(!memory.dial_signed(&refusing));
        memory.refused_by(&refusing);
        assert!(memory.dial_signed(&refusing));
        memory.refused_by(&refusing);
        let signed = (0..2 * SIGNED_AFTER_REFUSAL)
            .filter(|_| memory.dial_signed(&refusing))
            .count();
        assert_eq!(signed, usize::from(SIGNED_AFTER_REFUSAL));
    }

    #[test]
    fn a_flight_is_single_use_within_its_window() {
        let mut seen = SeenFlights::new(2, 1000);
        let (a, b, c) = ([1; 32], [2; 32], [3; 32]);
        seen.use_once(&a, 10_000, 10_000).unwrap();
        assert_eq!(
            seen.use_once(&a, 10_000, 10_500),
            Err(AuthError::ReplayedFlight)
        );
        // Out of the window: stale, never accepted again.
        assert_eq!(
            seen.use_once(&a, 10_000, 11_001),
            Err(AuthError::StaleFlight)
        );
        assert_eq!(
            seen.use_once(&b, 13_000, 11_001),
            Err(AuthError::StaleFlight)
        );
        // Full of live flights: the oldest is forgotten, and every flight
        // stamped as early as it is refused from then on.
        seen.use_once(&b, 11_000, 11_001).unwrap();
        seen.use_once(&c, 11_100, 11_101).unwrap();
        seen.use_once(&[4; 32], 11_200, 11_201).unwrap();
        assert_eq!(seen.seen.len(), 2);
        assert_eq!(
            seen.use_once(&b, 11_000, 11_300),
            Err(AuthError::StaleFlight)
        );
        assert_eq!(
            seen.use_once(&[5; 32], 10_900, 11_300),
            Err(AuthError::StaleFlight)
        );
        assert_eq!(
            seen.use_once(&c, 11_100, 11_300),
            Err(AuthError::ReplayedFlight)
        );
        // Once they expire, room again.
        seen.use_once(&[6; 32], 12_500, 12_500).unwrap();
        assert_eq!(seen.seen.len(), 1);
    }

    #[test]
    fn bounded_maps_forget_their_oldest() {
        let mut map = Bounded::new(2);
        map.insert(1, 'a');
        map.insert(2, 'b');
        map.insert(1, 'c');
        map.insert(3, 'd');
        assert_eq!((map.get(&1), map.get(&2), map.len()), (None, Some(&'b'), 2));
        assert_eq!(map.remove(&2), Some('b'));
        map.insert(4, 'e');
        assert_eq!(map.order.len(), 2);
    }
}
