//! The Kademlia routing table: closest peers, bucket bounds, eviction only
//! after a failed ping, refresh ids.

use mydht_base::{Peer, Route};
use mydht_kvstore::kademlia::{
    bucket_index, Distance, KademliaConf, RoutingTable, Seen, SplitMix64,
};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

/// A peer with any id.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TestPeer {
    id: [u8; 32],
    address: String,
    tunnel: [u8; 32],
}

impl Peer for TestPeer {
    type Id = [u8; 32];
    type Address = String;
    fn get_id(&self) -> &[u8; 32] {
        &self.id
    }
    fn get_address(&self) -> &String {
        &self.address
    }
    fn tunnel_public_key(&self) -> &[u8; 32] {
        &self.tunnel
    }
}

fn peer(id: [u8; 32]) -> TestPeer {
    TestPeer {
        id,
        address: format!("{:02x}{:02x}", id[0], id[31]),
        tunnel: [0; 32],
    }
}

/// The id `own` XOR a distance whose highest set bit is `bit`, its lowest
/// byte `low`: in bucket `bit` of `own`.
fn in_bucket(own: [u8; 32], bit: usize, low: u8) -> [u8; 32] {
    let mut d = [0u8; 32];
    d[31 - bit / 8] |= 1 << (bit % 8);
    d[31] |= low & if bit >= 8 { 0xff } else { (1u8 << bit) - 1 };
    std::array::from_fn(|i| own[i] ^ d[i])
}

fn all_peers(table: &RoutingTable<TestPeer>) -> Vec<TestPeer> {
    (0..256).flat_map(|i| table.bucket(i).cloned()).collect()
}

fn ids(peers: &[TestPeer]) -> Vec<[u8; 32]> {
    peers.iter().map(|p| p.id).collect()
}

fn brute_force(
    known: &[TestPeer],
    target: &[u8; 32],
    n: usize,
    exclude: &[[u8; 32]],
) -> Vec<[u8; 32]> {
    let mut v: Vec<[u8; 32]> = known
        .iter()
        .map(|p| p.id)
        .filter(|id| !exclude.contains(id))
        .collect();
    // The reference order: the XOR's bytes, lexicographically (the
    // big-endian number), not `Distance`'s own comparison.
    v.sort_by_key(|id| xor(id, target));
    v.truncate(n);
    v
}

