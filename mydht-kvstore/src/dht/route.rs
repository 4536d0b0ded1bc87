//! [`DhtRoute`]: which online peers a query goes to — the Kademlia table
//! fed by the node's peer events, or simply the connected peers closest to
//! the key by XOR distance.

use mydht::service::PeersView;
use mydht::{PeerId, PeerInfo};
use mydht_base::{Peer, Route};

use crate::kademlia::{Distance, KademliaConf, RoutingTable, Seen};
use crate::key::Key;

/// Which route a node uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteChoice {
    /// Every online peer is a candidate, closest to the key first: for
    /// small networks and tests.
    Connected,
    /// The k-buckets of a [`RoutingTable`], fed with the peers that come
    /// online and emptied of those that go offline.
    Kademlia(KademliaConf),
}

enum Inner {
    Connected,
    Kademlia(Box<RoutingTable<PeerInfo>>),
}

/// The route of a DHT node: only online peers, closest to the key first.
pub struct DhtRoute {
    inner: Inner,
    peers: PeersView,
}

impl DhtRoute {
    /// The route `choice` names for node `me`, reading the online peers in
    /// `peers`; `seed` draws the table's refresh ids.
    pub fn new(
        choice: RouteChoice,
        me: &PeerInfo,
        peers: PeersView,
        seed: u64,
        now_ms: u64,
    ) -> Self {
        let inner = match choice {
            RouteChoice::Connected => Inner::Connected,
            RouteChoice::Kademlia(conf) => Inner::Kademlia(Box::new(RoutingTable::new(
                *me.get_id(),
                conf,
                seed,
                now_ms,
            ))),
        };
        DhtRoute { inner, peers }
    }

    /// A peer came online.
    pub fn online(&mut self, peer: PeerInfo, now_ms: u64) {
        if let Inner::Kademlia(table) = &mut self.inner {
            if let Seen::Ping(oldest) = table.seen(peer, now_ms) {
                // The node's connections stand for pings: the oldest peer is
                // alive while it is online.
                let alive = self.peers.contains(oldest.get_id());
                table.ping_result(oldest.get_id(), alive, now_ms);
            }
        }
    }

    /// Peers a peer named in its answer to a lookup: contacts of the
    /// table where their bucket has room (not confirmed until heard from).
    pub fn learned(&mut self, peers: &[PeerInfo], now_ms: u64) {
        if let Inner::Kademlia(table) = &mut self.inner {
            for peer in peers {
                if !self.peers.contains(peer.get_id()) {
                    table.learned(peer.clone(), now_ms);
                }
            }
        }
    }

    /// A request to peer `id` went unanswered: a failure in the table (a
    /// contact never heard from leaves it at once).
    pub fn failed(&mut self, id: &PeerId, now_ms: u64) {
        if let Inner::Kademlia(table) = &mut self.inner {
            table.failed(id, now_ms);
        }
    }

    /// A peer went offline: out of the table (its newest candidate, if
    /// any, takes its place).
    pub fn offline(&mut self, id: &PeerId, now_ms: u64) {
        if let Inner::Kademlia(table) = &mut self.inner {
            for _ in 0..table.conf().max_failures {
                if table.failed(id, now_ms).is_some() || !table.contains(id) {
                    break;
                }
            }
        }
    }

    /// Number of peers the route knows.
    pub fn len(&self) -> usize {
        match &self.inner {
            Inner::Connected => self.peers.len(),
            Inner::Kademlia(table) => table.len(),
        }
    }

    /// True when the route knows no peer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `n` peers the route knows closest to `key` (online or not,
    /// contacts not yet heard from included), closest first, none of
    /// `exclude`: where an iterative lookup starts.
    pub fn known(&self, key: &Key, n: usize, exclude: &[PeerId]) -> Vec<PeerInfo> {
        match &self.inner {
            Inner::Kademlia(table) => table.closest(key, n, exclude),
            Inner::Connected => self.connected(key, n, exclude),
        }
    }

    /// What a node answers a `FindNode` with: the `n` closest peers it
    /// heard from, and apart at most `contacts` contacts closer to the
    /// key than those ([`RoutingTable::closest_to_tell`]; the connected
    /// route has no contacts).
    pub fn to_tell(
        &self,
        key: &Key,
        n: usize,
        contacts: usize,
        exclude: &[PeerId],
    ) -> (Vec<PeerInfo>, Vec<PeerInfo>) {
        match &self.inner {
            Inner::Kademlia(table) => table.closest_to_tell(key, n, contacts, exclude),
            Inner::Connected => (self.connected(key, n, exclude), Vec::new()),
        }
    }

