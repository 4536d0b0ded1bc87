//! The DHT on live nodes over TCP, in each query mode: a value found
//! across a chain of peers, fan-out with the expected number of results,
//! hop limits, and a loop in the peer graph.

mod dht_support;

use std::time::{Duration, Instant};

use dht_support::*;
use mydht::prelude::Peer;
use mydht::service::kvstore::QueryMode;
use mydht_kvstore::dht::{Dht, DhtError, DhtSettings};
use mydht_kvstore::{Key, SignedValue};

/// Nodes of identities `first..first + n` linked one after the other.
fn chain(first: u8, n: u8) -> Vec<Dht> {
    let nodes: Vec<Dht> = (first..first + n)
        .map(|i| node(i, DhtSettings::default()))
        .collect();
    for w in nodes.windows(2) {
        link(&w[0], &w[1]);
    }
    for (i, d) in nodes.iter().enumerate() {
        wait_peers(d, if i == 0 || i + 1 == nodes.len() { 1 } else { 2 });
    }
    nodes
}

/// A value stored on peer 4 of the chain 1–2–3–4 is found from peer 1,
/// three hops away.
fn chain_4(mode: QueryMode) {
    let nodes = chain(1, 4);
    let key = Key::hash_of(b"chain value");
    // 0 hops: stored here only (the engine counts that copy).
    assert_eq!(
        nodes[3]
            .put_with(key, b"far".to_vec(), walk(mode, 0), T)
            .unwrap(),
        1
    );
    let found = nodes[0].get_with(key, walk(mode, 3), T).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].value(), b"far");
    assert_eq!(found[0].publisher(), *nodes[3].local_peer().get_id());
    // The find went through 2 and 3 to 4.
    let s = total(&nodes);
    assert_eq!(s.finds_received, 3, "{s:?}");
    stop_all(nodes);
}

#[test]
fn chain_4_aproxy() {
    chain_4(QueryMode::AProxy);
}

#[test]
fn chain_4_asynch() {
    chain_4(QueryMode::Asynch);
}

#[test]
fn chain_4_amix() {
    chain_4(QueryMode::AMix(1));
}

/// On a chain of 7, a value 6 hops away is found with 6 hops allowed; with
/// 3 (or 5) the query ends with not found, well before the call's timeout.
fn hop_limits(mode: QueryMode) {
    let nodes = chain(11, 7);
    let key = Key::hash_of(b"six hops away");
    nodes[6]
        .put_with(key, b"end".to_vec(), walk(mode, 0), T)
        .unwrap();
    let found = nodes[0].get_with(key, walk(mode, 6), T).unwrap();
    assert_eq!(found[0].value(), b"end");
    for hops in [3, 5] {
        let start = Instant::now();
        match nodes[0].get_with(key, walk(mode, hops), T) {
            Err(DhtError::NotFound) => {}
            other => panic!("{hops} hops: {other:?}"),
        }
        // Not found at the query's deadline (1.5 s) at the latest.
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
    stop_all(nodes);
}

#[test]
fn hop_limits_aproxy() {
    hop_limits(QueryMode::AProxy);
}

#[test]
fn hop_limits_asynch() {
    hop_limits(QueryMode::Asynch);
}

#[test]
fn hop_limits_amix() {
    hop_limits(QueryMode::AMix(1));
}

/// 8 peers, a tree from peer 0 (0–1, 0–2, 0–3, 1–4, 1–5, 2–6, 3–7); the
/// same value held by 4, 5, 6 and 7. A find forwarded to 3 peers per hop
/// gets as many copies as it asks for, or all four.
fn fan_out(mode: QueryMode) {
    let first = 21;
    let nodes: Vec<Dht> = (first..first + 8)
        .map(|i| node(i, DhtSettings::default()))
        .collect();
    for (a, b) in [(0, 1), (0, 2), (0, 3), (1, 4), (1, 5), (2, 6), (3, 7)] {
        link(&nodes[a], &nodes[b]);
    }
    for (i, n) in [3, 3, 2, 2, 1, 1, 1, 1].into_iter().enumerate() {
        wait_peers(&nodes[i], n);
    }
    let key = Key::hash_of(b"replicated");
    let v = SignedValue::sign(
        &identity(99),
        key,
        b"copy".to_vec(),
        Duration::from_secs(600),
        mydht_kvstore::Clock::now_ms(&mydht_kvstore::SystemClock),
    )
    .unwrap();
    for d in &nodes[4..] {
        d.put_signed(v.clone(), walk(mode, 0), T).unwrap();
    }
    let three = nodes[0]
        .get_with(key, query(mode, 2, 3, 3, Duration::from_millis(1500)), T)
        .unwrap();
    assert_eq!(three, vec![v.clone(); 3]);
    let all = nodes[0]
        .get_with(key, query(mode, 2, 3, 8, Duration::from_millis(1500)), T)
        .unwrap();
    assert_eq!(all, vec![v; 4]);
    stop_all(nodes);
}

#[test]
fn fan_out_8_aproxy() {
    fan_out(QueryMode::AProxy);
}

#[test]
fn fan_out_8_asynch() {
    fan_out(QueryMode::Asynch);
}

#[test]
fn fan_out_8_amix() {
    fan_out(QueryMode::AMix(1));
}

/// A ring 1–2–3–4–1 and a find of a missing key forwarded to 2 peers per
/// hop with 8 hops allowed: each node forwards the query once, the copies
/// that come back around are recognised (loop hits) and go no further.
fn ring(mode: QueryMode) {
    let nodes: Vec<Dht> = (31..35).map(|i| node(i, DhtSettings::default())).collect();
    for i in 0..4 {
        link(&nodes[i], &nodes[(i + 1) % 4]);
    }
    for d in &nodes {
        wait_peers(d, 2);
    }
    let key = Key::hash_of(b"nowhere");
    match nodes[0].get_with(key, query(mode, 8, 2, 1, Duration::from_millis(1500)), T) {
        Err(DhtError::NotFound) => {}
        other => panic!("{other:?}"),
    }
    let s = total(&nodes);
    // Without loop avoidance: 2 + 4 + 8 + … finds over 8 hops.
    assert!(s.finds_received <= 8, "{s:?}");
    assert!(s.loop_hits >= 1, "{s:?}");
    stop_all(nodes);
}

#[test]
fn loop_ring_aproxy() {
    ring(QueryMode::AProxy);
}

#[test]
fn loop_ring_asynch() {
    ring(QueryMode::Asynch);
}

#[test]
fn loop_ring_amix() {
    ring(QueryMode::AMix(1));
}
