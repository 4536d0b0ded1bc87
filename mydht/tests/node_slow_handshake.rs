//! An inbound handshake ends at its deadline even while the peer keeps
//! sending: a client that trickles a handshake frame one byte at a time,
//! each sooner than a blocking transport's I/O timeout, is dropped once
//! `auth_timeout` has passed, not when its frame completes. A blocking
//! transport's listener authenticates at most a few connections at once,
//! so such clients would otherwise keep every other peer out for as long
//! as they trickle; the polled driver (mio) is checked the same way.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use mydht::NodeConstants;
use mydht_basetest::harness::conf::{blocking_loopback, loopback, BLOCKING_IO_TIMEOUT};
use mydht_basetest::harness::nodes::address_of;
use mydht_basetest::touch_conf;
use mydht_tcp::{BlockingTcpTransport, TcpTransport};

/// The node's handshake deadline in this test.
const AUTH_TIMEOUT: Duration = Duration::from_millis(300);

touch_conf!(
    SlowlyFed,
    threaded_blocking,
    BlockingTcpTransport,
    blocking_loopback(),
    NodeConstants {
        auth_timeout: AUTH_TIMEOUT,
        ..NodeConstants::default()
    }
);
touch_conf!(
    SlowlyFedPolled,
    threaded,
    TcpTransport,
    loopback(),
    NodeConstants {
        auth_timeout: AUTH_TIMEOUT,
        ..NodeConstants::default()
    }
);

#[test]
fn a_handshake_frame_trickled_in_is_dropped_at_the_deadline() {
    let node = mydht::start_loop(SlowlyFed).expect("node");
    trickle_until_closed(address_of(&node).expect("address"));
    node.stop().expect("stop");
}

#[test]
fn a_handshake_frame_trickled_in_is_dropped_at_the_deadline_polled() {
    let node = mydht::start_loop(SlowlyFedPolled).expect("node");
    trickle_until_closed(address_of(&node).expect("address"));
    node.stop().expect("stop");
}

/// Trickles a handshake frame into `address` and asserts that the node
/// closes the connection within ten handshake deadlines.
fn trickle_until_closed(address: std::net::SocketAddr) {
    let mut client = TcpStream::connect(address).expect("connect");
    // Each wait for the node's close paces the next byte, well within the
    // node's I/O timeout: its reads never time out.
    let pace = BLOCKING_IO_TIMEOUT / 3;
    client.set_read_timeout(Some(pace)).expect("read timeout");
    // A handshake frame of 8,000 bytes (within the handshake's maximum):
    // at this pace, about 2.7 minutes to send whole.
    client
        .write_all(&8000u32.to_be_bytes())
        .expect("length prefix");
    let start = Instant::now();
    let give_up = AUTH_TIMEOUT * 10;
    let mut sent = 0u32;
    let closed = loop {
        if start.elapsed() > give_up {
            break false;
        }
        if client.write_all(&[7]).is_err() {
            break true;
        }
        sent += 1;
        let mut byte = [0u8; 1];
        match client.read(&mut byte) {
            Ok(0) => break true,
            Ok(_) => panic!("the node answered a frame it never got whole"),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            // A reset is a close too.
            Err(_) => break true,
        }
    };
    assert!(
        closed,
        "still open {:?} after the connection opened ({sent} bytes trickled), deadline {AUTH_TIMEOUT:?}",
        start.elapsed()
    );
    assert!(sent < 8000, "the frame was never completed: {sent} bytes");
}
