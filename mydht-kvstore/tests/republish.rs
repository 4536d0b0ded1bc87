//! The republishing schedule alone (`Republisher`), the time given: values
//! due every interval while they live, at once when a holder goes or a
//! closer peer comes, forgotten when they expire, bounded.

mod common;

use common::identity;
use mydht::PeerId;
use mydht_kvstore::dht::Republisher;
use mydht_kvstore::kademlia::Distance;
use mydht_kvstore::Key;

const MIN: u64 = 60_000;

fn id(n: u8) -> PeerId {
    *identity(n).id()
}

#[test]
fn a_value_is_due_every_interval_until_it_expires() {
    let mut r = Republisher::new(10 * MIN, 16);
    let k = Key::hash_of(b"periodic");
    assert!(r.held(k, 35 * MIN, 0));
    assert!(r.due(10 * MIN - 1, 8).is_empty());
    assert_eq!(r.due(10 * MIN, 8), vec![k]);
    assert!(
        r.due(15 * MIN, 8).is_empty(),
        "rescheduled a whole interval on"
    );
    assert_eq!(r.due(20 * MIN, 8), vec![k]);
    assert_eq!(r.due(30 * MIN, 8), vec![k]);
    assert!(r.due(40 * MIN, 8).is_empty(), "expired at 35 min");
    assert!(r.is_empty(), "forgotten once expired");
}

#[test]
fn receiving_the_value_again_postpones_it() {
    let mut r = Republisher::new(10 * MIN, 16);
    let k = Key::hash_of(b"postponed");
    r.held(k, 60 * MIN, 0);
    // Another holder placed it here at 8 min: this node waits until 18.
    r.held(k, 60 * MIN, 8 * MIN);
    assert!(r.due(10 * MIN, 8).is_empty());
    assert_eq!(r.due(18 * MIN, 8), vec![k]);
}

#[test]
fn a_holder_going_offline_makes_its_values_due() {
    let mut r = Republisher::new(10 * MIN, 16);
    let (k1, k2) = (Key::hash_of(b"one"), Key::hash_of(b"two"));
    r.held(k1, 60 * MIN, 0);
    r.held(k2, 60 * MIN, 0);
    r.placed(&k1, vec![id(1), id(2)]);
    r.placed(&k2, vec![id(3)]);
    assert_eq!(r.offline(&id(2)), 1);
    assert_eq!(r.placed_on(&k1), &[id(1)]);
    assert_eq!(r.due(MIN, 8), vec![k1], "before its interval");
    assert!(r.due(2 * MIN, 8).is_empty(), "once");
}

#[test]
fn a_closer_peer_coming_online_makes_the_value_due_not_a_farther_one() {
    let mut r = Republisher::new(0, 16);
    let k = Key::hash_of(b"closer");
    // Peers 1..=20 by distance to the key.
    let mut by_distance: Vec<PeerId> = (1..=20).map(id).collect();
    by_distance.sort_by_key(|p| Distance::between(p, &k));
    r.held(k, 60 * MIN, 0);
    r.placed(&k, by_distance[5..8].to_vec());
    assert_eq!(
        r.online(&by_distance[19], 3),
        0,
        "farther than every holder"
    );
    assert_eq!(r.online(&by_distance[6], 3), 0, "already a holder");
    assert!(r.due(MIN, 8).is_empty());
    assert_eq!(r.online(&by_distance[0], 3), 1);
    assert_eq!(r.due(MIN, 8), vec![k]);
    // Fewer holders than replicas: any newcomer is wanted.
    r.placed(&k, vec![by_distance[0]]);
    assert_eq!(r.online(&by_distance[19], 3), 1);
    // An interval of 0: never due by time alone.
    r.due(MIN, 8);
    assert!(r.due(u64::MAX - 1, 8).is_empty());
}

#[test]
fn the_schedule_is_bounded_and_a_step_takes_at_most_max() {
    let mut r = Republisher::new(MIN, 4);
    let keys: Vec<Key> = (0..6u8).map(|i| Key::hash_of(&[i])).collect();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(r.held(*k, 60 * MIN, 0), i < 4, "value {i}");
    }
    assert_eq!(r.len(), 4);
    r.force_all();
    assert_eq!(r.due(0, 3).len(), 3);
    assert_eq!(r.due(0, 3).len(), 1, "the rest at the next step");
    r.forget(&keys[0]);
    assert!(r.held(keys[4], 60 * MIN, 0), "room again");
}
