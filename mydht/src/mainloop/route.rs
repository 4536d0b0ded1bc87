//! [`ConnectedRoute`]: the peer store's route, the peers connected now.

use std::sync::{Arc, Mutex};

use mydht_base::{Peer, Route};

use crate::identity::{PeerId, PeerInfo};

/// The connected peers, shared by the main loop (which updates them) and
/// the peer store (which routes queries to them), closest to a key first by
/// XOR distance of ids.
#[derive(Debug, Clone, Default)]
pub struct ConnectedRoute {
    peers: Arc<Mutex<Vec<PeerInfo>>>,
}

impl ConnectedRoute {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PeerInfo>> {
        // Every update is one push or one retain: a panic cannot leave the
        // list half changed.
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn add(&self, peer: PeerInfo) {
        let mut peers = self.lock();
        if !peers.iter().any(|p| p.get_id() == peer.get_id()) {
            peers.push(peer);
        }
    }

    pub(crate) fn remove(&self, id: &PeerId) {
        self.lock().retain(|p| p.get_id() != id);
    }
}

fn distance(a: &PeerId, b: &PeerId) -> [u8; 32] {
    let mut d = [0; 32];
    for (i, x) in d.iter_mut().enumerate() {
        *x = a.as_bytes()[i] ^ b.as_bytes()[i];
    }
    d
}

impl Route<PeerInfo, PeerId> for ConnectedRoute {
    fn route(&mut self, key: &PeerId, nb: usize, exclude: &[PeerId]) -> Vec<PeerInfo> {
        let mut found: Vec<PeerInfo> = self
            .lock()
            .iter()
            .filter(|p| !exclude.contains(p.get_id()))
            .cloned()
            .collect();
        found.sort_by_key(|p| distance(p.get_id(), key));
        found.truncate(nb);
        found
    }
}
