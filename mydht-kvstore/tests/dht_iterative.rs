//! Iterative Kademlia lookups between live nodes over TCP: a node that
//! knows one peer finds a value held by a node it was never connected to,
//! dialling the peers it learns of; a put places the value on the peers
//! closest to the key wherever they are; a bootstrap fills the route.

mod dht_support;

use std::time::Duration;

use dht_support::*;
use mydht::prelude::*;
use mydht::service::kvstore::QueryMode;
use mydht_kvstore::dht::{Dht, DhtSettings};
use mydht_kvstore::kademlia::Distance;
use mydht_kvstore::Key;

fn settings(replicas: usize) -> DhtSettings {
    DhtSettings::kademlia(replicas)
}

/// Local only: a put kept by its node, a get of its store.
fn local() -> mydht::service::kvstore::QueryConf {
    query(QueryMode::AProxy, 0, 1, 1, Duration::from_secs(2))
}

fn connected(d: &Dht) -> Vec<PeerId> {
    d.node()
        .connected_peers(T)
        .unwrap()
        .iter()
        .map(|p| *p.get_id())
        .collect()
}

/// Q knows only B; B knows M; M knows H, which holds the value. Q's get
/// asks B, dials M, then H, and finds it three hops away; Q is then
/// connected to M and H.
#[test]
fn a_lookup_dials_its_way_to_a_value() {
    let [q, b, m, h] = [21, 22, 23, 24].map(|n| node(n, settings(1)));
    link(&q, &b);
    link(&b, &m);
    link(&m, &h);
    wait_peers(&b, 2);
    wait_peers(&m, 2);
    let key = Key::hash_of(b"far away");
    assert_eq!(h.put_with(key, b"found".to_vec(), local(), T).unwrap(), 1);
    assert_eq!(connected(&q), vec![*b.local_peer().get_id()]);

    let v = q.get(key, T).unwrap();
    assert_eq!(v.value(), b"found");
    assert_eq!(v.publisher(), *h.local_peer().get_id());
    let s = q.stats(T).unwrap();
    assert_eq!(
        (s.lookups, s.lookups_found, s.lookup_hops),
        (1, 1, 3),
        "{s:?}"
    );
    let now = connected(&q);
    for peer in [&m, &h] {
        assert!(now.contains(peer.local_peer().get_id()), "{now:?}");
    }
    stop_all(vec![q, b, m, h]);
}

/// Eight nodes, each linked to node 0 only and bootstrapped: a value put
/// from one lands on the 3 nodes closest to the key, and a get from
/// another finds it at the first hop.
#[test]
fn a_put_places_the_value_on_the_closest_nodes() {
    let seeds: Vec<u8> = (31..39).collect();
    let nodes: Vec<Dht> = seeds.iter().map(|n| node(*n, settings(3))).collect();
    for d in &nodes[1..] {
        link(d, &nodes[0]);
    }
    for d in &nodes[1..] {
        let answered = d.bootstrap(T).unwrap();
        assert!(answered >= 1, "{answered}");
    }
    let key = Key::hash_of(b"placed");
    let mut by_distance: Vec<usize> = (0..nodes.len()).collect();
    by_distance.sort_by_key(|i| Distance::between(nodes[*i].local_peer().get_id(), &key));
    // A putter that is not among the 3 closest: the 3 others take it.
    let putter = by_distance[5];
    assert_eq!(nodes[putter].put(key, b"v".to_vec(), T).unwrap(), 3);
    for (rank, i) in by_distance.iter().enumerate() {
        let held = nodes[*i].get_with(key, local(), T).is_ok();
        assert_eq!(held, rank < 3 || *i == putter, "node {i}, rank {rank}");
    }
    let asker = by_distance[7];
    assert_eq!(nodes[asker].get(key, T).unwrap().value(), b"v");
    let s = nodes[asker].stats(T).unwrap();
    assert_eq!(s.lookups_found, 1, "{s:?}");
    stop_all(nodes);
}
