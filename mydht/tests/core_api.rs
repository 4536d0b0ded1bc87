//! The node core's api queries: a query expires at its deadline (the core
//! registers it with its deadline and sends the api service the clock;
//! a real `ApiBook` fails it), and a connect goes by the address this node
//! dialled, never by the address a peer announces.

mod core_support;

use std::time::{Duration, Instant};

use core_support::{addr, dials, offlines, replies, Net, Rec, Res};
use mydht::command::{ApiAction, PeerCount};
use mydht::service::{ApiResult, QueryId, ReplySlot};
use mydht::{NodeConstants, PeerVerdict};
use mydht_base::{ErrorKind, Peer};

type Slot = ReplySlot<ApiResult<core_support::Conf>>;

/// The error a finished query failed with (taken from its slot: once).
fn failure(slot: &Slot) -> (ErrorKind, String) {
    assert!(slot.is_done(), "the query is still pending");
    let e = slot.wait(Duration::ZERO).expect_err("the query failed");
    (e.kind(), e.message().to_string())
}

#[test]
fn a_wait_query_fails_with_a_timeout_at_its_deadline_and_not_before() {
    let mut net = Net::new();
    let n = net.node(1001, Some(PeerVerdict::Accept));
    net.pump();
    net.nodes[n].take_log();
    // Two queries whose deadlines differ by less than the core's query
    // tick (100 ms): 1000 ms, on a tick, and 1050 ms, between two.
    let wait = || ApiAction::WaitPeers(PeerCount::AtLeast(5));
    let (q1, s1) = net.api(n, Duration::from_millis(1_000), wait());
    let (q2, s2) = net.api(n, Duration::from_millis(1_050), wait());
    net.pump();
    let log = net.nodes[n].take_log();
    let deadlines: Vec<(QueryId, Instant)> = core_support::only(&log, |r| match r {
        Rec::Register { qid, deadline } => Some((*qid, *deadline)),
        _ => None,
    });
    let (d1, d2) = (net.at(1_000), net.at(1_050));
    assert_eq!(deadlines, vec![(q1, d1), (q2, d2)]);
    assert_eq!(net.nodes[n].book.len(), 2);

    // As a driver would: wake at each `poll_timeout`; the api service (the
    // net's `ApiBook`) gets every `Api` action.
    let mut failed_at: Vec<(QueryId, Instant)> = Vec::new();
    let mut expires = 0;
    while failed_at.len() < 2 {
        let due = net.nodes[n].core.poll_timeout();
        assert!(due <= net.at(2_000), "no expiry by 2 s");
        net.now = due;
        net.nodes[n].core.handle_timeout(due);
        net.pump();
        for r in net.nodes[n].take_log() {
            match r {
                Rec::Expire(t) => {
                    assert_eq!(t, due);
                    expires += 1;
                    for (q, s, d) in [(q1, &s1, d1), (q2, &s2, d2)] {
                        let done = failed_at.iter().any(|(f, _)| *f == q);
                        if t < d {
                            assert!(!s.is_done(), "query {q} failed before its deadline");
                        } else if !done {
                            // The book's expiry (the slot is done: not
                            // the wait's own timeout; the core sent no
                            // `Fail`, see below).
                            assert_eq!(failure(s).0, ErrorKind::Timeout);
                            failed_at.push((q, t));
                        }
                    }
                }
                Rec::Reply { .. } | Rec::Fail { .. } => panic!("the core answered: {r:?}"),
                _ => {}
            }
        }
    }
    assert!(
        expires >= 10,
        "the clock reached the api service: {expires}"
    );
    // The first at its deadline exactly (a tick), the second at the first
    // tick past its own.
    assert_eq!(failed_at, vec![(q1, d1), (q2, net.at(1_100))]);
    assert!(net.nodes[n].book.is_empty());
}

#[test]
fn a_wait_query_whose_count_holds_is_answered_not_expired() {
    // The other outcome of the same query: the book's slot gets the reply.
    let mut net = Net::new();
    let n = net.node(1001, Some(PeerVerdict::Accept));
    let (q, slot) = net.api(
        n,
        Duration::from_millis(1_000),
        ApiAction::WaitPeers(PeerCount::AtMost(0)),
    );
    net.pump();
    let log = net.nodes[n].take_log();
    assert_eq!(replies(&log, q), vec![Res::Peers(vec![])]);
    assert!(slot.is_done());
    let got = slot.wait(Duration::ZERO).expect("answered");
    assert!(matches!(got.as_slice(), [ApiResult::Peers(p)] if p.is_empty()));
    assert!(net.nodes[n].book.is_empty());
}

#[test]
fn an_announced_address_is_not_trusted_for_a_connect() {
    let mut net = Net::new();
    let us = net.node(1001, Some(PeerVerdict::Accept));
    let y = net.node(1002, Some(PeerVerdict::Accept));
    let y_addr = net.nodes[y].listen;
    // X listens on 1003 and announces Y's address.
    let x = net.add_node(
        addr(1003),
        y_addr,
        Some(PeerVerdict::Accept),
        NodeConstants::default(),
    );
    let (x_id, y_id) = (net.nodes[x].id, net.nodes[y].id);
    let us_addr = net.nodes[us].listen;
    net.connect(x, us_addr);
    net.pump();
    let connected = net.nodes[us].core.connected_peers();
    assert_eq!(connected.len(), 1);
    assert_eq!(*connected[0].get_id(), x_id);
    assert_eq!(connected[0].get_address(), &y_addr.to_string());
    net.nodes[us].take_log();

    // Connect to Y's address: a dial there, answered with Y.
    let (q, slot) = net.connect(us, y_addr);
    net.pump();
    let log = net.nodes[us].take_log();
    assert_eq!(dials(&log), vec![y_addr], "{log:?}");
    assert_eq!(replies(&log, q), vec![Res::Peer(Some(y_id))], "{log:?}");
    let got = slot.wait(Duration::ZERO).expect("connected");
    assert!(matches!(got.as_slice(), [ApiResult::Peer(Some(p))] if *p.get_id() == y_id));
    assert_eq!(net.nodes[us].core.peer_count(), 2);

    // X leaves.
    net.nodes[x].core.stop();
    net.pump();
    let log = net.nodes[us].take_log();
    assert_eq!(offlines(&log, x_id), (1, 1), "{log:?}");
    assert_eq!(offlines(&log, y_id), (0, 0), "{log:?}");

    // The connection dialled to Y's address is still the one a connect
    // there returns: no dial.
    let (q, _slot) = net.connect(us, y_addr);
    net.pump();
    let log = net.nodes[us].take_log();
    assert_eq!(dials(&log), vec![], "{log:?}");
    assert_eq!(replies(&log, q), vec![Res::Peer(Some(y_id))], "{log:?}");
}
