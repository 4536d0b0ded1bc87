//! One iterative lookup alone (`Lookup`), over a simulated network of
//! routing tables answered in place: α requests in flight, convergence on
//! the k closest, values, failures and timeouts, bounds; connected peers
//! asked first by a lookup for a value and by a sampling one.

mod common;

use std::collections::BTreeMap;

use common::{identity, value, T0};
use mydht::{PeerId, PeerInfo};
use mydht_base::Peer;
use mydht_kvstore::dht::{Lookup, LookupConf};
use mydht_kvstore::kademlia::{Distance, KademliaConf, RoutingTable};
use mydht_kvstore::Key;

fn info(n: u8) -> PeerInfo {
    identity(n)
        .peer_info(format!("127.0.0.1:{}", 1000 + u16::from(n)))
        .unwrap()
}

/// 100 peers (seeds 1..=100), each knowing up to 4 peers per bucket.
fn network() -> BTreeMap<PeerId, RoutingTable<PeerInfo>> {
    let peers: Vec<PeerInfo> = (1..=100).map(info).collect();
    let conf = KademliaConf {
        k: 4,
        ..KademliaConf::default()
    };
    peers
        .iter()
        .map(|p| {
            let mut t = RoutingTable::new(*p.get_id(), conf, 1, 0);
            for q in &peers {
                t.seen(q.clone(), 0);
            }
            (*p.get_id(), t)
        })
        .collect()
}

fn conf(alpha: usize, k: usize) -> LookupConf {
    LookupConf {
        alpha,
        k,
        peer_timeout_ms: 1000,
        max_lookups: 8,
        value_first: alpha,
    }
}

#[test]
fn a_lookup_converges_on_the_k_closest_with_alpha_in_flight() {
    let net = network();
    let target = Key::hash_of(b"somewhere");
    let me = info(1);
    let seeds = net[me.get_id()].closest(&target, 1, &[]);
    let mut l = Lookup::new(target, *me.get_id(), 0, seeds, conf(3, 8), T0 + 10_000);
    let mut rounds = 0;
    while !l.is_done(T0) {
        let ask = l.next(T0);
        assert!(!ask.is_empty() && ask.len() <= 3, "{} asked", ask.len());
        assert!(l.next(T0).is_empty(), "no more than alpha in flight");
        for p in ask {
            let closer = net[p.get_id()].closest(&target, 8, &[]);
            assert!(l.answered(p.get_id(), closer, None));
        }
        rounds += 1;
        assert!(rounds < 50);
    }
    let mut all: Vec<PeerInfo> = (2..=100).map(info).collect();
    all.sort_by_key(|p| Distance::between(p.get_id(), &target));
    let want: Vec<PeerId> = all.iter().take(8).map(|p| *p.get_id()).collect();
    let got: Vec<PeerId> = l.closest_answered(8).iter().map(|p| *p.get_id()).collect();
    assert_eq!(got, want);
    assert!(l.asked() < 40, "asked {}", l.asked());
}

/// The peers a lookup of the closest to `target` ends with, from `me`,
/// each peer answering what `tell` says.
fn closest_found(
    net: &BTreeMap<PeerId, RoutingTable<PeerInfo>>,
    me: &PeerInfo,
    target: Key,
    tell: impl Fn(&RoutingTable<PeerInfo>) -> Vec<PeerInfo>,
) -> Vec<PeerId> {
    let seeds = net[me.get_id()].closest(&target, 8, &[]);
    let mut l = Lookup::new(target, *me.get_id(), 0, seeds, conf(3, 8), T0 + 10_000);
    let mut rounds = 0;
    while !l.is_done(T0) {
        for p in l.next(T0) {
            assert!(l.answered(p.get_id(), tell(&net[p.get_id()]), None));
        }
        rounds += 1;
        assert!(rounds < 100);
    }
    l.closest_answered(8).iter().map(|p| *p.get_id()).collect()
}

