//! The next handshakes' ephemeral X25519 keys, made while the loop has
//! nothing else to do: a connect then costs one public-key operation less
//! per side on its critical path. For the peers this node dialled last on
//! send-once connections, a key whose known-key exchange with the peer's
//! static key is made too (a tunnel relay dials one of a few peers per
//! hop): the next known-key send-once dial to such a peer makes no X25519
//! operation on its path.

use std::collections::VecDeque;

use curve25519_dalek::edwards::EdwardsPoint;

use crate::auth::{edwards_of, EphemeralKey, KnownPeers};
use crate::identity::{PeerId, PeerInfo};
use mydht_base::Peer;

/// Keys kept ready: a relay dials and accepts in bursts (a tunnel hop is
/// an accept then a dial), so one spare was often taken before the loop
/// was idle again.
const SPARE_KEYS: usize = 4;

/// Peers (the last dialled known-key on send-once connections) for which
/// a key with its exchange is kept ready, at most.
const PREPARED_PEERS: usize = 16;

/// At most [`SPARE_KEYS`] keys, each used by one handshake only, and at
/// most one key prepared for each of the last [`PREPARED_PEERS`] peers
/// dialled known-key on send-once connections.
pub(crate) struct SpareKey {
    keys: VecDeque<EphemeralKey>,
    /// Keys whose exchange is made, with the peer each is for.
    prepared: VecDeque<(PeerId, EphemeralKey)>,
    /// Peers dialled known-key (send-once) whose next key is not prepared
    /// yet, the latest last.
    wanted: VecDeque<PeerId>,
    /// The Edwards form of the static keys of the peers keys were prepared
    /// for last (at most [`PREPARED_PEERS`], the latest last): decoded
    /// once per peer key (a field square root, about 11 µs).
    points: VecDeque<([u8; 32], EdwardsPoint)>,
}

impl SpareKey {
    /// Spares with one key made (at node start, so that the first
    /// connection has one too); the others are made when the loop idles.
    pub(crate) fn new() -> Self {
        let mut spare = SpareKey {
            keys: VecDeque::with_capacity(SPARE_KEYS),
            prepared: VecDeque::new(),
            wanted: VecDeque::new(),
            points: VecDeque::new(),
        };
        spare.refill();
        spare
    }

    /// True while fewer than [`SPARE_KEYS`] keys are ready.
    pub(crate) fn wants_refill(&self) -> bool {
        self.keys.len() < SPARE_KEYS
    }

    /// True while there is idle work: a spare key or a prepared one to make.
    pub(crate) fn has_work(&self) -> bool {
        self.wants_refill() || !self.wanted.is_empty()
    }

    /// A key, for one handshake; `None` makes the handshake generate its
    /// own.
    pub(crate) fn take(&mut self) -> Option<EphemeralKey> {
        self.keys.pop_front()
    }

    /// The key prepared for a known-key send-once dial to `peer` (its
    /// exchange made with `peer`'s static key), if one is ready; asks for
    /// the next one either way.
    pub(crate) fn take_for(&mut self, peer: &PeerInfo) -> Option<EphemeralKey> {
        let id = peer.get_id();
        self.wanted.retain(|w| w != id);
        if self.wanted.len() >= PREPARED_PEERS {
            self.wanted.pop_front();
        }
        self.wanted.push_back(*id);
        let i = self.prepared.iter().position(|(p, _)| p == id)?;
        let (_, key) = self.prepared.remove(i)?;
        // A key prepared for a static key the peer no longer has is
        // dropped: the dial takes the handshake's spare key instead.
        Some(key).filter(|k| k.prepared_for() == Some(peer.tunnel_public_key()))
    }

    /// Prepares the key of one wanted peer (one key generation and one
    /// exchange, by curve25519-dalek: [`EphemeralKey::prepared`]; through
    /// openssl for a key on the curve's twist), if `memory` still holds
    /// its verified key. The loop's idle work after the spares.
    fn prepare_one(&mut self, memory: &mut KnownPeers) {
        let Some(id) = self.wanted.pop_front() else {
            return;
        };
        let Ok(peer_key) = memory.tunnel_pkey(&id) else {
            return;
        };
        let Ok(raw) = peer_key.raw_public_key() else {
            return;
        };
        let Ok(raw) = <[u8; 32]>::try_from(raw.as_slice()) else {
            return;
        };
        let made = match self.point_of(&raw) {
            Some(point) => EphemeralKey::prepared(&raw, &point),
            None => EphemeralKey::generate().and_then(|mut key| {
                key.prepare_for(&raw, &peer_key)?;
                Ok(key)
            }),
        };
        let Ok(key) = made else {
            return;
        };
        self.prepared.retain(|(p, _)| *p != id);
        if self.prepared.len() >= PREPARED_PEERS {
            self.prepared.pop_front();
        }
        self.prepared.push_back((id, key));
    }

