//! `NodeConstants::cipher_suite`: nodes in AES-256-GCM connect and serve
//! each other under every profile, and a node never connects to one in the
//! other suite, whichever side connects.

use std::time::Duration;

use mydht::{CipherSuite, NodeConstants};
use mydht_basetest::harness::conf::{blocking_loopback, loopback};
use mydht_basetest::harness::nodes::{address_of, connect, touch_pair};
use mydht_basetest::touch_conf;
use mydht_tcp::{BlockingTcpTransport, TcpTransport};

const TIMEOUT: Duration = Duration::from_secs(10);

fn aes() -> NodeConstants {
    NodeConstants {
        cipher_suite: CipherSuite::Aes256Gcm,
        ..NodeConstants::default()
    }
}

touch_conf!(AesRs, restartable, TcpTransport, loopback(), aes());
touch_conf!(AesThreaded, threaded, TcpTransport, loopback(), aes());
touch_conf!(
    AesBlocking,
    threaded_blocking,
    BlockingTcpTransport,
    blocking_loopback(),
    aes()
);
touch_conf!(ChaChaRs, restartable, TcpTransport, loopback());

#[test]
fn test_connect_restartable_aes() {
    touch_pair(AesRs, AesRs);
}

#[test]
fn test_connect_threaded_aes() {
    touch_pair(AesThreaded, AesRs);
}

/// The synchronous listener/connector pair in AES-256-GCM, against a
/// polled node.
#[test]
fn test_connect_blocking_aes() {
    touch_pair(AesBlocking, AesRs);
}

/// An AES node cannot connect to a ChaCha20-Poly1305 one, nor the other
/// way; both are left without peers and still serve a peer of their own
/// suite.
#[test]
fn test_suites_do_not_mix() {
    let chacha = mydht::start_loop(ChaChaRs).expect("ChaCha node");
    let aes = mydht::start_loop(AesRs).expect("AES node");

    let err = connect(&aes, &chacha).expect_err("AES to ChaCha");
    assert!(!err.is_would_block(), "{err}");
    let to_aes = address_of(&aes).expect("address");
    assert!(chacha.connect(to_aes, TIMEOUT).is_err(), "ChaCha to AES");
    assert!(chacha.connected_peers(TIMEOUT).expect("peers").is_empty());
    assert!(aes.connected_peers(TIMEOUT).expect("peers").is_empty());

    let other_chacha = mydht::start_loop(ChaChaRs).expect("another ChaCha node");
    connect(&other_chacha, &chacha).expect("ChaCha to ChaCha");
    let other_aes = mydht::start_loop(AesRs).expect("another AES node");
    connect(&other_aes, &aes).expect("AES to AES");

    for node in [chacha, other_chacha] {
        node.stop().expect("stop");
    }
    for node in [aes, other_aes] {
        node.stop().expect("stop");
    }
}