/// The 8 peers closest to a key know each other; every other peer knows
/// them only as contacts (named in answers, never heard from: a joining
/// node's bucket refreshes leave such contacts), and the asker not at
/// all. Answering only the peers heard from, a lookup of the key's
/// closest ends among the others, and a value put there is missed by the
/// lookups that do reach the closest (the `dht_live` bench, 20 replicas
/// on the nodes ranked 32–52 for a key); with the contacts closer than
/// the peers heard from in the answers, it ends on the closest.
#[test]
fn a_lookup_reaches_closest_peers_its_answerers_only_heard_of() {
    let target = Key::hash_of(b"behind contacts");
    let mut peers: Vec<PeerInfo> = (1..=100).map(info).collect();
    peers.sort_by_key(|p| Distance::between(p.get_id(), &target));
    let closest: Vec<PeerId> = peers[..8].iter().map(|p| *p.get_id()).collect();
    let me = peers[99].clone();
    let net: BTreeMap<PeerId, RoutingTable<PeerInfo>> = peers
        .iter()
        .map(|p| {
            let mut t = RoutingTable::new(*p.get_id(), KademliaConf::default(), 1, 0);
            let inside = closest.contains(p.get_id());
            for q in &peers {
                let near = closest.contains(q.get_id());
                if p.get_id() == me.get_id() && near {
                    continue;
                }
                if near && !inside {
                    t.learned(q.clone(), 0);
                }
            }
            for q in &peers {
                let near = closest.contains(q.get_id());
                if inside || !near {
                    t.seen(q.clone(), 0);
                }
            }
            (*p.get_id(), t)
        })
        .collect();
    // Only the peers heard from: the lookup never hears of the closest.
    let heard_only = closest_found(&net, &me, target, |t| {
        t.closest_to_tell(&target, 8, 0, &[]).0
    });
    assert!(heard_only.iter().all(|id| !closest.contains(id)));
    // With up to 3 contacts closer than those (as a node reads an answer:
    // the k closest of both): it ends on the closest.
    let told = closest_found(&net, &me, target, |t| {
        let (mut peers, contacts) = t.closest_to_tell(&target, 8, 3, &[]);
        assert!(contacts.len() <= 3);
        peers.extend(contacts);
        peers.sort_by_key(|p| Distance::between(p.get_id(), &target));
        peers.truncate(8);
        peers
    });
    assert_eq!(told, closest);
}

#[test]
fn a_value_ends_the_lookup_and_the_depth_is_kept() {
    let holder = identity(9);
    let target = Key::hash_of(b"valued");
    let v = value(&holder, "valued", b"x", T0, 60_000);
    let mut l = Lookup::new(
        target,
        *info(1).get_id(),
        1,
        vec![info(2)],
        conf(3, 4),
        T0 + 1000,
    );
    let ask = l.next(T0);
    assert_eq!(ask.len(), 1);
    l.answered(ask[0].get_id(), vec![info(3), info(4)], None);
    assert!(!l.is_done(T0));
    let ask = l.next(T0);
    assert_eq!(ask.len(), 2);
    // A value of another key is not taken.
    let other = value(&holder, "other", b"y", T0, 60_000);
    l.answered(ask[0].get_id(), vec![], Some(other));
    assert!(l.values().is_empty());
    l.answered(ask[1].get_id(), vec![], Some(v.clone()));
    assert!(l.is_done(T0));
    assert_eq!(l.values(), &[v]);
    assert_eq!(l.found_depth(), Some(2));
}

