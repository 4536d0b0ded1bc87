//! `NodeConstants::auth_mode`: nodes in `NoAuth` mode connect and serve
//! each other, and a node never connects to one in the other mode.

use std::time::Duration;

use mydht::{AuthMode, NodeConstants};
use mydht_basetest::harness::conf::{blocking_loopback, loopback};
use mydht_basetest::harness::nodes::{address_of, connect, touch_pair};
use mydht_basetest::touch_conf;
use mydht_tcp::{BlockingTcpTransport, TcpTransport};

const TIMEOUT: Duration = Duration::from_secs(10);

fn no_auth() -> NodeConstants {
    NodeConstants {
        auth_mode: AuthMode::NoAuth,
        ..NodeConstants::default()
    }
}

touch_conf!(NoAuthRs, restartable, TcpTransport, loopback(), no_auth());
touch_conf!(
    NoAuthBlocking,
    threaded_blocking,
    BlockingTcpTransport,
    blocking_loopback(),
    no_auth()
);
touch_conf!(SignedRs, restartable, TcpTransport, loopback());

#[test]
fn test_connect_restartable_no_auth() {
    touch_pair(NoAuthRs, NoAuthRs);
}

/// The synchronous listener/connector pair in `NoAuth` mode, against a
/// polled node.
#[test]
fn test_connect_blocking_no_auth() {
    touch_pair(NoAuthBlocking, NoAuthRs);
}

/// A `NoAuth` node cannot connect to a `Signed` one, nor the other way;
/// the `Signed` node is left without peers and still serves a `Signed`
/// peer.
#[test]
fn test_modes_do_not_mix() {
    let signed = mydht::start_loop(SignedRs).expect("signed node");
    let open = mydht::start_loop(NoAuthRs).expect("NoAuth node");

    let err = connect(&open, &signed).expect_err("NoAuth to Signed");
    assert!(!err.is_would_block(), "{err}");
    let to_open = address_of(&open).expect("address");
    assert!(
        signed.connect(to_open, TIMEOUT).is_err(),
        "Signed to NoAuth"
    );
    assert!(signed.connected_peers(TIMEOUT).expect("peers").is_empty());
    assert!(open.connected_peers(TIMEOUT).expect("peers").is_empty());

    let other = mydht::start_loop(SignedRs).expect("another signed node");
    connect(&other, &signed).expect("Signed to Signed");

    for node in [signed, other] {
        node.stop().expect("stop");
    }
    open.stop().expect("stop");
}
