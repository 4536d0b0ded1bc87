//! Failures on the reply route reach the sender's api as typed errors, not
//! as the query's timeout: a reply hop's report goes back along the reply
//! route to the exit, then along the query route to the sender, each hop
//! adding its layer; a reply that reaches the sender broken is her own
//! failure. The six cases give six distinct answers:
//!
//! | what failed | answer |
//! |---|---|
//! | the first reply relay stopped | `HopFailed { hop: <the exit>, Unreachable }` |
//! | the second reply relay stopped | `ReplyHopFailed { hop: 0, Unreachable }` |
//! | the exit changed a reply cell | `ReplyHopFailed { hop: 0, BadContent }` |
//! | the last reply relay changed one | `ReplyHopFailed { hop: 1, BadContent }` (the sender) |
//! | the last reply relay changed the reply header | `ReplyHopFailed { hop: 1, BadHeader }` (the sender's report of zeros, back around both routes) |
//! | a relay on both routes stopped | `ReplyRelayOffline { hop: 0 }` (the sender's node saw it go offline) |

mod support;

use std::time::{Duration, Instant};

use mydht::prelude::*;
use mydht::{NoShadow, SessionShadow};
use mydht_basetest::harness::nodes::stop_all;
use mydht_tunnel::{Carriage, ReplyRoute, TunnelAnswer, TunnelSendError};
use support::spy::Relaying::Honest;
use support::spy::{ping, start_spies, Gate, Spy, SpyShadow};
use support::wire::Wire;
use support::{Ping, PingPong, TIMEOUT};
use tunnel::{HopFailure, TunnelConfig, TunnelError};

/// A reply hop's failure must be answered this long after the query at
/// the latest (the tunnel timeout is 10 s).
const IN_TIME: Duration = Duration::from_secs(5);

fn spy<S: SpyShadow>() -> Spy<S> {
    Spy::new(TunnelConfig::default(), Carriage::Streamed, Honest).0
}

/// Where a hop failed: on the reply route or not, its index, why.
type Failed = (bool, usize, HopFailure);

/// Asserts `got` is the hop failure `expected`, in time.
fn assert_failed(got: TunnelAnswer<PingPong>, expected: Failed, started: Instant) {
    let failed = match &got {
        Err(TunnelSendError::Tunnel(TunnelError::HopFailed { hop, failure })) => {
            Some((false, *hop, *failure))
        }
        Err(TunnelSendError::Tunnel(TunnelError::ReplyHopFailed { hop, failure })) => {
            Some((true, *hop, *failure))
        }
        _ => None,
    };
    assert_eq!(failed, Some(expected), "{got:?}");
    assert!(started.elapsed() < IN_TIME, "{:?}", started.elapsed());
}

/// Alice (node 0) pings Bob (node 1) through `hops` relays, the reply
/// coming back by `reply`; while Bob or a reply relay holds the onion at
/// `gate`, `meanwhile` gets the tag of the node held and the nodes after
/// Alice and Bob, and stops some. The answer.
fn ping_with_a_stop(
    mut nodes: Vec<NodeHandle<Spy>>,
    gate: &Gate,
    (hops, reply): (usize, ReplyRoute),
    meanwhile: impl FnOnce(usize, Vec<NodeHandle<Spy>>) -> Vec<NodeHandle<Spy>>,
) -> (TunnelAnswer<PingPong>, Instant) {
    let others = nodes.split_off(2);
    let ping = Ping {
        to: *nodes[1].local_peer().get_id(),
        hops,
        reply,
        n: 1,
        body: 10,
    };
    let started = Instant::now();
    let (got, left) = std::thread::scope(|s| {
        let alice = &nodes[0];
        let query = s.spawn(move || alice.query(ping.into(), 1, TIMEOUT));
        let held = gate.first(TIMEOUT);
        let left = meanwhile(held, others);
        gate.open();
        (query.join().expect("query thread"), left)
    });
    stop_all(left).expect("stop");
    stop_all(nodes).expect("stop");
    let mut got = got.expect("query");
    (got.pop().expect("an answer"), started)
}

