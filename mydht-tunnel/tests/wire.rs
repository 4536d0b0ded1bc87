//! The tunnel on the wire, cut at the socket of every node (the watched
//! transport of `support/wire.rs`, its records cut by `support/records.rs`):
//! every session chunk of a tunnel's send-once connections — the frames
//! carrying its header and its cells, each with the length its chunk header
//! shows in clear — is the same length at every hop, as sent and as
//! received, so the frames a node sees do not tell its place in the route;
//! and a relay that changes a byte of a cell it sends (a clear shadow, so
//! the byte is the cell's) is caught by the next hop, which reports it back
//! to the sender. The handshake before the session is the connection's,
//! not the tunnel's: its messages carry the dialler's own listening
//! address, whose length varies with the port's digits; so is the
//! admission an acceptor answers a signed dial with (a known-key
//! send-once flight gets none).

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

/// The session's end on the wire: a chunk of no data (header and tag).
const SESSION_END: usize = 4 + mydht::shadow::SESSION_TAG_LEN;

/// The connections of one tunnel as seen at both ends.
struct TunnelConns {
    /// Each node's dialled connection of the tunnel.
    dialled: Vec<ConnLog>,
    /// Each node's accepted one.
    accepted: Vec<ConnLog>,
}

/// Alice, 3 query relays, Bob, 3 reply relays: every node dials exactly
/// one send-once connection of the tunnel (Alice the query's first, each
/// hop the next, the last reply relay Alice) and accepts one. Those
/// connections, once closed, as each end cut them; `body` bytes of ping.
fn connections_of_one_tunnel(carriage: Carriage, body_len: usize) -> TunnelConns {
    let (nodes, wires) = watched::<SessionShadow>(carriage, &[false; 8]);
    for w in &wires {
        w.clear();
    }
    let got = ping(&nodes, 7, 3, ReplyRoute::Other(3), 5, body_len);
    assert_eq!(got.expect("pong"), Pong(5, body(5, body_len)));
    let closed = |dialled| -> Vec<ConnLog> {
        wires
            .iter()
            .flat_map(|w| w.wait_closed(dialled, 1, TIMEOUT))
            .collect()
    };
    let conns = TunnelConns {
        dialled: closed(true),
        accepted: closed(false),
    };
    stop_all(nodes).expect("stop");
    conns
}

/// The lengths of a connection's session chunks each way: sent by its
/// dialler, sent back.
type Frames = (Vec<usize>, Vec<usize>);

/// The acceptor's admission, its first chunk to a dialler that did not
/// say it sends one message only: chunk header (4), the frame
/// (`WireMessage::Admitted`: length 4, variant 1), tag.
const ADMISSION: usize = 4 + 4 + 1 + mydht::shadow::SESSION_TAG_LEN;

/// The session chunks each way of `c`, from its dialler's side: sent,
/// then got back. A signed dial's admission is left out of what came
/// back: it is the handshake's, not the tunnel's (a known-key send-once
/// flight, as a node sends to a peer it knows, gets none; a signed dial,
/// the first to an address, does). What the dialler sent is kept whole.
fn frames(c: &ConnLog) -> Frames {
    for cut in [&c.sent, &c.got] {
        assert_eq!(cut.error, None, "{c:#?}");
    }
    let (sent, mut back, dialler) = if c.dialled {
        (c.sent.chunks(), c.got.chunks(), &c.sent)
    } else {
        (c.got.chunks(), c.sent.chunks(), &c.got)
    };
    if !dialler.known_key() && back.first() == Some(&ADMISSION) {
        back.remove(0);
    }
    (sent, back)
}

/// `got`, a hop's frames as received: a hop that has the tunnel's last
/// cell closes the connection, whether or not it read the session's end
/// behind it (an empty chunk: its header and tag): `sent` without it then.
fn as_received(sent: &Frames, got: &Frames) -> bool {
    let mut whole = sent.0.clone();
    if got.0.len() + 1 == whole.len() && whole.last() == Some(&SESSION_END) {
        whole.pop();
    }
    (&whole, &sent.1) == (&got.0, &got.1)
}

#[test]
fn every_frame_of_a_tunnel_is_the_same_length_at_every_hop() {
    // One cell, and six (the session's chunks hold four): the reply of
    // 90 KB takes a cell more than the query (a reply cell holds 20 bytes
    // less), so the two routes differ there, as the direction a hop knows.
    for (carriage, body_len) in [
        (Carriage::Streamed, 3000),
        (Carriage::Frame, 3000),
        (Carriage::Streamed, 90_000),
    ] {
        let TunnelConns { dialled, accepted } = connections_of_one_tunnel(carriage, body_len);
        assert_eq!((dialled.len(), accepted.len()), (8, 8));
        let handshakes: Vec<usize> = dialled.iter().map(|c| c.sent.handshake_len()).collect();
        let dialled: Vec<_> = dialled.iter().map(frames).collect();
        let accepted: Vec<_> = accepted.iter().map(frames).collect();
        let what = format!("{carriage:?}, {body_len} bytes: {dialled:?}, {accepted:?}");
        // Alice's is the query's first connection, Bob's (node 7) the
        // reply's; three relays dial each route's others.
        let (query, reply) = (&dialled[0], &dialled[7]);
        assert!(query.0.len() > 1 && reply.0.len() > 1, "{what}");
        let routes = if query == reply { 8 } else { 4 };
        let sent = |route: &Frames| dialled.iter().filter(|f| *f == route).count();
        assert_eq!(
            (sent(query), sent(reply)),
            (routes, routes),
            "as sent: {what}"
        );
        let got = |route| accepted.iter().filter(|f| as_received(route, f)).count();
        assert_eq!(
            (got(query), got(reply)),
            (routes, routes),
            "as received: {what}"
        );
        println!(
            "{carriage:?}, {body_len} bytes: every hop's frames: query {:?} sent, {:?} back; reply {:?}, {:?}; handshake bytes sent by each dialler: {handshakes:?}",
            query.0, query.1, reply.0, reply.1
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
