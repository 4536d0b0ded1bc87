//! [`DhtSettings`]: the store, route, bounds and defaults of a DHT node.

use std::time::Duration;

use mydht::service::kvstore::{KVStoreLimits, QueryConf, QueryMode};

use crate::dht::lookup::LookupConf;
use crate::dht::route::RouteChoice;
use crate::dht::store::StoreChoice;
use crate::key::Key;
use crate::store::StoreConf;

/// Whether a key is well formed: `Err` with the reason when not.
pub type KeyCheck = fn(&Key) -> Result<(), &'static str>;

/// The default [`KeyCheck`]: every key but the all-zero one, which is
/// reserved (it is what an unset key looks like).
pub fn default_key_check(key: &Key) -> Result<(), &'static str> {
    if key.as_bytes().iter().all(|b| *b == 0) {
        Err("the zero key is reserved")
    } else {
        Ok(())
    }
}

/// How a node's `get` and `put` find the peers closest to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupMode {
    /// The query engine's recursive queries (`AProxy`, `Asynch`,
    /// `AMix(n)`), over the peers the node is connected to.
    Recursive,
    /// Kademlia's iterative lookups: the node asks the closest peers it
    /// knows for closer ones, α at a time, dialling those it is not
    /// connected to, until the k closest have answered; a put then places
    /// the value on the `replicas` closest. The query's mode, hops and
    /// fan-out are not used; its timeout and result count are.
    Iterative(LookupConf),
}

/// How a DHT node stores, routes and bounds its queries.
#[derive(Debug, Clone)]
pub struct DhtSettings {
    /// Where values are kept.
    pub store: StoreChoice,
    /// The store's bounds (value size, count).
    pub store_conf: StoreConf,
    /// Which peers queries go to.
    pub route: RouteChoice,
    /// The bounds every query, the node's or a peer's, is clamped to; the
    /// query cache and every per-query record of the node hold at most
    /// `limits.cache_capacity` entries.
    pub limits: KVStoreLimits,
    /// How `put` and `get` travel unless told otherwise.
    pub query: QueryConf,
    /// How long a value `put` stores lives.
    pub ttl: Duration,
    /// A node stores a peer's value only when fewer than this many of its
    /// peers are closer to the key than itself; otherwise it passes the
    /// value on towards them. With 1, a store forwarded one peer at a time
    /// (Kademlia route) ends at the node closest to the key, where finds
    /// converge; for `r` copies, store with `nb_result` and `replicas` `r`.
    pub replicas: usize,
    /// Which keys are well formed; a request for another is refused.
    pub key_check: KeyCheck,
    /// How often [`Dht::start`](crate::dht::Dht::start) ticks the node's
    /// engine, so that queries this node proxies or collects for others
    /// end at their deadline (zero: never; the caller's own queries are
    /// ticked by their [`DhtFuture`](crate::dht::DhtFuture) anyway).
    pub tick: Duration,
    /// Recursive queries or iterative lookups.
    pub lookup: LookupMode,
    /// How often each value held is placed again on the peers closest to
    /// its key (zero: only when those peers change). Values are also
    /// re-placed at the next tick when one of the peers holding them goes
    /// offline or a closer peer comes online.
    pub republish: Duration,
    /// Most values re-placed per tick (the others wait for the next).
    pub republish_batch: usize,
}

impl DhtSettings {
    /// Kademlia: the k-bucket route (k = 20, α = 3), iterative lookups,
    /// values placed on the `replicas` closest peers.
    pub fn kademlia(replicas: usize) -> Self {
        let conf = LookupConf::default();
        DhtSettings {
            route: RouteChoice::Kademlia(crate::kademlia::KademliaConf {
                k: conf.k,
                alpha: conf.alpha,
                ..Default::default()
            }),
            lookup: LookupMode::Iterative(conf),
            replicas,
            ..DhtSettings::default()
        }
    }
}

impl Default for DhtSettings {
    /// In memory, connected peers as the route, default bounds; queries
    /// proxied over up to 8 hops, 1 peer per hop, the first value found,
    /// 5 s; values live an hour; 1 replica; [`default_key_check`]; a tick
    /// every 100 ms; recursive queries; values republished every 20
    /// minutes, at most 64 a tick.
    fn default() -> Self {
        DhtSettings {
            store: StoreChoice::Memory,
            store_conf: StoreConf::default(),
            route: RouteChoice::Connected,
            limits: KVStoreLimits::default(),
            query: QueryConf {
                mode: QueryMode::AProxy,
                hops: 8,
                forward: 1,
                nb_result: 1,
                timeout: Duration::from_secs(5),
            },
            ttl: Duration::from_secs(3600),
            replicas: 1,
            key_check: default_key_check,
            tick: Duration::from_millis(100),
            lookup: LookupMode::Recursive,
            republish: Duration::from_secs(20 * 60),
            republish_batch: 64,
        }
    }
}
