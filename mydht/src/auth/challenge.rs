//! Challenges: fresh random values each side must sign, and the bounded
//! cache that makes an initiator's challenge single use across connections.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::{AuthError, KnownPeers};
use crate::identity::{KeyBinding, PeerInfo};

/// Length of a challenge.
pub const CHALLENGE_LEN: usize = 32;

/// A fresh random challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Challenge(pub(crate) [u8; CHALLENGE_LEN]);

impl Challenge {
    /// 32 bytes from openssl's CSPRNG.
    pub fn random() -> Result<Self, AuthError> {
        let mut bytes = [0u8; CHALLENGE_LEN];
        openssl::rand::rand_bytes(&mut bytes)?;
        Ok(Challenge(bytes))
    }

    /// The challenge's bytes.
    pub fn as_bytes(&self) -> &[u8; CHALLENGE_LEN] {
        &self.0
    }
}

/// The initiator challenges a responder has seen, so a replayed ping is
/// refused even on a new connection. Owned by the main loop, shared by every
/// inbound handshake.
///
/// It also holds the node's memory of known-key handshakes (see
/// [`known`](super::known)): the known-key flights accepted within the
/// window (half its `ttl`: the node's `auth_timeout`), the peers whose keys
/// it verified, and the peer each dialled address led to, all bounded.
///
/// Bounded twice: an entry expires after `ttl`, and when `capacity` entries
/// are live the oldest is forgotten. Forgetting early lets a replayed ping
/// through this check, but never through the handshake: the replayer cannot
/// sign the responder's fresh challenge. The cache only saves the work.
pub struct ChallengeCache {
    seen: HashMap<[u8; CHALLENGE_LEN], Instant>,
    order: VecDeque<([u8; CHALLENGE_LEN], Instant)>,
    capacity: usize,
    ttl: Duration,
    known: KnownPeers,
}

impl std::fmt::Debug for ChallengeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChallengeCache")
            .field("challenges", &self.order.len())
            .field("known", &self.known.sizes())
            .finish()
    }
}

impl ChallengeCache {
    /// A cache of at most `capacity` (at least 1) challenges, each kept `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let capacity = capacity.max(1);
        ChallengeCache {
            // Grown as challenges come, never past `capacity`: reserved up
            // front, the default 4,096 held ~600 KiB in every idle node.
            seen: HashMap::new(),
            order: VecDeque::new(),
            capacity,
            ttl,
            known: KnownPeers::new(capacity, (ttl / 2).as_millis() as u64),
        }
    }

    /// The known-key memory.
    pub(crate) fn known(&mut self) -> &mut KnownPeers {
        &mut self.known
    }

    /// Checks `binding` for `peer`'s keys (one Ed25519 verification, once
    /// per peer and keys) and remembers them as verified, so this node may
    /// dial `peer` known-key. [`AuthError::BadBinding`] otherwise.
    pub fn verify_peer(&mut self, peer: &PeerInfo, binding: &KeyBinding) -> Result<(), AuthError> {
        use mydht_base::Peer;
        self.known
            .check_binding(peer.identity_key(), peer.tunnel_public_key(), binding)
            .map(|_| ())
    }

    /// How many resumed send-once flights this node accepted (see
    /// [`known::resume`](super::known::resume)).
    pub fn resumed_flights(&self) -> u64 {
        self.known.resumed_flights()
    }

    /// How many peers with verified keys, dialled addresses and recent
    /// known-key flights the node remembers.
    pub fn known_sizes(&self) -> (usize, usize, usize) {
        self.known.sizes()
    }

    /// Records `challenge` as used at `now`; [`AuthError::ReplayedPing`] if
    /// it is already recorded.
    pub fn use_once(&mut self, challenge: &Challenge, now: Instant) -> Result<(), AuthError> {
        self.expire(now);
        if self.seen.contains_key(&challenge.0) {
            return Err(AuthError::ReplayedPing);
        }
        if self.order.len() >= self.capacity {
            if let Some((oldest, _)) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.seen.insert(challenge.0, now);
        self.order.push_back((challenge.0, now));
        Ok(())
    }

    /// How many challenges are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when no challenge is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        while let Some((challenge, at)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.ttl {
                break;
            }
            self.seen.remove(challenge);
            self.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_is_single_use_until_it_expires() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(10);
        let mut cache = ChallengeCache::new(4, ttl);
        let c = Challenge::random().unwrap();
        cache.use_once(&c, t0).unwrap();
        assert_eq!(
            cache.use_once(&c, t0 + ttl / 2),
            Err(AuthError::ReplayedPing)
        );
        cache.use_once(&c, t0 + ttl).unwrap();
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity() {
        let t0 = Instant::now();
        let mut cache = ChallengeCache::new(3, Duration::from_secs(10));
        let first = Challenge::random().unwrap();
        cache.use_once(&first, t0).unwrap();
        for _ in 0..10 {
            cache.use_once(&Challenge::random().unwrap(), t0).unwrap();
            assert!(cache.len() <= 3);
        }
        // The oldest was forgotten to make room.
        cache.use_once(&first, t0).unwrap();
    }
}