    /// The Edwards form of the static key `key`, decoded once while it
    /// stays among the last [`PREPARED_PEERS`] used; `None` for a key on
    /// the curve's twist.
    fn point_of(&mut self, key: &[u8; 32]) -> Option<EdwardsPoint> {
        if let Some(i) = self.points.iter().position(|(k, _)| k == key) {
            let entry = self.points.remove(i)?;
            self.points.push_back(entry);
            return Some(entry.1);
        }
        let point = edwards_of(key)?;
        if self.points.len() >= PREPARED_PEERS {
            self.points.pop_front();
        }
        self.points.push_back((*key, point));
        Some(point)
    }

    /// One piece of idle work: a spare key if fewer than [`SPARE_KEYS`]
    /// are ready, else the prepared key of one wanted peer.
    pub(crate) fn idle(&mut self, memory: &mut KnownPeers) {
        if self.wants_refill() {
            self.refill();
        } else {
            self.prepare_one(memory);
        }
    }

    /// A key taken for a handshake that had one already: kept for the
    /// next one, if there is room.
    pub(crate) fn give_back(&mut self, key: EphemeralKey) {
        if self.wants_refill() {
            self.keys.push_front(key);
        }
    }

    /// Makes one key if fewer than [`SPARE_KEYS`] are ready: the loop's
    /// idle work stays one key operation long. A failure is left to the
    /// next handshake, which generates its key itself and reports the
    /// error.
    pub(crate) fn refill(&mut self) {
        if self.wants_refill() {
            if let Ok(key) = EphemeralKey::generate() {
                self.keys.push_back(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{known, wall_clock_ms, CipherSuite};
    use crate::identity::{Identity, LocalPeer};

    const SUITE: CipherSuite = CipherSuite::ChaCha20Poly1305;

    fn local(address: &str) -> LocalPeer {
        LocalPeer::new(Identity::generate().unwrap(), address.into()).unwrap()
    }

    /// `memory` knowing `peer`, as after a signed handshake.
    fn knowing(peer: &LocalPeer) -> KnownPeers {
        let mut memory = KnownPeers::new(16, 60_000);
        memory.proven(peer.info());
        memory
    }

    #[test]
    fn a_dialled_peer_gets_a_key_whose_exchange_idle_work_made_taken_once() {
        let (alice, bob) = (local("10.0.0.1:4000"), local("10.0.0.2:4000"));
        let mut memory = knowing(&bob);
        let mut spare = SpareKey::new();
        // The first dial to bob finds none ready, and asks for one.
        assert!(spare.take_for(bob.info()).is_none());
        // Idle work: the spares first, then bob's key.
        while spare.wants_refill() {
            assert!(spare.has_work());
            spare.idle(&mut memory);
        }
        assert!(spare.has_work());
        spare.idle(&mut memory);
        assert!(!spare.has_work());
        let key = spare.take_for(bob.info()).expect("a key prepared for bob");
        assert_eq!(key.prepared_for(), Some(bob.info().tunnel_public_key()));
        // Bob accepts the flight made with it: its exchange is bob's.
        let wall = wall_clock_ms();
        let (flight, _, _) = known::dial(
            &alice,
            bob.info(),
            &mut memory,
            Some(key),
            (true, false),
            SUITE,
            wall,
        )
        .expect("flight");
        let (dialler, _) = known::accept(&bob, &flight, &mut knowing(&alice), SUITE, wall)
            .expect("bob accepts the flight");
        assert_eq!(dialler.get_id(), alice.info().get_id());
        // Taken once: the next dial finds none until idle work again.
        assert!(spare.take_for(bob.info()).is_none());
        assert!(spare.has_work());
    }

    #[test]
    fn a_key_prepared_for_another_static_key_of_the_peer_is_not_used() {
        let bob = local("10.0.0.2:4000");
        let mut memory = knowing(&bob);
        let mut spare = SpareKey::new();
        spare.take_for(bob.info());
        while spare.has_work() {
            spare.idle(&mut memory);
        }
        // The same identity with another static key.
        let other_key = *local("10.0.0.3:4000").info().tunnel_public_key();
        let moved = PeerInfo::new(
            *bob.info().identity_key(),
            "10.0.0.2:4000".into(),
            other_key,
        )
        .unwrap();
        assert!(spare.take_for(&moved).is_none());
        // Each peer has one prepared key at most, for the last dialled.
        assert!(spare.prepared.is_empty());
    }

    #[test]
    fn prepared_keys_and_wanted_peers_are_bounded() {
        let peers: Vec<LocalPeer> = (0..PREPARED_PEERS + 3)
            .map(|i| local(&format!("10.0.1.{i}:4000")))
            .collect();
        let mut memory = KnownPeers::new(16, 60_000);
        let mut spare = SpareKey::new();
        for p in &peers {
            memory.proven(p.info());
            spare.take_for(p.info());
            spare.take_for(p.info());
        }
        assert_eq!(spare.wanted.len(), PREPARED_PEERS);
        while spare.has_work() {
            spare.idle(&mut memory);
        }
        assert_eq!(spare.prepared.len(), PREPARED_PEERS);
        assert_eq!(spare.points.len(), PREPARED_PEERS);
        // The oldest dialled were forgotten; the latest are ready.
        assert!(spare.take_for(peers[0].info()).is_none());
        assert!(spare.take_for(peers[PREPARED_PEERS + 2].info()).is_some());
    }
}
