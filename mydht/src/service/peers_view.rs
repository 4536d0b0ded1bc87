//! [`PeersView`]: the node's connected peers, as the services read them.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use mydht_base::Peer;

use crate::identity::{PeerId, PeerInfo};

/// The peers online now (both sides admitted each other), kept by the
/// node and read by its services: the same view the node handle's
/// `connected_peers` answers from. Clones share it; reading never waits
/// for the node for longer than one update.
///
/// ```
/// use mydht::service::PeersView;
///
/// let view = PeersView::default();
/// assert!(view.is_empty());
/// assert_eq!(view.ids(), vec![]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct PeersView {
    peers: Arc<RwLock<BTreeMap<PeerId, PeerInfo>>>,
}

impl PeersView {
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<PeerId, PeerInfo>> {
        // Every update is one insert or remove: a panic cannot leave it
        // half done.
        self.peers.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The ids of the peers online, in id order.
    pub fn ids(&self) -> Vec<PeerId> {
        self.read().keys().copied().collect()
    }

    /// The peers online, in id order.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.read().values().cloned().collect()
    }

    /// The peer `id`, if online.
    pub fn get(&self, id: &PeerId) -> Option<PeerInfo> {
        self.read().get(id).cloned()
    }

    /// True when `id` is online.
    pub fn contains(&self, id: &PeerId) -> bool {
        self.read().contains_key(id)
    }

    /// How many peers are online.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// True when no peer is online.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// The node's update: `peer` is online.
    pub(crate) fn insert(&self, peer: &PeerInfo) {
        let mut w = self.peers.write().unwrap_or_else(|e| e.into_inner());
        w.insert(*peer.get_id(), peer.clone());
    }

    /// The node's update: `id` is offline.
    pub(crate) fn remove(&self, id: &PeerId) {
        let mut w = self.peers.write().unwrap_or_else(|e| e.into_inner());
        w.remove(id);
    }
}