#[test]
fn a_stopped_first_reply_relay_is_reported_by_the_exit() {
    // Bob holds the query until R is stopped: his reply cannot reach R.
    let gate = Gate::default();
    let confs = vec![spy(), spy().gated(gate.clone(), 1), spy()];
    let (got, started) = ping_with_a_stop(
        start_spies(confs),
        &gate,
        (0, ReplyRoute::Other(1)),
        |held, mut r| {
            assert_eq!(held, 1);
            r.pop().expect("R").stop().expect("stop R");
            r
        },
    );
    let expected = (false, 0, HopFailure::Unreachable);
    assert_failed(got, expected, started);
}

#[test]
fn a_stopped_second_reply_relay_is_reported_by_the_first_through_the_exit() {
    // The first reply relay (whichever of 2 and 3 the route put first)
    // holds the reply until the other is stopped.
    let gate = Gate::default();
    let confs = vec![
        spy(),
        spy(),
        spy().gated(gate.clone(), 2),
        spy().gated(gate.clone(), 3),
    ];
    let (got, started) = ping_with_a_stop(
        start_spies(confs),
        &gate,
        (0, ReplyRoute::Other(2)),
        |held, mut r| {
            let second = r.remove(if held == 2 { 1 } else { 0 });
            second.stop().expect("stop the second reply relay");
            r
        },
    );
    let expected = (true, 0, HopFailure::Unreachable);
    assert_failed(got, expected, started);
}

#[test]
fn a_stopped_relay_on_both_routes_is_reported_by_the_senders_node() {
    // Alice -> R -> Bob and back the same way: Bob holds the query until
    // R is stopped. Bob's report of R cannot pass R; Alice's node sees R
    // go offline while the reply route goes through it.
    let gate = Gate::default();
    let confs = vec![spy(), spy().gated(gate.clone(), 1), spy()];
    let route = (1, ReplyRoute::SameRoute);
    let (got, started) = ping_with_a_stop(start_spies(confs), &gate, route, |held, mut r| {
        assert_eq!(held, 1);
        r.pop().expect("R").stop().expect("stop R");
        r
    });
    match got {
        Err(TunnelSendError::ReplyRelayOffline { hop: 0 }) => {}
        other => panic!("expected ReplyRelayOffline {{ hop: 0 }}: {other:?}"),
    }
    println!(
        "relay on both routes stopped: answered after {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < IN_TIME, "{:?}", started.elapsed());
}

/// Alice pings Bob straight, the reply through one relay; `tampering`
/// says which of Alice, Bob and the relay flip a byte of the first cell
/// they send (a clear shadow: the byte is the cell's).
fn reply_cell_changed(tampering: [bool; 3]) -> (TunnelAnswer<PingPong>, Instant) {
    let confs = tampering
        .iter()
        .map(|&t| {
            let wire = if t {
                Wire::tampering()
            } else {
                Wire::default()
            };
            spy::<NoShadow>().on_wire(wire)
        })
        .collect();
    let nodes = start_spies(confs);
    let started = Instant::now();
    let got = ping(&nodes, 1, 0, ReplyRoute::Other(1), 1, 10);
    stop_all(nodes).expect("stop");
    (got, started)
}

#[test]
fn a_reply_cell_changed_by_the_exit_is_reported_by_the_reply_relay() {
    let (got, started) = reply_cell_changed([false, true, false]);
    let expected = (true, 0, HopFailure::BadContent);
    assert_failed(got, expected, started);
}

#[test]
fn a_reply_cell_changed_by_the_last_reply_relay_is_caught_by_the_sender() {
    let (got, started) = reply_cell_changed([false, false, true]);
    let expected = (true, 1, HopFailure::BadContent);
    assert_failed(got, expected, started);
}

#[test]
fn a_reply_header_the_sender_cannot_read_is_reported() {
    // Alice -> Bob straight, the reply through R, which changes a byte of
    // the reply header it sends Alice.
    use support::spy::Relaying::Tamper;
    let confs = vec![
        spy(),
        spy(),
        Spy::<SessionShadow>::new(TunnelConfig::default(), Carriage::Streamed, Tamper).0,
    ];
    let nodes = start_spies(confs);
    let started = Instant::now();
    let got = ping(&nodes, 1, 0, ReplyRoute::Other(1), 1, 10);
    stop_all(nodes).expect("stop");
    println!(
        "reply header changed: {got:?} after {:?}",
        started.elapsed()
    );
    let expected = (true, 1, HopFailure::BadHeader);
    assert_failed(got, expected, started);
}
