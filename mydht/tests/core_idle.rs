//! Idle pooled connections in the node core (`NodeConstants::idle_close`,
//! `core/idle.rs`): one idle for the whole period ends its session
//! (`Finish`), its peer goes offline at once, and it closes when its write
//! service has ended; activity the driver reports, or a pool not larger
//! than `pool_size`, keeps it.

mod core_support;

use std::time::{Duration, Instant};

use core_support::{closes, offlines, Net, Rec};
use mydht::command::MainLoopCommand;
use mydht::{NodeConstants, PeerVerdict};

const IDLE_MS: u64 = 1_000;

/// Node 0 (idle close after [`IDLE_MS`], pool of `pool`) connected to node
/// 1 (defaults), logs empty: the key of node 0's connection.
fn connected(pool: usize) -> (Net, usize) {
    let mut net = Net::new();
    let constants = NodeConstants {
        idle_close: Some(Duration::from_millis(IDLE_MS)),
        pool_size: pool,
        ..NodeConstants::default()
    };
    let a = core_support::addr(2101);
    net.add_node(a, a, Some(PeerVerdict::Accept), constants);
    net.node(2102, Some(PeerVerdict::Accept));
    let b = net.nodes[1].listen;
    net.connect(0, b);
    net.pump();
    assert_eq!(net.nodes[0].core.peer_count(), 1, "connected");
    let key = *net.nodes[0].open.keys().next().expect("open");
    net.nodes[0].take_log();
    net.nodes[1].take_log();
    (net, key)
}

/// Gives node 0 the time `ms`, its connections last active at `last`.
fn tick_with(net: &mut Net, ms: u64, last: Option<Instant>) {
    net.now = net.at(ms);
    let now = net.now;
    net.nodes[0].core.handle_timeout_with(now, |_| last);
    net.pump();
}

#[test]
fn an_idle_connection_ends_its_session_then_closes() {
    let (mut net, key) = connected(0);
    let peer = net.nodes[1].id;
    net.tick(0, IDLE_MS - 1);
    assert!(
        !net.nodes[0].take_log().contains(&Rec::Finish(key)),
        "closed before its period"
    );
    net.tick(0, IDLE_MS + 1);
    let log = net.nodes[0].take_log();
    assert!(log.contains(&Rec::Finish(key)), "{log:?}");
    assert_eq!(offlines(&log, peer), (1, 1), "offline at once");
    assert!(
        closes(&log).is_empty(),
        "not closed before its session ended"
    );
    assert_eq!(net.nodes[0].core.peer_count(), 0);

    // Its write service ended the session: the connection closes, cleanly.
    let conn = net.nodes[0].open[&key];
    let now = net.now;
    let ended = MainLoopCommand::ConnectionEnded { conn, error: None };
    net.nodes[0].core.command(ended, now);
    net.pump();
    assert_eq!(closes(&net.nodes[0].take_log()), vec![(key, None)]);
    // The other node read the close: its peer is offline too.
    let id0 = net.nodes[0].id;
    assert_eq!(offlines(&net.nodes[1].take_log(), id0), (1, 1));
}

#[test]
fn a_session_that_never_ends_is_dropped_at_the_auth_timeout() {
    let (mut net, key) = connected(0);
    net.tick(0, IDLE_MS + 1);
    assert!(net.nodes[0].take_log().contains(&Rec::Finish(key)));
    let auth = NodeConstants::default().auth_timeout.as_millis() as u64;
    net.tick(0, IDLE_MS + 2 + auth);
    let closed = closes(&net.nodes[0].take_log());
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(closed[0].0, key);
    let (kind, why) = closed[0].1.clone().expect("an error");
    assert_eq!(kind, mydht_base::ErrorKind::Timeout);
    assert!(why.contains("idle"), "{why}");
}

#[test]
fn activity_moves_the_check_on() {
    let (mut net, key) = connected(0);
    // Bytes moved at 800 ms: not idle at 1,001, checked again at 1,800.
    let last = Some(net.at(800));
    tick_with(&mut net, IDLE_MS + 1, last);
    assert!(!net.nodes[0].take_log().contains(&Rec::Finish(key)));
    assert!(net.nodes[0].core.poll_timeout() <= net.at(1_800));
    tick_with(&mut net, 1_799, last);
    assert!(!net.nodes[0].take_log().contains(&Rec::Finish(key)));
    tick_with(&mut net, 1_801, last);
    assert!(net.nodes[0].take_log().contains(&Rec::Finish(key)));
}

#[test]
fn the_pool_is_kept() {
    let (mut net, key) = connected(1);
    net.tick(0, 3 * IDLE_MS);
    let log = net.nodes[0].take_log();
    assert!(!log.contains(&Rec::Finish(key)), "{log:?}");
    assert_eq!(net.nodes[0].core.peer_count(), 1);
}

#[test]
fn nothing_is_closed_without_idle_close() {
    let mut net = Net::new();
    net.node(2201, Some(PeerVerdict::Accept));
    net.node(2202, Some(PeerVerdict::Accept));
    let b = net.nodes[1].listen;
    net.connect(0, b);
    net.pump();
    net.nodes[0].take_log();
    net.tick(0, 3_600_000);
    let log = net.nodes[0].take_log();
    assert!(!log.iter().any(|r| matches!(r, Rec::Finish(_))), "{log:?}");
    assert_eq!(net.nodes[0].core.peer_count(), 1);
}
