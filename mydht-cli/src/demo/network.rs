//! A local network of DHT nodes on loopback: who links to whom (each
//! node to a few peers of each of its Kademlia buckets), started and
//! linked step by step.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use mydht::service::kvstore::{QueryConf, QueryMode};
use mydht::{Identity, NodeConstants, PeerCount, PeerId};
use mydht_base::Peer;
use mydht_kvstore::dht::{DhtSettings, RouteChoice};
use mydht_kvstore::kademlia::{bucket_index, KademliaConf};
use slog::Logger;

use crate::conf::{NodeSetup, ProfileConf, Running};
use crate::error::CliError;

/// Peers per bucket, in the routing tables and in the links.
pub const K: usize = 4;
/// How long one node may take to connect, or to see its links up.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a put or a get may take.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The links of a network of these ids: each node to the `K`
/// lowest-numbered nodes of each of its buckets (every non-empty bucket
/// then has a peer, which greedy Kademlia routing needs), as pairs
/// `(a, b)` with `a < b`.
pub fn links(ids: &[PeerId]) -> Vec<(usize, usize)> {
    let mut edges = BTreeSet::new();
    for (i, own) in ids.iter().enumerate() {
        let mut per_bucket = BTreeMap::<usize, usize>::new();
        for (j, other) in ids.iter().enumerate() {
            let Some(b) = bucket_index(own, other) else {
                continue;
            };
            let n = per_bucket.entry(b).or_default();
            if *n < K {
                *n += 1;
                edges.insert((i.min(j), i.max(j)));
            }
        }
    }
    edges.into_iter().collect()
}

/// The settings of a demo node: memory store, Kademlia route, queries
/// proxied one peer per hop.
pub fn settings() -> DhtSettings {
    DhtSettings {
        route: RouteChoice::Kademlia(KademliaConf {
            k: K,
            ..KademliaConf::default()
        }),
        query: QueryConf {
            mode: QueryMode::AProxy,
            hops: 8,
            forward: 1,
            nb_result: 1,
            timeout: QUERY_TIMEOUT,
        },
        ..DhtSettings::default()
    }
}

/// Starts a node of `identity` on loopback.
pub fn start<C: ProfileConf>(identity: Identity, log: &Logger) -> Result<Running<C>, CliError> {
    Running::start(NodeSetup {
        identity,
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        settings: settings(),
        constants: NodeConstants::default(),
        logger: log.clone(),
    })
    .map_err(|e| CliError::node("cannot start a node", &e))
}

/// Connects node `a` to node `b`.
pub fn link<C: ProfileConf>(a: &Running<C>, b: &Running<C>) -> Result<(), CliError> {
    let address: SocketAddr = b
        .dht
        .local_peer()
        .get_address()
        .parse()
        .map_err(|_| CliError::failed("a node announced a bad address"))?;
    a.dht
        .node()
        .connect(address, STEP_TIMEOUT)
        .map(|_| ())
        .map_err(|e| CliError::call(&format!("cannot link to {address}"), &e))
}

/// Whether `node` has at least `degree` authenticated peers within the
/// step timeout.
pub fn linked<C: ProfileConf>(node: &Running<C>, degree: usize) -> bool {
    node.dht
        .node()
        .wait_peers(PeerCount::AtLeast(degree), STEP_TIMEOUT)
        .is_ok()
}
