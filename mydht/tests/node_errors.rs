//! The node handle's typed errors: what a caller matches on, each with the
//! node's error (kind, cause) behind it.

use std::io;
use std::net::TcpListener;
use std::time::Duration;

use mydht::{MyDHTConf, NodeError, PeerInfo, PeerManager, PeerVerdict};
use mydht_base::{ErrorKind, Peer, Result};
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::{address_of, TIMEOUT};
use mydht_basetest::harness::touch::Touch;
use mydht_basetest::{touch_conf, touch_conf_items};
use mydht_tcp::TcpTransport;

touch_conf!(Restartable, restartable, TcpTransport, loopback());
touch_conf!(Threaded, threaded, TcpTransport, loopback());

/// A node whose peer management refuses every peer (asked each time).
struct Refusing;

impl MyDHTConf for Refusing {
    touch_conf_items!(restartable, TcpTransport);

    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
    fn peer_manager(&mut self) -> Result<Box<dyn PeerManager>> {
        Ok(Box::new(|_: &PeerInfo, _: &PeerInfo| PeerVerdict::Reject))
    }
}

/// An address on loopback where nothing listens (bound, then closed).
fn closed_port() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

#[test]
fn connecting_to_a_closed_port_is_unreachable_with_the_io_cause() {
    let node = mydht::start_loop(Restartable).expect("node");
    let err = node
        .connect(closed_port(), TIMEOUT)
        .expect_err("nothing listens there");
    assert!(matches!(err, NodeError::Unreachable(_)), "{err}");
    assert_eq!(
        err.error().kind(),
        ErrorKind::Io(io::ErrorKind::ConnectionRefused)
    );
    // The cause chain reaches the socket's own error.
    let cause = std::error::Error::source(err.error()).expect("a cause");
    let io_err = cause.downcast_ref::<io::Error>().expect("an io::Error");
    assert_eq!(io_err.kind(), io::ErrorKind::ConnectionRefused);
    node.stop().expect("stop");
}

#[test]
fn a_peer_our_peer_management_refuses_is_rejected() {
    let refusing = mydht::start_loop(Refusing).expect("refusing node");
    let other = mydht::start_loop(Threaded).expect("other node");
    let err = refusing
        .connect(address_of(&other).expect("address"), TIMEOUT)
        .expect_err("refused");
    assert!(matches!(err, NodeError::Rejected(_)), "{err}");
    assert_eq!(err.error().kind(), ErrorKind::Rejected);
    let peers = refusing.connected_peers(TIMEOUT).expect("peers");
    assert!(peers.is_empty(), "a rejected peer is not listed: {peers:?}");
    other.stop().expect("stop");
    refusing.stop().expect("stop");
}

#[test]
fn a_peer_that_refuses_us_answers_connect_with_the_rejection() {
    let refusing = mydht::start_loop(Refusing).expect("refusing node");
    let node = mydht::start_loop(Threaded).expect("node");
    let err = node
        .connect(address_of(&refusing).expect("address"), TIMEOUT)
        .expect_err("the peer refuses us");
    assert!(matches!(err, NodeError::Rejected(_)), "{err}");
    assert!(err.error().message().contains("refused this node"), "{err}");
    // The peer that refused us is never listed, not even for a moment.
    let peers = node.connected_peers(TIMEOUT).expect("peers");
    assert!(
        peers.is_empty(),
        "a peer that refused us is listed: {peers:?}"
    );
    node.stop().expect("stop");
    refusing.stop().expect("stop");
}

#[test]
fn a_query_without_its_replies_times_out_and_a_stopped_node_says_so() {
    let node = mydht::start_loop(Threaded).expect("node");
    let me = *node.local_peer().get_id();
    let handle = node.clone();
    // Two replies expected, one comes (the node touches itself once).
    let err = node
        .query(Touch(me), 2, Duration::from_millis(200))
        .expect_err("one reply of two");
    assert!(matches!(err, NodeError::Timeout(_)), "{err}");
    node.stop().expect("stop");
    let err = handle.connected_peers(TIMEOUT).expect_err("stopped");
    assert!(matches!(err, NodeError::Stopped(_)), "{err}");
}