#[test]
fn failures_timeouts_and_unasked_answers() {
    let target = Key::hash_of(b"unreachable");
    let me = *info(1).get_id();
    let mut l = Lookup::new(target, me, 0, vec![info(2), info(3)], conf(1, 4), T0 + 5000);
    let first = l.next(T0);
    assert_eq!(first.len(), 1);
    // Nobody else answers for it, nor does an unasked peer count.
    let other = if first[0].get_id() == info(2).get_id() {
        info(3)
    } else {
        info(2)
    };
    assert!(!l.answered(other.get_id(), vec![info(5)], None));
    assert!(l.expire(T0 + 249).is_empty());
    assert!(l.next(T0 + 249).is_empty(), "still in flight");
    // Unanswered for a quarter of the timeout: stalled, it no longer holds
    // its place among the alpha in flight, but has not failed.
    assert!(l.expire(T0 + 250).is_empty());
    let second = l.next(T0 + 250);
    assert_eq!(second, vec![other.clone()], "the first stalled");
    assert!(l.next(T0 + 250).is_empty(), "the second in flight");
    assert_eq!(l.expire(T0 + 1000), vec![*first[0].get_id()], "timed out");
    l.failed(other.get_id());
    assert!(l.is_done(T0 + 1000), "nobody left");
    assert!(l.closest_answered(4).is_empty());
    // Its own id is never a candidate, and the deadline ends a lookup.
    let mut l = Lookup::new(target, me, 0, vec![info(1), info(2)], conf(3, 4), T0 + 10);
    assert_eq!(l.next(T0).len(), 1);
    assert!(l.is_done(T0 + 10));
}

#[test]
fn candidates_are_bounded_whatever_peers_answer() {
    let target = Key::hash_of(b"flooded");
    let mut l = Lookup::new(
        target,
        *info(1).get_id(),
        0,
        vec![info(2)],
        conf(1, 2),
        T0 + 1000,
    );
    let ask = l.next(T0);
    // A peer answers with far more than k peers: only k are read.
    let many: Vec<PeerInfo> = (3..=60).map(info).collect();
    l.answered(ask[0].get_id(), many, None);
    let mut asked = 1;
    while !l.is_done(T0) {
        for p in l.next(T0) {
            asked += 1;
            l.answered(p.get_id(), (61..=90).map(info).collect(), None);
        }
        assert!(asked < 100);
    }
    assert_eq!(l.closest_answered(2).len(), 2);
}

/// A lookup for a value asks the connected peers among the k closest
/// first and dials (asks an unconnected peer) only once nothing is in
/// flight; a lookup for the closest peers asks in order of distance.
#[test]
fn a_value_lookup_asks_connected_peers_first() {
    let target = Key::hash_of(b"connected first");
    let mut seeds: Vec<PeerInfo> = (2..=9).map(info).collect();
    seeds.sort_by_key(|p| Distance::between(p.get_id(), &target));
    // The 5th and 7th closest are connected.
    let connected = [*seeds[4].get_id(), *seeds[6].get_id()];
    let is_connected = |id: &PeerId| connected.contains(id);
    let me = *info(1).get_id();

    let mut l = Lookup::new(target, me, 1, seeds.clone(), conf(3, 8), T0 + 10_000);
    let ask: Vec<PeerId> = l
        .next_with(T0, is_connected)
        .iter()
        .map(|p| *p.get_id())
        .collect();
    assert_eq!(ask, connected.to_vec());
    assert!(
        l.next_with(T0, is_connected).is_empty(),
        "no dial while asked"
    );
    for id in &connected {
        assert!(l.answered(id, Vec::new(), None));
    }
    // Nothing in flight: the closest unconnected are dialled, α of them.
    let ask: Vec<PeerId> = l
        .next_with(T0, is_connected)
        .iter()
        .map(|p| *p.get_id())
        .collect();
    let closest: Vec<PeerId> = seeds[..3].iter().map(|p| *p.get_id()).collect();
    assert_eq!(ask, closest);

    let mut l = Lookup::new(target, me, 0, seeds.clone(), conf(3, 8), T0 + 10_000);
    let ask: Vec<PeerId> = l
        .next_with(T0, is_connected)
        .iter()
        .map(|p| *p.get_id())
        .collect();
    assert_eq!(ask, closest, "closest peers wanted: in order");
}