    /// The Kademlia table, for a route that has one.
    pub fn table(&self) -> Option<&RoutingTable<PeerInfo>> {
        match &self.inner {
            Inner::Kademlia(table) => Some(table),
            Inner::Connected => None,
        }
    }

    /// The `n` online peers closest to `key`, closest first, none of
    /// `exclude` (in the table or not: a full bucket keeps its older
    /// peers, and the connections a node opened since are free to ask).
    pub fn connected(&self, key: &Key, n: usize, exclude: &[PeerId]) -> Vec<PeerInfo> {
        let mut ids: Vec<(Distance, PeerId)> = self
            .peers
            .ids()
            .into_iter()
            .filter(|id| !exclude.contains(id))
            .map(|id| (Distance::between(&id, key), id))
            .collect();
        if ids.len() > n {
            ids.select_nth_unstable_by_key(n, |(d, _)| *d);
            ids.truncate(n);
        }
        ids.sort_unstable_by_key(|(d, _)| *d);
        // A peer gone offline since its id was read is left out.
        ids.iter()
            .filter_map(|(_, id)| self.peers.get(id))
            .collect()
    }

    /// The ids to look up to refresh the Kademlia buckets idle at
    /// `now_ms` (none for the connected route).
    pub fn refresh_due(&mut self, now_ms: u64) -> Vec<[u8; 32]> {
        match &mut self.inner {
            Inner::Kademlia(table) => table.refresh_due(now_ms),
            Inner::Connected => Vec::new(),
        }
    }

    /// The ids to look up to refresh every Kademlia bucket from the
    /// closest peer's out (a node that joined; none for the connected
    /// route).
    pub fn refresh_all(&mut self, now_ms: u64) -> Vec<[u8; 32]> {
        match &mut self.inner {
            Inner::Kademlia(table) => table.refresh_all(now_ms),
            Inner::Connected => Vec::new(),
        }
    }

    /// Records a lookup of `target` at `now_ms` (its bucket needs no
    /// refresh for a while).
    pub fn looked_up(&mut self, target: &Key, now_ms: u64) {
        if let Inner::Kademlia(table) = &mut self.inner {
            table.looked_up(target, now_ms);
        }
    }

    /// How many of the peers the route knows (online or not, contacts
    /// included) are closer to `key` than `me`, counting up to `limit`:
    /// whether a peer that came online is among the closest to a key as
    /// far as this node can tell, not only among its connections.
    pub fn known_closer_than(&self, me: &PeerId, key: &Key, limit: usize) -> usize {
        let mine = Distance::between(me, key);
        match &self.inner {
            Inner::Kademlia(table) => table.count_closer(key, &mine, limit, &[], false),
            Inner::Connected => self
                .connected(key, limit, &[])
                .iter()
                .filter(|p| Distance::between(p.get_id(), key) < mine)
                .count(),
        }
    }

    /// True when no peer this node heard from, `newcomer` aside, is closer
    /// to `key` than `me`: this node is the holder that places the value
    /// of `key` on a newcomer among its closest (Kademlia's rule, so that
    /// the holders do not all send it the same value).
    pub fn first_holder(&self, me: &PeerId, key: &Key, newcomer: &PeerId) -> bool {
        let mine = Distance::between(me, key);
        match &self.inner {
            Inner::Kademlia(table) => table.count_closer(key, &mine, 1, &[*newcomer], true) == 0,
            Inner::Connected => self
                .connected(key, 1, &[*newcomer])
                .iter()
                .all(|p| Distance::between(p.get_id(), key) > mine),
        }
    }

    /// How many of the route's online peers are closer to `key` than
    /// `me`, counting up to `limit`.
    pub fn closer_than(&mut self, me: &PeerId, key: &Key, limit: usize) -> usize {
        let mine = Distance::between(me, key);
        self.route(key, limit, &[])
            .iter()
            .filter(|p| Distance::between(p.get_id(), key) < mine)
            .count()
    }
}

impl Route<PeerInfo, Key> for DhtRoute {
    fn route(&mut self, key: &Key, nb: usize, exclude: &[PeerId]) -> Vec<PeerInfo> {
        let mut peers = match &self.inner {
            Inner::Connected => self.peers.peers(),
            // Candidates beyond `nb`: some may have gone offline.
            Inner::Kademlia(table) => table.closest_confirmed(key, nb.saturating_mul(2), exclude),
        };
        peers.retain(|p| !exclude.contains(p.get_id()) && self.peers.contains(p.get_id()));
        peers.sort_by_cached_key(|p| Distance::between(p.get_id(), key));
        peers.truncate(nb);
        peers
    }
}
