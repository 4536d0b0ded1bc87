//! The republishing schedule alone (`Republisher`), the time given: values
//! due every interval while they live, at once when a holder goes (around
//! the key) or a peer among the closest comes (on it alone), forgotten
//! when they expire, bounded.

mod common;

use common::identity;
use mydht::PeerId;
use mydht_kvstore::dht::{Due, Republisher};
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
    assert_eq!(r.due(10 * MIN, 8), vec![(k, Due::Around)]);
    assert!(
        r.due(15 * MIN, 8).is_empty(),
        "rescheduled a whole interval on"
    );
    assert_eq!(r.due(20 * MIN, 8), vec![(k, Due::Around)]);
    assert_eq!(r.due(30 * MIN, 8), vec![(k, Due::Around)]);
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
    assert_eq!(r.due(18 * MIN, 8), vec![(k, Due::Around)]);
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
    assert_eq!(
        r.due(MIN, 8),
        vec![(k1, Due::Around)],
        "before its interval"
    );
    assert!(r.due(2 * MIN, 8).is_empty(), "once");
}

#[test]
fn a_peer_coming_online_among_the_closest_gets_the_value_alone() {
    let mut r = Republisher::new(0, 16);
    let (k1, k2) = (Key::hash_of(b"near"), Key::hash_of(b"far"));
    r.held(k1, 60 * MIN, 0);
    r.held(k2, 60 * MIN, 0);
    r.placed(&k1, vec![id(1), id(2)]);
    // Among the closest for k1 only (the node's route says so).
    assert_eq!(r.online(&id(3), |k| *k == k1), 1);
    assert_eq!(r.online(&id(1), |_| true), 1, "not for k1: it holds it");
    assert_eq!(
        r.due(MIN, 8),
        vec![(k1, Due::On(vec![id(3)])), (k2, Due::On(vec![id(1)]))]
    );
    assert!(r.due(MIN, 8).is_empty(), "once");
    r.placed_also(&k1, vec![id(3)]);
    assert_eq!(r.placed_on(&k1), &[id(1), id(2), id(3)]);
    assert_eq!(r.online(&id(3), |_| true), 1, "k2 only: k1 is on it");
    // A holder going meanwhile: around the key, newcomers included.
    r.offline(&id(2));
    assert_eq!(
        r.due(MIN, 8),
        vec![(k1, Due::Around), (k2, Due::On(vec![id(3)]))]
    );
    // Past 8 newcomers a value is placed around its key.
    for n in 10..19 {
        r.online(&id(n), |k| *k == k2);
    }
    assert_eq!(r.due(MIN, 8), vec![(k2, Due::Around)]);
    // An interval of 0: never due by time alone.
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
