//! `query_partial`: a query gives the replies that arrived by its timeout,
//! with the number it expected, instead of failing with none of them.

use std::time::{Duration, Instant};

use mydht_base::Peer;
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::{connect, stop_all, TIMEOUT};
use mydht_basetest::harness::touch::{Touch, Touched};
use mydht_basetest::touch_conf;
use mydht_tcp::TcpTransport;

touch_conf!(Threaded, threaded, TcpTransport, loopback());
touch_conf!(Restartable, restartable, TcpTransport, loopback());

fn partial_replies<C: mydht::MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>>(c1: C, c2: C) {
    let n1 = mydht::start_loop(c1).expect("node 1");
    let n2 = mydht::start_loop(c2).expect("node 2");
    connect(&n1, &n2).expect("connected");
    let (p1, p2) = (*n1.local_peer().get_id(), *n2.local_peer().get_id());

    // A touch of a peer that is not connected gets one reply, its own
    // node's (the message to the peer is dropped): asking for two, the one
    // comes back with the count expected, however loaded the machine.
    let nobody = mydht::PeerId::from([0x7e; 32]);
    let short = Duration::from_millis(300);
    let got = n1.query_partial(Touch(nobody), 2, short).expect("partial");
    assert_eq!(got.expected, 2);
    assert!(!got.is_complete());
    assert_eq!(got.replies, vec![Touched(p1)], "the reply that came");
    // The strict form fails on the same query, saying how many came.
    let err = n1.query(Touch(nobody), 2, short).expect_err("strict");
    assert!(matches!(err, mydht::NodeError::Timeout(_)), "{err}");
    assert!(err.error().message().contains("1 of 2"), "{err}");

    // Asking for the two that come: complete, as soon as they are in.
    let start = Instant::now();
    let got = n1.query_partial(Touch(p2), 2, TIMEOUT).expect("complete");
    assert!(got.is_complete());
    assert_eq!((got.replies.len(), got.expected), (2, 2));
    let mut by: Vec<_> = got.replies.iter().map(|t| t.0).collect();
    by.sort();
    let mut both = vec![p1, p2];
    both.sort();
    assert_eq!(by, both, "its node's reply and the peer's");
    assert!(start.elapsed() < TIMEOUT / 2, "not held to the timeout");
    stop_all([n1, n2]).expect("stop");
}

#[test]
fn test_partial_replies_threaded() {
    partial_replies(Threaded, Threaded);
}

#[test]
fn test_partial_replies_restartable() {
    partial_replies(Restartable, Restartable);
}
