//! The peer store's route: which connected peers a peer store query goes
//! to. [`PeerRoute`] is what a configuration may replace
//! ([`MyDHTConf::peer_route`](crate::MyDHTConf::peer_route));
//! [`ClosestConnected`] is the default; [`ConnectedRoute`] is how the main
//! loop and the peer store share it.

use std::sync::{Arc, Mutex};

use mydht_base::{Peer, Route};

use super::route::distance;
use crate::identity::{PeerId, PeerInfo};

/// Chooses the peers a peer store query is sent to, among the peers
/// connected now: the main loop tells it who connects and disconnects.
pub trait PeerRoute: Send {
    /// `peer` is connected (authenticated and admitted).
    fn connected(&mut self, peer: &PeerInfo);
    /// The peer `id` is no longer connected.
    fn disconnected(&mut self, id: &PeerId);
    /// At most `nb` connected peers to send a query for `key` to, none of
    /// whose id is in `exclude`.
    fn route(&mut self, key: &PeerId, nb: usize, exclude: &[PeerId]) -> Vec<PeerInfo>;
}

/// The default [`PeerRoute`]: the connected peers closest to the key by
/// XOR distance of ids (Kademlia's metric over the peers at hand).
#[derive(Debug, Default)]
pub struct ClosestConnected {
    peers: Vec<PeerInfo>,
}

impl PeerRoute for ClosestConnected {
    fn connected(&mut self, peer: &PeerInfo) {
        if !self.peers.iter().any(|p| p.get_id() == peer.get_id()) {
            self.peers.push(peer.clone());
        }
    }

    fn disconnected(&mut self, id: &PeerId) {
        self.peers.retain(|p| p.get_id() != id);
    }

    fn route(&mut self, key: &PeerId, nb: usize, exclude: &[PeerId]) -> Vec<PeerInfo> {
        let mut found: Vec<PeerInfo> = self
            .peers
            .iter()
            .filter(|p| !exclude.contains(p.get_id()))
            .cloned()
            .collect();
        found.sort_by_key(|p| distance(p.get_id(), key));
        found.truncate(nb);
        found
    }
}

/// The configuration's [`PeerRoute`], shared by the main loop (which tells
/// it who is connected) and the peer store (which routes with it).
#[derive(Clone)]
pub struct ConnectedRoute {
    inner: Arc<Mutex<Box<dyn PeerRoute>>>,
}

impl ConnectedRoute {
    /// Shares `route` between a core and its peer store.
    pub fn new(route: Box<dyn PeerRoute>) -> Self {
        ConnectedRoute {
            inner: Arc::new(Mutex::new(route)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Box<dyn PeerRoute>> {
        // A route that panicked mid-update may be inconsistent, but it only
        // chooses among peers: routing goes on with what it holds.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn add(&self, peer: &PeerInfo) {
        self.lock().connected(peer);
    }

    pub(crate) fn remove(&self, id: &PeerId) {
        self.lock().disconnected(id);
    }
}

impl std::fmt::Debug for ConnectedRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectedRoute")
    }
}

impl Route<PeerInfo, PeerId> for ConnectedRoute {
    fn route(&mut self, key: &PeerId, nb: usize, exclude: &[PeerId]) -> Vec<PeerInfo> {
        self.lock().route(key, nb, exclude)
    }
}
