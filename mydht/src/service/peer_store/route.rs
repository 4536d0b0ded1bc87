//! [`ClosestPeers`]: the route of the peer store.

use mydht_base::{Peer, Route};

use crate::identity::{PeerId, PeerInfo};
use crate::service::kvstore::bounded::BoundedMap;

/// The peers a node knows (at most `capacity`, the oldest forgotten first),
/// routed to by XOR distance between their id and the key: Kademlia's
/// metric without its buckets. A find for a peer's id walks towards it; a
/// find for a random id reaches a random sample of peers.
///
/// ```
/// use mydht::service::peer_store::ClosestPeers;
/// use mydht::{PeerId, PeerInfo};
/// use mydht_base::{Peer, Route};
///
/// let mut route = ClosestPeers::new(16);
/// let peers: Vec<PeerInfo> = (0..4u8)
///     .map(|i| PeerInfo::new([i; 32], format!("mem:{i}"), [0; 32]).unwrap())
///     .collect();
/// for p in &peers {
///     route.add(p.clone());
/// }
/// let key = *peers[2].get_id();
/// let next = route.route(&key, 1, &[]);
/// assert_eq!(next, vec![peers[2].clone()]);
/// assert!(!route.route(&key, 4, &[key]).contains(&peers[2]));
/// ```
#[derive(Debug, Clone)]
pub struct ClosestPeers {
    peers: BoundedMap<PeerId, PeerInfo>,
}

impl ClosestPeers {
    /// A route that knows at most `capacity` peers (at least one).
    pub fn new(capacity: usize) -> Self {
        ClosestPeers {
            peers: BoundedMap::new(capacity),
        }
    }

    /// Learns a peer (or refreshes it, making it the youngest).
    pub fn add(&mut self, peer: PeerInfo) {
        self.peers.insert(*peer.get_id(), peer);
    }

    /// Forgets a peer (gone offline).
    pub fn remove(&mut self, id: &PeerId) -> Option<PeerInfo> {
        self.peers.remove(id)
    }

    /// Number of known peers.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// True when no peer is known.
    pub fn is_empty(&self) -> bool {
        self.peers.len() == 0
    }
}

/// XOR distance of two ids, compared as big-endian numbers.
pub(crate) fn distance(a: &PeerId, b: &PeerId) -> [u8; 32] {
    std::array::from_fn(|i| a.as_bytes()[i] ^ b.as_bytes()[i])
}

impl Route<PeerInfo, PeerId> for ClosestPeers {
    fn route(&mut self, key: &PeerId, nb: usize, exclude: &[PeerId]) -> Vec<PeerInfo> {
        let mut near: Vec<&PeerInfo> = self
            .peers
            .values()
            .filter(|p| !exclude.contains(p.get_id()))
            .collect();
        near.sort_unstable_by_key(|p| distance(p.get_id(), key));
        near.into_iter().take(nb).cloned().collect()
    }
}
