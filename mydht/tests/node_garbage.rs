//! What a peer that does not authenticate can do to a node: nothing that
//! lasts. Oversized, malformed and silent connections are closed; the node
//! keeps serving authenticated peers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use mydht::NodeConstants;
use mydht_base::Peer;
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::{connect_and_touch, TIMEOUT};
use mydht_basetest::touch_conf;
use mydht_tcp::TcpTransport;

touch_conf!(
    Guarded,
    threaded,
    TcpTransport,
    loopback(),
    NodeConstants {
        auth_timeout: Duration::from_millis(300),
        ..NodeConstants::default()
    }
);
touch_conf!(Plain, restartable, TcpTransport, loopback());

/// Connects to `node` raw, sends `bytes`, and says whether the node closed
/// the connection (end of stream or reset) within the test timeout.
fn closed_after(address: &str, bytes: &[u8]) -> bool {
    let mut s = TcpStream::connect(address).expect("raw connect");
    s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    s.write_all(bytes).expect("write");
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            // The node may answer before closing (nothing expected here).
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

#[test]
fn test_unauthenticated_connections_are_closed() {
    let node = mydht::start_loop(Guarded).expect("node");
    let address = node.local_peer().get_address().clone();
    // A frame length of 1 GiB: refused before anything is buffered.
    assert!(closed_after(&address, &(1u32 << 30).to_be_bytes()));
    // A small frame that is not a handshake message.
    let mut junk = 5u32.to_be_bytes().to_vec();
    junk.extend_from_slice(b"junk!");
    assert!(closed_after(&address, &junk));
    // Silence: closed at the authentication deadline.
    assert!(closed_after(&address, &[]));

    let other = mydht::start_loop(Plain).expect("other node");
    connect_and_touch(&other, &node);
    assert_eq!(node.connected_peers(TIMEOUT).expect("peers").len(), 1);
    node.stop().expect("stop");
    other.stop().expect("stop other");
}
