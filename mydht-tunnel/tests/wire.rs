//! The tunnel on the wire, counted at the socket of every node (the
//! watched transport of `support/wire.rs`): every send-once connection of
//! a tunnel carries as many bytes each way at every hop, so the bytes a
//! node sees do not tell its place in the route; and a relay that changes
//! a byte of a cell it sends (a clear shadow, so the byte is the cell's)
//! is caught by the next hop, which reports it back to the sender.

mod support;

use std::time::{Duration, Instant};

use mydht::prelude::*;
use mydht::{NoShadow, SessionShadow};
use mydht_basetest::harness::nodes::stop_all;
use mydht_tunnel::{Carriage, ReplyRoute, TunnelSendError};
use support::spy::Relaying::Honest;
use support::spy::{ping, start_spies, Spy, SpyShadow};
use support::wire::{ConnLog, Wire};
use support::{body, Pong, TIMEOUT};
use tunnel::{HopFailure, TunnelConfig, TunnelError};

/// Honest spies over watched transports, `tampering` ones flipping a byte
/// of the first cell of each connection they dial.
fn watched<S: SpyShadow>(
    carriage: Carriage,
    tampering: &[bool],
) -> (Vec<NodeHandle<Spy<S>>>, Vec<Wire>) {
    let wires: Vec<Wire> = tampering
        .iter()
        .map(|&t| {
            if t {
                Wire::tampering()
            } else {
                Wire::default()
            }
        })
        .collect();
    let confs = wires
        .iter()
        .map(|w| {
            let (spy, _) = Spy::new(TunnelConfig::default(), carriage, Honest);
            spy.on_wire(w.clone())
        })
        .collect();
    (start_spies(confs), wires)
}

/// Alice, 3 query relays, Bob, 3 reply relays: every node dials exactly
/// one send-once connection of the tunnel (Alice the query's first, each
/// hop the next, the last reply relay Alice). Those connections, once
/// closed, as their diallers counted them.
fn connections_of_one_tunnel(carriage: Carriage) -> Vec<ConnLog> {
    let (nodes, wires) = watched::<SessionShadow>(carriage, &[false; 8]);
    for w in &wires {
        w.clear();
    }
    let got = ping(&nodes, 7, 3, ReplyRoute::Other(3), 5, 3000);
    assert_eq!(got.expect("pong"), Pong(5, body(5, 3000)));
    let conns: Vec<ConnLog> = wires
        .iter()
        .flat_map(|w| w.wait_dialled(1, TIMEOUT))
        .collect();
    stop_all(nodes).expect("stop");
    conns
}

#[test]
fn every_connection_of_a_tunnel_carries_as_many_bytes_at_every_hop() {
    for carriage in [Carriage::Streamed, Carriage::Frame] {
        let conns = connections_of_one_tunnel(carriage);
        assert_eq!(conns.len(), 8, "{conns:?}");
        for c in &conns {
            assert_eq!(
                (c.written, c.read),
                (conns[0].written, conns[0].read),
                "{carriage:?}: {conns:#?}"
            );
        }
        println!(
            "{carriage:?}: each hop's connection: {} bytes written, {} read back",
            conns[0].written, conns[0].read
        );
    }
}

#[test]
fn a_relay_that_changes_a_cell_is_caught_at_the_next_hop_and_reported() {
    // Alice -> T -> Bob: Bob (hop 1) finds the cell bad.
    let (nodes, _) = watched::<NoShadow>(Carriage::Streamed, &[false, true, false]);
    let started = Instant::now();
    match ping(&nodes, 2, 1, ReplyRoute::SameRoute, 1, 10) {
        Err(TunnelSendError::Tunnel(TunnelError::HopFailed {
            hop: 1,
            failure: HopFailure::BadContent,
        })) => {}
        other => panic!("expected BadContent from hop 1: {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    stop_all(nodes).expect("stop");

    // Four relays, one of them T: the hop after it reports, through the
    // honest relays before it.
    let tampering = [false, false, false, true, false, false];
    let (nodes, _) = watched::<NoShadow>(Carriage::Streamed, &tampering);
    for n in 0..3 {
        match ping(&nodes, 5, 4, ReplyRoute::SameRoute, n, 10) {
            Err(TunnelSendError::Tunnel(TunnelError::HopFailed {
                hop,
                failure: HopFailure::BadContent,
            })) => assert!((1..=4).contains(&hop), "hop {hop}"),
            other => panic!("expected BadContent: {other:?}"),
        }
    }
    stop_all(nodes).expect("stop");
}
