//! The node core's authentication deadline: an accepted connection whose
//! peer never sends its ping is closed with a `Timeout` error when the
//! time reaches `auth_timeout` after its accept, not a tick before.

mod core_support;

use std::time::Duration;

use core_support::{closes, Net, Rec};
use mydht::NodeConstants;
use mydht_base::ErrorKind;

const AUTH_MS: u64 = 5_000;

/// The connections closed by a `handle_timeout` at `base + ms`.
fn closed_at(net: &mut Net, node: usize, ms: u64) -> Vec<(usize, Option<(ErrorKind, String)>)> {
    net.nodes[node].take_log();
    net.tick(node, ms);
    closes(&net.nodes[node].take_log())
}

#[test]
fn a_silent_accepted_connection_is_closed_exactly_at_its_auth_deadline() {
    let mut net = Net::new();
    let constants = NodeConstants {
        auth_timeout: Duration::from_millis(AUTH_MS),
        // Distinct from the auth timeout: the close below is the auth's.
        verdict_timeout: Duration::from_millis(3_000),
        ..NodeConstants::default()
    };
    let s = net.add_node(
        core_support::addr(1001),
        core_support::addr(1001),
        None,
        constants,
    );

    // Two silent connections, accepted 2 s apart: each closes at its own
    // deadline (one cannot pass for the other).
    let (first, cref) = net.accept_silent(s);
    assert!(cref.is_some(), "accepted");
    net.now = net.at(2_000);
    let (second, cref) = net.accept_silent(s);
    assert!(cref.is_some(), "accepted");
    assert_ne!(first, second);
    net.pump();
    assert!(closes(&net.nodes[s].take_log()).is_empty());

    // One millisecond before the first deadline: nothing closes.
    assert!(closed_at(&mut net, s, AUTH_MS - 1).is_empty());

    // At the deadline: the first, with a timeout, and only it.
    let closed = closed_at(&mut net, s, AUTH_MS);
    assert_eq!(closed.len(), 1, "{closed:?}");
    let (conn, error) = &closed[0];
    assert_eq!(*conn, first);
    let (kind, msg) = error.as_ref().expect("an error");
    assert_eq!(*kind, ErrorKind::Timeout);
    assert_eq!(msg, "authentication timed out");

    // The second one's deadline, 2 s later: not a tick before either.
    assert!(closed_at(&mut net, s, 2_000 + AUTH_MS - 1).is_empty());
    let closed = closed_at(&mut net, s, 2_000 + AUTH_MS);
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(closed[0].0, second);
    assert_eq!(closed[0].1.as_ref().map(|e| e.0), Some(ErrorKind::Timeout));
    assert!(!net.nodes[s].core.is_handshaking(first));
    assert!(!net.nodes[s].core.is_handshaking(second));
}

#[test]
fn a_driver_following_poll_timeout_closes_the_silent_connection_at_its_deadline() {
    let mut net = Net::new();
    let constants = NodeConstants {
        auth_timeout: Duration::from_millis(AUTH_MS),
        ..NodeConstants::default()
    };
    let s = net.add_node(
        core_support::addr(1002),
        core_support::addr(1002),
        None,
        constants,
    );
    net.now = net.at(250);
    let (key, _) = net.accept_silent(s);
    let deadline = net.at(250 + AUTH_MS);
    net.pump();
    // As a driver would: wake at each `poll_timeout`, until the close.
    let mut steps = 0;
    let closed_at = loop {
        steps += 1;
        assert!(steps < 1_000, "no close by {steps} wakes");
        let due = net.nodes[s].core.poll_timeout();
        assert!(due <= deadline, "the deadline was skipped over");
        net.now = due;
        net.nodes[s].core.handle_timeout(due);
        net.pump();
        let log = net.nodes[s].take_log();
        if let Some((conn, error)) = closes(&log).into_iter().next() {
            assert_eq!(conn, key);
            assert_eq!(error.map(|e| e.0), Some(ErrorKind::Timeout));
            break due;
        }
        assert!(net.nodes[s].core.is_handshaking(key), "{log:?}");
        assert!(!log.iter().any(|r| matches!(r, Rec::Close { .. })));
    };
    assert_eq!(closed_at, deadline);
}
