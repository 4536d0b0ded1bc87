//! Republishing and re-replication between live nodes over TCP, each step
//! driven explicitly (`Dht::republish`, the step the node's tick runs; the
//! nodes have no ticker of their own): a
//! value whose holder stopped is placed on the next closest peer; a peer
//! closer to a key than its holders gets the value when it joins, from the
//! holder closest to the key alone.

mod dht_support;

use std::time::Duration;

use dht_support::*;
use mydht::prelude::*;
use mydht::service::kvstore::QueryMode;
use mydht_kvstore::dht::{DhtError, DhtSettings};
use mydht_kvstore::kademlia::Distance;
use mydht_kvstore::Key;

/// The key named `name`, and the seeds `seeds` sorted by the distance of
/// their nodes to it, closest first.
fn by_distance<const N: usize>(name: &str, mut seeds: [u8; N]) -> (Key, [u8; N]) {
    let key = Key::hash_of(name.as_bytes());
    seeds.sort_by_key(|n| Distance::between(identity(*n).id(), &key));
    (key, seeds)
}

/// No ticker: the republishing steps are the test's alone.
fn untimed() -> DhtSettings {
    DhtSettings {
        tick: Duration::ZERO,
        ..DhtSettings::default()
    }
}

/// One hop from the asking node: only its peers' stores are looked in.
fn one_hop() -> mydht::service::kvstore::QueryConf {
    query(QueryMode::AProxy, 1, 1, 1, Duration::from_millis(1500))
}

/// A puts a value that goes to B, its peer closest to the key; C is A's
/// other peer, D knows only C (B, C, A, D by distance to the key). B
/// stops: A's next republishing step places the value on C, where D now
/// finds it.
#[test]
fn a_stopped_holder_is_replaced_at_the_next_republish() {
    let (key, [b, c, a, d]) = by_distance("replaced", [1, 2, 3, 4]);
    let [a, b, c, d] = [a, b, c, d].map(|n| node(n, untimed()));
    link(&a, &b);
    link(&a, &c);
    link(&d, &c);
    wait_peers(&a, 2);
    wait_peers(&c, 2);
    assert_eq!(a.put(key, b"kept".to_vec(), T).unwrap(), 1);
    assert_eq!(
        b.get_with(key, walk(QueryMode::AProxy, 0), T).unwrap()[0].value(),
        b"kept"
    );
    // Nothing is due yet: a step places nothing.
    assert_eq!(a.republish(false, T).unwrap(), (0, 0));
    assert!(matches!(
        d.get_with(key, one_hop(), T),
        Err(DhtError::NotFound)
    ));

    b.stop().unwrap();
    a.node().wait_peers(PeerCount::AtMost(1), T).unwrap();
    // B held it: the value is due, and goes to C, now the closest.
    assert_eq!(a.republish(false, T).unwrap(), (1, 1));
    let found = d.get_with(key, one_hop(), T).unwrap();
    assert_eq!(found[0].value(), b"kept");
    assert_eq!(found[0].publisher(), *a.local_peer().get_id());
    assert_eq!(c.stats(T).unwrap().placements_received, 1);
    stop_all(vec![a, c, d]);
}

/// A holds a value also placed on B; E, closer to the key than both (E, B,
/// A by distance), connects to both: B, the holder closest to the key,
/// places the value on E at its next step, and A, which knows B is closer,
/// does not (one copy sent, not one per holder). A forced step (`all`)
/// places it again on A's closest peer, E, which answers at once (it holds
/// that version).
#[test]
fn a_closer_peer_joining_gets_the_value_from_the_closest_holder() {
    let (key, [e, b, a]) = by_distance("joined", [5, 6, 7]);
    let [a, b, e] = [a, b, e].map(|n| node(n, untimed()));
    link(&a, &b);
    wait_peers(&a, 1);
    assert_eq!(a.put(key, b"moves".to_vec(), T).unwrap(), 1);
    assert!(matches!(
        e.get_with(key, walk(QueryMode::AProxy, 0), T),
        Err(DhtError::NotFound)
    ));

    link(&e, &a);
    link(&e, &b);
    wait_peers(&a, 2);
    wait_peers(&b, 2);
    assert_eq!(a.republish(false, T).unwrap(), (0, 0));
    assert_eq!(b.republish(false, T).unwrap(), (1, 1));
    let held = e.get_with(key, walk(QueryMode::AProxy, 0), T).unwrap();
    assert_eq!(held[0].value(), b"moves");
    // Placed on E already: nothing due until the interval passes.
    assert_eq!(b.republish(false, T).unwrap(), (0, 0));
    assert_eq!(a.republish(true, T).unwrap(), (1, 1));
    assert_eq!(e.stats(T).unwrap().placements_received, 2);
    assert_eq!(e.stats(T).unwrap().refused, 0);
    stop_all(vec![a, b, e]);
}
