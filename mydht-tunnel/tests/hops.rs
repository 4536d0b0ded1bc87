//! What relays see and do: every onion of a tunnel has one length at
//! every hop; a relay that tampers with a cell is caught by the next hop,
//! which reports it back to the sender link by link.

mod support;

use std::time::{Duration, Instant};

use mydht::prelude::*;
use mydht_basetest::harness::nodes::{connect, stop_all};
use mydht_tunnel::{ReplyRoute, TunnelSendError};
use support::spy::Relaying::{self, Drop, Honest, Tamper};
use support::spy::{Seen, Spy};
use support::{body, Ping, Pong, SENT, TIMEOUT};
use tunnel::{FrameLayout, HopFailure, TunnelConfig, TunnelError};

/// Spies: node 0 is Alice, connected to every other; `relaying` says how
/// each relays.
fn spies(relaying: &[Relaying]) -> (Vec<NodeHandle<Spy>>, Vec<Seen>) {
    let mut nodes = Vec::new();
    let mut seen = Vec::new();
    for &t in relaying {
        let (conf, s) = Spy::new(TunnelConfig::default(), t);
        nodes.push(start_loop(conf).expect("start"));
        seen.push(s);
    }
    for node in &nodes[1..] {
        connect(&nodes[0], node).expect("connect");
    }
    (nodes, seen)
}

fn ping(
    nodes: &[NodeHandle<Spy>],
    to: usize,
    hops: usize,
    reply: ReplyRoute,
    n: u64,
) -> mydht_tunnel::TunnelAnswer<support::PingPong> {
    ping_body(nodes, to, hops, reply, n, 3000)
}

fn ping_body(
    nodes: &[NodeHandle<Spy>],
    to: usize,
    hops: usize,
    reply: ReplyRoute,
    n: u64,
    body: usize,
) -> mydht_tunnel::TunnelAnswer<support::PingPong> {
    let ping = Ping {
        to: *nodes[to].local_peer().get_id(),
        hops,
        reply,
        n,
        body,
    };
    let mut got = nodes[0].query(ping, 1, TIMEOUT).expect("query");
    got.pop().expect("an answer")
}

#[test]
fn every_onion_of_a_tunnel_has_one_length_at_every_hop() {
    // Alice, 7 others: 3 query relays, Bob, 3 reply relays.
    let (nodes, seen) = spies(&[Honest; 8]);
    let got = ping(&nodes, 7, 3, ReplyRoute::Other(3), 5);
    assert_eq!(got.expect("pong"), Pong(5, body(5, 3000)));
    let lens: Vec<Vec<usize>> = seen.iter().map(Seen::lens).collect();
    stop_all(nodes).expect("stop");
    // Each node but Alice saw one onion (a query or a reply relay, or
    // Bob); Alice saw the reply.
    for (i, l) in lens.iter().enumerate() {
        assert_eq!(l.len(), 1, "node {i} saw {l:?}");
    }
    let layout = FrameLayout::new(&TunnelConfig::default()).unwrap();
    // A query of 3 KB with its reply block, and its reply, each fill one
    // cell: every hop of both routes saw the same length, one header and
    // one cell.
    let expected = layout.header.header_len() + layout.cell.cell_size();
    for (i, l) in lens.iter().enumerate() {
        assert_eq!(l[0], expected, "node {i}");
    }
}

#[test]
fn a_longer_query_keeps_its_length_at_every_hop() {
    // 40 KB: three cells, at each of 5 relays and Bob.
    let (nodes, seen) = spies(&[Honest; 7]);
    let got = ping_body(&nodes, 6, 5, ReplyRoute::None, 9, 40_000);
    assert_eq!(got.expect("sent"), SENT, "no reply asked");
    seen[6].wait(1, TIMEOUT);
    let lens: Vec<Vec<usize>> = seen.iter().map(Seen::lens).collect();
    stop_all(nodes).expect("stop");
    let layout = FrameLayout::new(&TunnelConfig::default()).unwrap();
    let expected = layout.header.header_len() + 3 * layout.cell.cell_size();
    assert!(lens[0].is_empty(), "Alice got no reply");
    for (i, l) in lens.iter().enumerate().skip(1) {
        assert_eq!(l, &vec![expected], "node {i}");
    }
}

#[test]
fn a_tampered_cell_is_caught_at_the_next_hop_and_reported_to_the_sender() {
    // Alice -> tampering relay -> Bob: Bob (hop 1) finds the cell changed.
    let (nodes, _) = spies(&[Honest, Tamper, Honest]);
    match ping(&nodes, 2, 1, ReplyRoute::SameRoute, 1) {
        Err(TunnelSendError::Tunnel(TunnelError::HopFailed {
            hop: 1,
            failure: HopFailure::BadContent,
        })) => {}
        other => panic!("expected a report from hop 1: {other:?}"),
    }
    stop_all(nodes).expect("stop");

    // Through 4 relays, one of them tampering: the hop after it reports,
    // through the honest relays before it, which each add their layer.
    let (nodes, _) = spies(&[Honest, Honest, Honest, Tamper, Honest, Honest]);
    for n in 0..3 {
        match ping(&nodes, 5, 4, ReplyRoute::SameRoute, n) {
            Err(TunnelSendError::Tunnel(TunnelError::HopFailed {
                hop,
                failure: HopFailure::BadContent,
            })) => assert!((1..=4).contains(&hop), "hop {hop}"),
            other => panic!("expected a report: {other:?}"),
        }
    }
    stop_all(nodes).expect("stop");
}

#[test]
fn a_relay_gone_mid_tunnel_ends_the_query_by_its_timeout_and_leaves_nothing_open() {
    // Alice -> relay that passes nothing on -> Bob.
    let (nodes, seen) = spies(&[Honest, Drop, Honest]);
    let ping = Ping {
        to: *nodes[2].local_peer().get_id(),
        hops: 1,
        reply: ReplyRoute::SameRoute,
        n: 1,
        body: 10,
    };
    let timeout = Duration::from_millis(800);
    let started = Instant::now();
    match nodes[0].query(ping, 1, timeout) {
        Err(NodeError::Timeout(_)) => {}
        other => panic!("expected a timeout: {other:?}"),
    }
    let took = started.elapsed();
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(seen[1].lens().len(), 1, "the relay got the onion");
    assert!(seen[2].lens().is_empty(), "Bob got nothing");
    // The send-once connections closed: Alice keeps her two pooled
    // connections, each peer its one.
    wait_open_connections(&nodes[0], 2);
    wait_open_connections(&nodes[1], 1);
    wait_open_connections(&nodes[2], 1);
    stop_all(nodes).expect("stop");
}

/// Waits until `node` has `n` open connections, at most [`TIMEOUT`].
fn wait_open_connections<C: MyDHTConf>(node: &NodeHandle<C>, n: usize) {
    let start = Instant::now();
    loop {
        let open = node.stats(TIMEOUT).expect("stats").open_connections;
        if open == n {
            return;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "{open} connections open, {n} expected"
        );
    }
}