fn xor(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

proptest! {
    // A fixed seed: the same cases on every run.
    #![proptest_config(ProptestConfig {
        cases: 64,
        rng_seed: RngSeed::Fixed(0x6b61_6465_6d6c_6961),
        ..ProptestConfig::default()
    })]

    /// `Distance` orders as its bytes do (the big-endian number), equal
    /// only for the same bytes; pairs that share a first half too.
    #[test]
    fn distance_orders_as_its_bytes(
        a in any::<[u8; 32]>(),
        b in any::<[u8; 32]>(),
        target in any::<[u8; 32]>(),
        same_high in any::<bool>(),
    ) {
        let mut b = b;
        if same_high {
            b[..16].copy_from_slice(&a[..16]);
        }
        let (da, db) = (Distance::between(&a, &target), Distance::between(&b, &target));
        prop_assert_eq!(da.cmp(&db), xor(&a, &target).cmp(&xor(&b, &target)));
        prop_assert_eq!(da.partial_cmp(&db), Some(da.cmp(&db)));
        prop_assert_eq!(da.as_bytes(), &xor(&a, &target));
    }

    /// With room for everyone, `closest` is the brute-force sort of every
    /// peer inserted.
    #[test]
    fn closest_equals_brute_force(
        own in any::<[u8; 32]>(),
        known in proptest::collection::btree_set(any::<[u8; 32]>(), 0..200),
        target in any::<[u8; 32]>(),
        n in 0usize..40,
        nb_excluded in 0usize..5,
    ) {
        let conf = KademliaConf { k: 256, ..KademliaConf::default() };
        let mut table = RoutingTable::new(own, conf, 1, 0);
        let known: Vec<TestPeer> = known.into_iter().filter(|id| *id != own).map(peer).collect();
        for p in &known {
            prop_assert_eq!(table.seen(p.clone(), 1), Seen::Added);
        }
        prop_assert_eq!(table.len(), known.len());
        let exclude: Vec<[u8; 32]> = known.iter().take(nb_excluded).map(|p| p.id).collect();
        let got = ids(&table.closest(&target, n, &exclude));
        prop_assert_eq!(&got, &brute_force(&known, &target, n, &exclude));
        // The Route is the same answer.
        let routed = ids(&Route::<TestPeer, [u8; 32]>::route(&mut table, &target, n, &exclude));
        prop_assert_eq!(routed, got);
    }

    /// With full buckets, `closest` is the brute-force sort of the peers
    /// the table kept.
    #[test]
    fn closest_equals_brute_force_of_kept_peers(
        own in any::<[u8; 32]>(),
        known in proptest::collection::vec(any::<[u8; 32]>(), 0..300),
        target in any::<[u8; 32]>(),
        n in 0usize..30,
    ) {
        let conf = KademliaConf { k: 4, ..KademliaConf::default() };
        let mut table = RoutingTable::new(own, conf, 1, 0);
        for id in known {
            table.seen(peer(id), 1);
        }
        let kept = all_peers(&table);
        prop_assert_eq!(ids(&table.closest(&target, n, &[])), brute_force(&kept, &target, n, &[]));
    }

    /// Whatever happens to it, no bucket holds more than k peers or more
    /// than its share of candidates, every peer is in its own bucket, and
    /// no peer is there twice.
    #[test]
    fn buckets_never_exceed_k(
        own in any::<[u8; 32]>(),
        ops in proptest::collection::vec((0u8..4, 0usize..3, 0u8..8, any::<bool>()), 0..400),
    ) {
        let conf = KademliaConf { k: 3, replacements: 2, max_failures: 2, ..KademliaConf::default() };
        let mut table = RoutingTable::new(own, conf, 9, 0);
        for (now, (op, bucket, low, alive)) in ops.into_iter().enumerate() {
            let now = now as u64 * 1_000;
            // Three crowded buckets of up to 8 ids each.
            let id = in_bucket(own, 253 + bucket, low);
            match op {
                0 | 1 => {
                    table.seen(peer(id), now);
                }
                2 => {
                    table.ping_result(&id, alive, now);
                }
                _ => {
                    table.failed(&id, now);
                    table.timeouts(now);
                }
            }
            let mut seen_ids = Vec::new();
            for i in 0..256 {
                let bucket: Vec<&TestPeer> = table.bucket(i).collect();
                prop_assert!(bucket.len() <= 3, "bucket {} holds {}", i, bucket.len());
                prop_assert!(table.replacements(i).count() <= 2);
                for p in bucket {
                    prop_assert_eq!(bucket_index(&own, &p.id), Some(i));
                    prop_assert!(!seen_ids.contains(&p.id));
                    seen_ids.push(p.id);
                }
            }
        }
    }

    /// Every refresh id falls in the range of its bucket.
    #[test]
    fn refresh_ids_fall_in_their_bucket(own in any::<[u8; 32]>(), seed in any::<u64>(), bit in 0usize..256) {
        let mut table: RoutingTable<TestPeer> = RoutingTable::new(own, KademliaConf::default(), seed, 0);
        let id = table.random_id_in(bit);
        prop_assert_eq!(bucket_index(&own, &id), Some(bit));
    }
}