/// With `value_first` 1 (the default), a lookup for a value asks its
/// closest connected peer alone; α at once after an answer without the
/// value, a failure, or a request stalled for a quarter of the peer
/// timeout; an answer with the value ends it after one request.
#[test]
fn a_value_lookup_asks_one_connected_peer_first() {
    let target = Key::hash_of(b"one first");
    let mut seeds: Vec<PeerInfo> = (2..=9).map(info).collect();
    seeds.sort_by_key(|p| Distance::between(p.get_id(), &target));
    let connected: Vec<PeerId> = [2, 4, 5, 6, 7]
        .iter()
        .map(|&i| *seeds[i].get_id())
        .collect();
    let is_connected = |id: &PeerId| connected.contains(id);
    let me = *info(1).get_id();
    let one_first = LookupConf {
        value_first: 1,
        ..conf(3, 8)
    };
    assert_eq!(LookupConf::default().value_first, 1);
    let lookup = || Lookup::new(target, me, 1, seeds.clone(), one_first, T0 + 10_000);
    let ids = |ask: Vec<PeerInfo>| -> Vec<PeerId> { ask.iter().map(|p| *p.get_id()).collect() };
    let widened = connected[1..4].to_vec();

    // An answer without the value: α asked next.
    let mut l = lookup();
    assert_eq!(ids(l.next_with(T0, is_connected)), [connected[0]]);
    assert!(l.next_with(T0, is_connected).is_empty(), "one in flight");
    assert!(l.answered(&connected[0], Vec::new(), None));
    assert_eq!(ids(l.next_with(T0, is_connected)), widened);

    // A failure: α asked next.
    let mut l = lookup();
    assert_eq!(ids(l.next_with(T0, is_connected)), [connected[0]]);
    l.failed(&connected[0]);
    assert_eq!(ids(l.next_with(T0, is_connected)), widened);

    // Unanswered for a quarter of the peer timeout (250 ms): α more.
    let mut l = lookup();
    assert_eq!(ids(l.next_with(T0, is_connected)), [connected[0]]);
    assert!(l.next_with(T0 + 249, is_connected).is_empty());
    assert_eq!(ids(l.next_with(T0 + 250, is_connected)), widened);

    // The value from the first: done after one request.
    let holder = identity(9);
    let v = value(&holder, "one first", b"x", T0, 60_000);
    let mut l = lookup();
    assert_eq!(ids(l.next_with(T0, is_connected)), [connected[0]]);
    assert!(l.answered(&connected[0], Vec::new(), Some(v.clone())));
    assert!(l.is_done(T0));
    assert_eq!(l.values(), &[v]);
    assert_eq!(l.asked(), 1);
}

/// A sampling lookup (a refresh at a join) ends once α peers answered,
/// its connected peers asked first, whoever is closer.
#[test]
fn a_sampling_lookup_ends_after_alpha_answers() {
    let target = Key::hash_of(b"sampled");
    let mut seeds: Vec<PeerInfo> = (2..=9).map(info).collect();
    seeds.sort_by_key(|p| Distance::between(p.get_id(), &target));
    let connected: Vec<PeerId> = seeds[5..].iter().map(|p| *p.get_id()).collect();
    let is_connected = |id: &PeerId| connected.contains(id);
    let me = *info(1).get_id();
    let mut l = Lookup::new(target, me, 0, seeds, conf(3, 8), T0 + 10_000).sampling(3);
    let ask = l.next_with(T0, is_connected);
    let asked: Vec<PeerId> = ask.iter().map(|p| *p.get_id()).collect();
    assert_eq!(asked, connected);
    for (i, p) in ask.iter().enumerate() {
        assert!(!l.is_done(T0), "done after {i} answers");
        assert!(l.answered(p.get_id(), Vec::new(), None));
    }
    assert!(l.is_done(T0));
}
