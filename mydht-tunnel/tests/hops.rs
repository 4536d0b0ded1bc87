//! What relays see and do, in both carriages: every frame of a tunnel has
//! one length at every hop; a relay that tampers with what it passes on is
//! caught by the next hop, which reports it back to the sender link by
//! link; a relay that passes nothing on ends the query with a typed error.

mod support;

use std::time::{Duration, Instant};

use mydht::prelude::*;
use mydht::SessionShadow;
use mydht_basetest::harness::nodes::stop_all;
use mydht_tunnel::{Carriage, ReplyRoute, TunnelSendError};
use support::spy::Relaying::{Drop, Honest, Tamper};
use support::spy::{ping, spies, Seen, Spy};
use support::{body, Ping, Pong, SENT, TIMEOUT};
use tunnel::{FrameLayout, HopFailure, TunnelConfig, TunnelError};

fn layout() -> FrameLayout {
    FrameLayout::new(&TunnelConfig::default()).unwrap()
}

/// Alice, 7 others: 3 query relays, Bob, 3 reply relays. Each node but
/// Alice saw one frame (as a query relay, a reply relay, or Bob); Alice
/// saw the reply's. Their lengths.
fn frames_of_one_tunnel(carriage: Carriage) -> Vec<usize> {
    let (nodes, seen) = spies::<SessionShadow>(carriage, &[Honest; 8]);
    let got = ping(&nodes, 7, 3, ReplyRoute::Other(3), 5, 3000);
    assert_eq!(got.expect("pong"), Pong(5, body(5, 3000)));
    let lens: Vec<Vec<usize>> = seen.iter().map(Seen::lens).collect();
    stop_all(nodes).expect("stop");
    for (i, l) in lens.iter().enumerate() {
        assert_eq!(l.len(), 1, "node {i} saw {l:?}");
    }
    lens.into_iter().map(|l| l[0]).collect()
}

#[test]
fn every_frame_of_a_tunnel_has_one_length_at_every_hop() {
    let layout = layout();
    // Streamed: the frame is the fixed header, the same for queries and
    // replies.
    for len in frames_of_one_tunnel(Carriage::Streamed) {
        assert_eq!(len, layout.header.header_len());
    }
    // In frames: a 3 KB query with its reply block, and its reply, each
    // fill one cell.
    let whole = layout.header.header_len() + layout.cell.cell_size();
    for len in frames_of_one_tunnel(Carriage::Frame) {
        assert_eq!(len, whole);
    }
}

#[test]
fn a_longer_query_keeps_its_length_at_every_hop() {
    // 40 KB in frames: three cells, at each of 5 relays and Bob.
    let (nodes, seen) = spies::<SessionShadow>(Carriage::Frame, &[Honest; 7]);
    let got = ping(&nodes, 6, 5, ReplyRoute::None, 9, 40_000);
    assert_eq!(got.expect("sent"), SENT, "no reply asked");
    seen[6].wait(1, TIMEOUT);
    let lens: Vec<Vec<usize>> = seen.iter().map(Seen::lens).collect();
    stop_all(nodes).expect("stop");
    let layout = layout();
    let expected = layout.header.header_len() + 3 * layout.cell.cell_size();
    assert!(lens[0].is_empty(), "Alice got no reply");
    for (i, l) in lens.iter().enumerate().skip(1) {
        assert_eq!(l, &vec![expected], "node {i}");
    }
}

/// A tampering relay between Alice and Bob, then one of four: the hop
/// after it reports `failure`, through the honest relays before it.
fn tampering_is_reported(carriage: Carriage, failure: HopFailure) {
    let (nodes, _) = spies::<SessionShadow>(carriage, &[Honest, Tamper, Honest]);
    match ping(&nodes, 2, 1, ReplyRoute::SameRoute, 1, 10) {
        Err(TunnelSendError::Tunnel(TunnelError::HopFailed { hop: 1, failure: f }))
            if f == failure => {}
        other => panic!("expected {failure:?} from hop 1: {other:?}"),
    }
    stop_all(nodes).expect("stop");

    let (nodes, _) =
        spies::<SessionShadow>(carriage, &[Honest, Honest, Honest, Tamper, Honest, Honest]);
    for n in 0..3 {
        match ping(&nodes, 5, 4, ReplyRoute::SameRoute, n, 10) {
            Err(TunnelSendError::Tunnel(TunnelError::HopFailed { hop, failure: f })) => {
                assert_eq!(f, failure);
                assert!((1..=4).contains(&hop), "hop {hop}");
            }
            other => panic!("expected a report: {other:?}"),
        }
    }
    stop_all(nodes).expect("stop");
}

#[test]
fn a_tampered_cell_is_caught_at_the_next_hop_and_reported_to_the_sender() {
    tampering_is_reported(Carriage::Frame, HopFailure::BadContent);
}

#[test]
fn a_tampered_header_is_caught_at_the_next_hop_and_reported_to_the_sender() {
    tampering_is_reported(Carriage::Streamed, HopFailure::BadHeader);
}

#[test]
fn a_relay_that_passes_nothing_on_ends_the_query_in_time_and_leaves_nothing_open() {
    // Streamed: the relay's stream to Bob ends unwritten; the relay
    // reports its next hop unreachable once its grace is over.
    let (nodes, seen) = spies::<SessionShadow>(Carriage::Streamed, &[Honest, Drop, Honest]);
    let started = Instant::now();
    match ping(&nodes, 2, 1, ReplyRoute::SameRoute, 1, 10) {
        Err(TunnelSendError::Tunnel(TunnelError::HopFailed {
            hop: 0,
            failure: HopFailure::Unreachable,
        })) => {}
        other => panic!("expected hop 0 unreachable: {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(seen[2].lens().is_empty(), "Bob got nothing");
    no_send_once_left(&nodes);
    stop_all(nodes).expect("stop");

    // In frames the relay learns nothing: the query ends by its timeout.
    let (nodes, seen) = spies::<SessionShadow>(Carriage::Frame, &[Honest, Drop, Honest]);
    let ping = Ping {
        to: *nodes[2].local_peer().get_id(),
        hops: 1,
        reply: ReplyRoute::SameRoute,
        n: 1,
        body: 10,
    };
    let timeout = Duration::from_millis(800);
    let started = Instant::now();
    match nodes[0].query(ping.into(), 1, timeout) {
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
    no_send_once_left(&nodes);
    stop_all(nodes).expect("stop");
}

/// Waits until the send-once connections closed: Alice keeps her two
/// pooled connections, each peer its one.
fn no_send_once_left(nodes: &[NodeHandle<Spy>]) {
    wait_open_connections(&nodes[0], 2);
    wait_open_connections(&nodes[1], 1);
    wait_open_connections(&nodes[2], 1);
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