#[test]
fn eviction_only_after_a_failed_ping() {
    let own = [0u8; 32];
    let conf = KademliaConf {
        k: 2,
        ..KademliaConf::default()
    };
    let mut table = RoutingTable::new(own, conf, 3, 0);
    let (a, b, c, d) = (
        peer(in_bucket(own, 200, 1)),
        peer(in_bucket(own, 200, 2)),
        peer(in_bucket(own, 200, 3)),
        peer(in_bucket(own, 200, 4)),
    );
    assert_eq!(table.seen(peer(own), 0), Seen::Own);
    assert_eq!(table.seen(a.clone(), 1), Seen::Added);
    assert_eq!(table.seen(b.clone(), 2), Seen::Added);
    // Full: c waits, the least recently seen (a) is to be pinged.
    assert_eq!(table.seen(c.clone(), 3), Seen::Ping(a.clone()));
    assert_eq!(table.seen(d.clone(), 4), Seen::Queued);
    assert_eq!(
        ids(&table.bucket(200).cloned().collect::<Vec<_>>()),
        ids(&[a.clone(), b.clone()])
    );
    assert_eq!(
        ids(&table.replacements(200).cloned().collect::<Vec<_>>()),
        ids(&[c.clone(), d.clone()])
    );
    // a answers: it stays, now the most recently seen; nobody is evicted.
    assert_eq!(table.ping_result(&a.id, true, 5), None);
    assert_eq!(
        ids(&table.bucket(200).cloned().collect::<Vec<_>>()),
        ids(&[b.clone(), a.clone()])
    );
    // A dead answer for a peer nobody pinged evicts nothing.
    assert_eq!(table.ping_result(&b.id, false, 6), None);
    assert!(table.contains(&b.id));
    // The next newcomer: b is the oldest now, and its ping fails.
    let e = peer(in_bucket(own, 200, 5));
    assert_eq!(table.seen(e.clone(), 7), Seen::Ping(b.clone()));
    assert_eq!(table.ping_result(&b.id, false, 8), Some(b.clone()));
    // The newest candidate (e) takes b's place.
    assert_eq!(
        ids(&table.bucket(200).cloned().collect::<Vec<_>>()),
        ids(&[a.clone(), e.clone()])
    );
    assert!(!table.contains(&b.id));
    assert_eq!(table.len(), 2);
}

#[test]
fn a_pinged_peer_heard_from_stays() {
    let own = [0u8; 32];
    let conf = KademliaConf {
        k: 1,
        ..KademliaConf::default()
    };
    let mut table = RoutingTable::new(own, conf, 3, 0);
    let (a, b) = (peer(in_bucket(own, 9, 1)), peer(in_bucket(own, 9, 2)));
    table.seen(a.clone(), 1);
    assert_eq!(table.seen(b.clone(), 2), Seen::Ping(a.clone()));
    // a sends a message before the ping's answer: it is alive.
    assert_eq!(table.seen(a.clone(), 3), Seen::Refreshed);
    // The ping is no longer pending: its timeout evicts nobody.
    assert!(table.timeouts(1_000_000).is_empty());
    assert!(table.contains(&a.id));
}

#[test]
fn unanswered_pings_time_out() {
    let own = [0u8; 32];
    let conf = KademliaConf {
        k: 1,
        ping_timeout_ms: 100,
        ..KademliaConf::default()
    };
    let mut table = RoutingTable::new(own, conf, 3, 0);
    let (a, b) = (peer(in_bucket(own, 9, 1)), peer(in_bucket(own, 9, 2)));
    table.seen(a.clone(), 0);
    assert_eq!(table.seen(b.clone(), 10), Seen::Ping(a.clone()));
    assert!(table.timeouts(109).is_empty());
    assert_eq!(table.timeouts(110), vec![a.clone()]);
    assert_eq!(table.bucket(9).cloned().collect::<Vec<_>>(), vec![b]);
}

