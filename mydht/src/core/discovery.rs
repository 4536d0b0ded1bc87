//! Discovery: while fewer peers than the pool size are connected, the core
//! asks the peer store for peers near a random id (a random sample of the
//! peers the connected peers know) and dials what comes back.

use std::time::Instant;

use mydht_base::Peer;

use super::routing::DISCOVERY_QUERY;
use super::NodeCore;
use crate::conf::{Address, MyDHTConf};
use crate::identity::{PeerId, PeerInfo};
use crate::service::kvstore::{QueryConf, QueryMode};
use crate::service::peer_store::PeerStoreCommand;

/// Most peers one discovery find asks for.
const MAX_DISCOVERED: u8 = 64;

impl<C: MyDHTConf> NodeCore<C> {
    /// Asks the peer store for peers near a random id, when below the pool
    /// size and connected to someone who can answer.
    pub(super) fn discover(&mut self) {
        let wanted = self.constants.pool_size;
        if wanted == 0 || self.peers.len() >= wanted {
            return;
        }
        self.find_near_random();
    }

    /// A discovery round a service asked for ([`Reply::FindPeers`]):
    /// now, whatever the pool size, and it may dial one peer past it.
    ///
    /// [`Reply::FindPeers`]: crate::Reply::FindPeers
    pub(super) fn find_peers(&mut self) {
        if !self.peers.is_empty() {
            // Bounded: one pending extra round per connected peer at most.
            self.extra_rounds = (self.extra_rounds + 1).min(self.peers.len() as u32);
            self.find_near_random();
        }
    }

    /// Asks the peer store for peers near a random id (none online to ask:
    /// nothing).
    fn find_near_random(&mut self) {
        if self.peers.is_empty() {
            return;
        }
        let conf = QueryConf {
            mode: QueryMode::AProxy,
            // The connected peers answer from their stores.
            hops: 1,
            forward: 2,
            // Ask for many: the first ones may all be connected already.
            nb_result: MAX_DISCOVERED,
            timeout: self.constants.refresh,
        };
        let near = self.random_id();
        self.tell_peer_store(PeerStoreCommand::FindNear(DISCOVERY_QUERY, near, conf));
    }

    /// Dials the peers a discovery find returned, while below the pool
    /// size.
    pub(super) fn on_discovered(&mut self, found: Vec<PeerInfo>, _now: Instant) {
        self.stats.discovery_finds += 1;
        // A round a service asked for dials one peer past the pool size.
        let limit = if self.extra_rounds > 0 {
            self.extra_rounds -= 1;
            self.constants.pool_size.max(self.peers.len() + 1)
        } else {
            self.constants.pool_size
        };
        for peer in found {
            if self.reached() >= limit {
                return;
            }
            if self.is_me(peer.get_id()) || self.peers.contains_key(peer.get_id()) {
                continue;
            }
            let Ok(address) = peer.get_address().parse::<Address<C>>() else {
                continue;
            };
            if self.dialled.contains_key(&address) || self.pooled_dials.contains_key(&address) {
                continue; // opening already
            }
            match self.dial_address(address, Some(peer)) {
                Ok(_) => self.stats.discovery_dials += 1,
                Err(e) => {
                    slog::debug!(self.logger, "discovered peer unreachable"; "error" => %e)
                }
            }
        }
    }

    /// Peers connected, plus connections still authenticating and dials:
    /// every connection and dial but the second online connections of a
    /// peer (`superseded`, rare and few).
    fn reached(&self) -> usize {
        let second: usize = self.superseded.values().map(Vec::len).sum();
        (self.conns.len() + self.dials.len()).saturating_sub(second)
    }

    /// A random peer id (splitmix64 over the core's seed): the same seed
    /// gives the same ids.
    fn random_id(&mut self) -> PeerId {
        let mut id = [0u8; 32];
        for chunk in id.chunks_mut(8) {
            self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.rng;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        PeerId::from(id)
    }
}
