//! The peer store: a [`KVStoreService`] whose key/values are the peers
//! themselves ([`PeerInfo`], keyed by [`PeerId`]). The node stores the peers
//! it meets (`StoreLocally`) and finds peers by id through other peers
//! (`Find`), which is how it discovers them. [`ClosestPeers`] is its
//! default route: the known peers closest to the id looked for.
//!
//! A peer received from another peer is rebuilt from its identity key (see
//! the serde form of [`PeerInfo`]), so a peer store never holds a peer whose
//! id does not match its key. Whether a found peer is trusted enough to be
//! connected to is the node's decision (peer management).
//!
//! [`PeerId`]: crate::identity::PeerId

mod connected;
mod route;
mod wire;

pub use connected::{ClosestConnected, ConnectedRoute, PeerRoute};
pub use route::ClosestPeers;

use crate::identity::PeerId;
use mydht_base::Peer;

use crate::identity::PeerInfo;
use crate::service::kvstore::{
    KVStoreCommand, KVStoreProtoMsg, KVStoreReply, KVStoreService, MemoryStore,
};

/// The peer store service, over the route `R` (which peers a find of an id
/// asks).
pub type PeerStoreService<R = ClosestPeers> =
    KVStoreService<PeerInfo, PeerInfo, MemoryStore<PeerInfo>, R>;

/// A command of the peer store.
pub type PeerStoreCommand = KVStoreCommand<PeerInfo, PeerInfo>;

/// What the peer store asks the node to do.
pub type PeerStoreReply = KVStoreReply<PeerInfo, PeerInfo>;

/// A message between the peer stores of two nodes.
pub type PeerStoreProtoMsg = KVStoreProtoMsg<PeerInfo, PeerInfo>;

/// The peers of `store` closest to `key` by XOR distance of ids, at most
/// `n`: how a peer store answers a `FindNear` (the node gives it to
/// [`KVStoreService::with_near`]).
pub fn closest_in_store(store: &MemoryStore<PeerInfo>, key: &PeerId, n: usize) -> Vec<PeerInfo> {
    // Each distance computed once; only the `n` nearest are sorted.
    let mut near: Vec<([u8; 32], &PeerInfo)> = store
        .values()
        .map(|p| (route::distance(p.get_id(), key), p))
        .collect();
    if n < near.len() {
        near.select_nth_unstable_by(n, |a, b| a.0.cmp(&b.0));
        near.truncate(n);
    }
    near.sort_unstable_by_key(|e| e.0);
    near.into_iter().map(|(_, p)| p.clone()).collect()
}