#[test]
fn failures_evict_at_the_limit() {
    let own = [0u8; 32];
    let conf = KademliaConf {
        k: 2,
        max_failures: 3,
        ..KademliaConf::default()
    };
    let mut table = RoutingTable::new(own, conf, 3, 0);
    let (a, b, c) = (
        peer(in_bucket(own, 100, 1)),
        peer(in_bucket(own, 100, 2)),
        peer(in_bucket(own, 100, 3)),
    );
    table.seen(a.clone(), 0);
    table.seen(b.clone(), 0);
    table.seen(c.clone(), 0); // candidate
    assert_eq!(table.failed(&b.id, 1), None);
    assert_eq!(table.failed(&b.id, 2), None);
    // Heard from again: the count starts over.
    table.seen(b.clone(), 3);
    assert_eq!(table.failed(&b.id, 4), None);
    assert_eq!(table.failed(&b.id, 5), None);
    assert_eq!(table.failed(&b.id, 6), Some(b.clone()));
    assert!(table.contains(&c.id), "the candidate took b's place");
    assert_eq!(table.failed(&b.id, 7), None, "b is gone");
    // Without candidates, a failing peer is evicted all the same.
    for t in 8..11 {
        table.failed(&a.id, t);
    }
    assert!(!table.contains(&a.id));
    assert_eq!(table.len(), 1);
}

#[test]
fn refresh_due_is_seeded_and_in_range() {
    let own = [0x5a; 32];
    let conf = KademliaConf {
        refresh_interval_ms: 1_000,
        ..KademliaConf::default()
    };
    let make = |seed| {
        let mut t = RoutingTable::new(own, conf, seed, 0);
        for (bit, low) in [(255, 1), (255, 2), (254, 1), (250, 7)] {
            t.seen(peer(in_bucket(own, bit, low)), 0);
        }
        t
    };
    let (mut a, mut b, mut c) = (make(42), make(42), make(43));
    // Nothing is idle yet.
    assert!(a.refresh_due(999).is_empty());
    let ids_a = a.refresh_due(1_000);
    // Buckets 249 (the one below the closest non-empty) to 255.
    let buckets: Vec<Option<usize>> = ids_a.iter().map(|id| bucket_index(&own, id)).collect();
    assert_eq!(buckets, (249..256).rev().map(Some).collect::<Vec<_>>());
    // Same seed, same ids; another seed, other ids.
    assert_eq!(b.refresh_due(1_000), ids_a);
    assert_ne!(c.refresh_due(1_000), ids_a);
    // Refreshed buckets are not due again before another interval; a
    // bucket with a lookup is not due either.
    assert!(a.refresh_due(1_500).is_empty());
    a.looked_up(&in_bucket(own, 255, 9), 1_800);
    let again: Vec<Option<usize>> = a
        .refresh_due(2_000)
        .iter()
        .map(|id| bucket_index(&own, id))
        .collect();
    assert_eq!(again, (249..255).rev().map(Some).collect::<Vec<_>>());
    // An empty table refreshes nothing.
    let mut empty: RoutingTable<TestPeer> = RoutingTable::new(own, conf, 1, 0);
    assert!(empty.refresh_due(10_000).is_empty());
}

#[test]
fn contacts_named_by_peers_wait_for_room_and_leave_at_their_first_failure() {
    let own = [0u8; 32];
    let conf = KademliaConf {
        k: 2,
        max_failures: 3,
        ..KademliaConf::default()
    };
    let mut table = RoutingTable::new(own, conf, 5, 0);
    let (a, b, c, d) = (
        peer(in_bucket(own, 90, 1)),
        peer(in_bucket(own, 90, 2)),
        peer(in_bucket(own, 90, 3)),
        peer(in_bucket(own, 90, 4)),
    );
    assert!(!table.learned(peer(own), 0), "never itself");
    assert!(table.learned(a.clone(), 1));
    assert!(!table.learned(a.clone(), 2), "known already");
    assert!(!table.is_confirmed(&a.id));
    // Where a lookup starts, but not what the node tells others.
    assert_eq!(table.closest(&a.id, 5, &[]), vec![a.clone()]);
    assert!(table.closest_confirmed(&a.id, 5, &[]).is_empty());
    assert!(table.learned(b.clone(), 3));
    assert!(!table.learned(c.clone(), 4), "the bucket is full");
    // A peer heard from takes the oldest contact's place, no ping needed.
    assert_eq!(table.seen(c.clone(), 5), Seen::Added);
    assert!(!table.contains(&a.id));
    assert!(table.is_confirmed(&c.id));
    // One failure and a contact is gone; a confirmed peer has three.
    assert_eq!(table.failed(&b.id, 6), Some(b.clone()));
    assert!(table.learned(d.clone(), 7));
    assert_eq!(table.seen(d.clone(), 8), Seen::Refreshed, "heard from now");
    assert!(table.is_confirmed(&d.id));
    assert_eq!(table.failed(&d.id, 9), None);
    assert!(table.contains(&d.id));
    // A full bucket of confirmed peers learns no contact.
    assert!(!table.learned(a.clone(), 10));
    assert_eq!(table.seen(a.clone(), 11), Seen::Ping(c.clone()));
}

