//! 64 nodes over TCP with the Kademlia route: each connects to up to k
//! peers of each of its buckets; 500 values put from random nodes are all
//! found from other random nodes in each mode (`AProxy`, `Asynch`,
//! `AMix(1)`), in at most log2(64) + 1 hops on average; the whole test
//! under two minutes.

mod dht_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use dht_support::*;
use mydht::service::kvstore::{QueryConf, QueryMode};
use mydht_kvstore::dht::{Dht, DhtSettings, RouteChoice};
use mydht_kvstore::kademlia::{bucket_index, KademliaConf, SplitMix64};
use mydht_kvstore::Key;

const NODES: usize = 64;
const VALUES: usize = 500;
/// Peers per bucket, in the tables and in the topology.
const K: usize = 4;

#[test]
fn kademlia_64_nodes() {
    let start = Instant::now();
    let settings = DhtSettings {
        route: RouteChoice::Kademlia(KademliaConf {
            k: K,
            ..KademliaConf::default()
        }),
        query: QueryConf {
            mode: QueryMode::AProxy,
            hops: 8,
            forward: 1,
            nb_result: 1,
            timeout: Duration::from_secs(5),
        },
        ..DhtSettings::default()
    };
    let seeds: Vec<u8> = (0..NODES as u8).map(|i| 100 + i).collect();
    let ids: Vec<_> = seeds.iter().map(|s| *identity(*s).id()).collect();
    // Each node links to the K lowest-numbered nodes of each of its
    // buckets: every non-empty bucket has a peer, as Kademlia needs.
    let mut edges = BTreeSet::new();
    for i in 0..NODES {
        let mut per_bucket = std::collections::BTreeMap::<usize, usize>::new();
        for j in 0..NODES {
            let Some(b) = bucket_index(&ids[i], &ids[j]) else {
                continue;
            };
            let n = per_bucket.entry(b).or_default();
            if *n < K {
                *n += 1;
                edges.insert((i.min(j), i.max(j)));
            }
        }
    }
    let nodes: Vec<Dht> = seeds.iter().map(|s| node(*s, settings.clone())).collect();
    for &(a, b) in &edges {
        link(&nodes[a], &nodes[b]);
    }
    for (i, d) in nodes.iter().enumerate() {
        let degree = edges.iter().filter(|(a, b)| *a == i || *b == i).count();
        wait_peers(d, degree);
    }
    let connected = start.elapsed();

    let mut rng = SplitMix64::new(64);
    let mut pick = |n: usize| (rng.next_u64() % n as u64) as usize;
    let mut puts = Vec::with_capacity(VALUES);
    for v in 0..VALUES {
        let from = pick(NODES);
        let key = Key::hash_of(format!("kademlia value {v}").as_bytes());
        nodes[from]
            .put(key, format!("value {v}").into_bytes(), T)
            .unwrap();
        puts.push((from, key));
    }
    let stored = start.elapsed();
    // Every value found in each mode, from other random nodes each time.
    for mode in MODES {
        let query = QueryConf {
            mode,
            ..settings.query
        };
        let before = total(&nodes).finds_received;
        for (v, (from, key)) in puts.iter().enumerate() {
            let by = (from + 1 + pick(NODES - 1)) % NODES;
            let found = nodes[by]
                .get_with(*key, query, T)
                .unwrap_or_else(|e| panic!("{mode:?}, value {v}: {e}"));
            assert_eq!(found[0].value(), format!("value {v}").as_bytes());
            assert_eq!(found[0].publisher(), ids[*from]);
        }
        let hops = total(&nodes).finds_received - before;
        let mean = hops as f64 / VALUES as f64;
        eprintln!(
            "kademlia_64_nodes, {mode:?}: {} links, connected in {connected:?}, {VALUES} puts by \
             {stored:?}, gets by {:?}; mean hops {mean:.2}",
            edges.len(),
            start.elapsed()
        );
        assert!(
            mean <= (NODES as f64).log2() + 1.0,
            "{mode:?}: mean hops {mean}"
        );
    }
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "under two minutes"
    );
    stop_all(nodes);
}
