//! Peer management's verdicts in the node core: a connection awaiting its
//! verdict is closed at `verdict_timeout`; a verdict that arrives after
//! that is not applied to the next connection stored under the same key;
//! a `Reject` closes the connection without opening it.

mod core_support;

use std::time::Duration;

use core_support::{addr, asks, closes, onlines, opens, replies, Net, Rec, Res};
use mydht::command::ConnRef;
use mydht::{NodeConstants, PeerVerdict};
use mydht_base::ErrorKind;

const VERDICT_MS: u64 = 3_000;

/// `s` asks its peer manager (no fixed verdict), `p` accepts everyone.
fn pair() -> (Net, usize, usize) {
    let mut net = Net::new();
    let constants = NodeConstants {
        // Distinct from the verdict timeout: the closes below are the
        // verdict's.
        auth_timeout: Duration::from_millis(5_000),
        verdict_timeout: Duration::from_millis(VERDICT_MS),
        ..NodeConstants::default()
    };
    let s = net.add_node(addr(1001), addr(1001), None, constants);
    let p = net.add_node(
        addr(1002),
        addr(1002),
        Some(PeerVerdict::Accept),
        NodeConstants::default(),
    );
    net.pump();
    net.nodes[s].take_log();
    net.nodes[p].take_log();
    (net, s, p)
}

/// `p` connects to `s` now, the handshake runs to its end: the connection
/// `s` asks a verdict on.
fn connect_and_ask(net: &mut Net, s: usize, p: usize) -> ConnRef {
    let listen = net.nodes[s].listen;
    net.connect(p, listen);
    net.pump();
    let log = net.nodes[s].take_log();
    let asked = asks(&log);
    assert_eq!(asked.len(), 1, "{log:?}");
    assert_eq!(asked[0].1, net.nodes[p].id);
    assert!(opens(&log).is_empty(), "opened before its verdict: {log:?}");
    assert!(closes(&log).is_empty(), "{log:?}");
    asked[0].0
}

/// Connection 1 times out waiting for its verdict; connection 2 of the
/// same peer comes under the same key and is asked its own verdict.
fn timed_out_then_second(net: &mut Net, s: usize, p: usize) -> (ConnRef, ConnRef) {
    let c1 = connect_and_ask(net, s, p);
    // Not a tick before its deadline.
    net.tick(s, VERDICT_MS - 1);
    assert!(closes(&net.nodes[s].take_log()).is_empty());
    net.tick(s, VERDICT_MS);
    let closed = closes(&net.nodes[s].take_log());
    assert_eq!(
        closed,
        vec![(
            c1.key,
            Some((
                ErrorKind::Timeout,
                "no peer management verdict in time: rejected".to_string()
            ))
        )]
    );
    let c2 = connect_and_ask(net, s, p);
    assert_eq!(c2.key, c1.key, "the key is reused (as a slab does)");
    assert_ne!(c2.id, c1.id);
    (c1, c2)
}

#[test]
fn a_late_reject_is_not_applied_to_the_next_connection_under_its_key() {
    let (mut net, s, p) = pair();
    let (c1, c2) = timed_out_then_second(&mut net, s, p);

    // The verdict on connection 1 arrives now: nothing to do. (A core that
    // matched verdicts by key alone, not by `ConnRef::id`, would find
    // connection 2 awaiting under that key and close it here.)
    net.verdict(s, c1, PeerVerdict::Reject);
    net.pump();
    let log = net.nodes[s].take_log();
    assert!(closes(&log).is_empty(), "the late reject closed: {log:?}");
    assert!(opens(&log).is_empty(), "{log:?}");
    assert!(net.nodes[s].open.is_empty());

    // Connection 2's own verdict applies.
    net.verdict(s, c2, PeerVerdict::Accept);
    net.pump();
    let log = net.nodes[s].take_log();
    assert_eq!(opens(&log), vec![c2]);
    assert!(closes(&log).is_empty(), "{log:?}");
    assert_eq!(onlines(&log, net.nodes[p].id), (1, 1));
    assert_eq!(net.nodes[s].core.peer_count(), 1);
}

#[test]
fn a_late_accept_is_not_applied_to_the_next_connection_under_its_key() {
    let (mut net, s, p) = pair();
    let (c1, c2) = timed_out_then_second(&mut net, s, p);

    net.verdict(s, c1, PeerVerdict::Accept);
    net.pump();
    let log = net.nodes[s].take_log();
    assert!(opens(&log).is_empty(), "the late accept opened: {log:?}");
    assert_eq!(onlines(&log, net.nodes[p].id), (0, 0));
    assert_eq!(net.nodes[s].core.peer_count(), 0);

    net.verdict(s, c2, PeerVerdict::Reject);
    net.pump();
    let log = net.nodes[s].take_log();
    assert!(opens(&log).is_empty(), "{log:?}");
    assert_eq!(
        closes(&log),
        vec![(
            c2.key,
            Some((ErrorKind::Rejected, "peer rejected".to_string()))
        )]
    );
    assert_eq!(net.nodes[s].core.peer_count(), 0);
}

#[test]
fn a_rejected_peer_is_closed_and_never_opened() {
    let (mut net, s, p) = pair();
    let conn = connect_and_ask(&mut net, s, p);
    net.verdict(s, conn, PeerVerdict::Reject);
    net.pump();
    let log = net.nodes[s].take_log();
    assert_eq!(
        closes(&log),
        vec![(
            conn.key,
            Some((ErrorKind::Rejected, "peer rejected".to_string()))
        )]
    );
    assert!(opens(&log).is_empty(), "{log:?}");
    assert_eq!(onlines(&log, net.nodes[p].id), (0, 0));
    assert_eq!(net.nodes[s].core.peer_count(), 0);
    assert!(net.link_of(s, conn.key).is_none(), "the link is closed");
}

#[test]
fn an_accepted_peer_is_opened_and_not_closed() {
    // The same as above with the other verdict: what the reject test sees
    // is the reject's doing.
    let (mut net, s, p) = pair();
    let conn = connect_and_ask(&mut net, s, p);
    net.verdict(s, conn, PeerVerdict::Accept);
    net.pump();
    let log = net.nodes[s].take_log();
    assert_eq!(opens(&log), vec![conn]);
    assert!(closes(&log).is_empty(), "{log:?}");
    assert_eq!(onlines(&log, net.nodes[p].id), (1, 1));
    // The peer's connect query got `s`.
    let plog = net.nodes[p].take_log();
    assert_eq!(replies(&plog, 1), vec![Res::Peer(Some(net.nodes[s].id))]);
    assert!(!plog.iter().any(|r| matches!(r, Rec::Close { .. })));
}