#[test]
fn refresh_all_covers_every_bucket_from_the_closest_out() {
    let own = [0x33; 32];
    let conf = KademliaConf {
        refresh_interval_ms: 1_000_000,
        ..KademliaConf::default()
    };
    let mut t = RoutingTable::new(own, conf, 9, 0);
    assert!(
        t.refresh_all(0).is_empty(),
        "an empty table refreshes nothing"
    );
    t.seen(peer(in_bucket(own, 240, 1)), 0);
    // Not idle, refreshed all the same: buckets 239 to 255.
    let buckets: Vec<Option<usize>> = t
        .refresh_all(1)
        .iter()
        .map(|id| bucket_index(&own, id))
        .collect();
    assert_eq!(buckets, (239..256).rev().map(Some).collect::<Vec<_>>());
    assert!(t.refresh_due(2).is_empty(), "they count as refreshed");
}

#[test]
fn splitmix_is_the_reference_sequence() {
    // SplitMix64 from seed 1234567 (the reference implementation's values).
    let mut r = SplitMix64::new(1_234_567);
    assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
    assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
}

#[test]
fn a_node_tells_its_peers_heard_from_and_the_closer_contacts() {
    let own = [0u8; 32];
    let target = in_bucket(own, 200, 0);
    let mut t = RoutingTable::new(own, KademliaConf::default(), 3, 0);
    // Heard from: far from the target (bucket 100, distance ~2^200).
    let heard: Vec<TestPeer> = (1..=4).map(|n| peer(in_bucket(own, 100, n))).collect();
    // Contacts: the target's bucket, closer to it (distance < 2^8)...
    let near: Vec<TestPeer> = (1..=5)
        .map(|n| {
            let mut id = target;
            id[31] ^= n;
            peer(id)
        })
        .collect();
    // ...and farther than every peer heard from (bucket 250).
    let far = peer(in_bucket(own, 250, 1));
    for p in near.iter().chain([&far]) {
        assert!(t.learned(p.clone(), 0));
    }
    for p in &heard {
        t.seen(p.clone(), 0);
    }
    let by_distance = |mut v: Vec<TestPeer>| {
        v.sort_by_key(|p| Distance::between(&p.id, &target));
        v
    };
    // No contact: the peers heard from alone.
    let (told, none) = t.closest_to_tell(&target, 4, 0, &[]);
    assert_eq!(told, by_distance(heard.clone()));
    assert!(none.is_empty());
    // Four heard from fill the answer of 4: apart, only contacts closer
    // than the farthest of them, at most 2, closest first; the far one
    // never.
    let (told, contacts) = t.closest_to_tell(&target, 4, 2, &[]);
    assert_eq!(told, by_distance(heard.clone()));
    assert_eq!(ids(&contacts), ids(&near[..2]));
    // Fewer heard from than asked: any contacts, at most 2 of them.
    let (told, contacts) = t.closest_to_tell(&target, 10, 2, &[near[0].id]);
    assert_eq!(told.len(), 4);
    assert_eq!(ids(&contacts), ids(&near[1..3]), "near[0] excluded");
    let (_, all) = t.closest_to_tell(&target, 10, 9, &[]);
    assert_eq!(all.len(), 6, "the far one too when the answer has room");
    // The peers heard from are always what closest_confirmed gives.
    assert_eq!(
        t.closest_to_tell(&target, 10, 9, &[]).0,
        t.closest_confirmed(&target, 10, &[])
    );
}
