//! The touch scenarios under `may_blocking!`: read and write services as
//! may coroutines over `MayTcpTransport` (port 0), with each other, with
//! polled and blocking nodes, in AES-256-GCM, without authentication, with
//! services respawned after every command, with direct replies, in a
//! triangle of three profiles.
//!
//! Not over the in-memory transport: its blocking mode waits on std
//! condition variables, which hold a may worker thread (and every
//! coroutine queued on it) for the whole wait.

use mydht::{AuthMode, CipherSuite, NodeConstants, ServiceLoops};
use mydht_base::Result;
use mydht_basetest::harness::conf::{blocking_loopback, loopback, BLOCKING_IO_TIMEOUT};
use mydht_basetest::harness::nodes::{connect_and_touch, touch_pair};
use mydht_basetest::touch_conf;
use mydht_tcp::{BlockingTcpTransport, MayTcpTransport, TcpTransport};

/// A may transport on 127.0.0.1, port 0, whose waits on plain threads time
/// out: the listener thread gives up on a silent peer's handshake. The
/// services' coroutines wait without a timer (a stop wakes them).
fn may_loopback() -> Result<MayTcpTransport> {
    Ok(MayTcpTransport::bind(([127, 0, 0, 1], 0).into())?
        .with_io_timeout(Some(BLOCKING_IO_TIMEOUT)))
}

fn aes() -> NodeConstants {
    NodeConstants {
        cipher_suite: CipherSuite::Aes256Gcm,
        ..NodeConstants::default()
    }
}

fn no_auth() -> NodeConstants {
    NodeConstants {
        auth_mode: AuthMode::NoAuth,
        ..NodeConstants::default()
    }
}

/// Every service loop ends after one command and is spawned again.
fn one_shot() -> NodeConstants {
    let one = ServiceLoops {
        write: 1,
        local: 1,
        global: 1,
        api: 1,
        peer_store: 1,
        peer_mgmt: 1,
    };
    NodeConstants {
        loops: one,
        ..NodeConstants::default()
    }
}

touch_conf!(MayTcp, may_blocking, MayTcpTransport, may_loopback());
touch_conf!(MayAes, may_blocking, MayTcpTransport, may_loopback(), aes());
touch_conf!(AesRs, restartable, TcpTransport, loopback(), aes());
touch_conf!(
    MayNoAuth,
    may_blocking,
    MayTcpTransport,
    may_loopback(),
    no_auth()
);
touch_conf!(NoAuthRs, restartable, TcpTransport, loopback(), no_auth());
touch_conf!(
    MayLoopReplies,
    may_blocking,
    MayTcpTransport,
    may_loopback(),
    NodeConstants {
        direct_replies: false,
        ..NodeConstants::default()
    }
);
touch_conf!(
    MayOneShot,
    may_blocking,
    MayTcpTransport,
    may_loopback(),
    one_shot()
);
touch_conf!(RestartTcp, restartable, TcpTransport, loopback());
touch_conf!(
    BlockingTcp,
    threaded_blocking,
    BlockingTcpTransport,
    blocking_loopback()
);
touch_conf!(ThreadedTcp, threaded, TcpTransport, loopback());

#[test]
fn test_connect_may() {
    touch_pair(MayTcp, MayTcp);
}

/// A may node and a polled one speak the same protocol, whichever side
/// connects.
#[test]
fn test_connect_may_with_polled() {
    let n1 = mydht::start_loop(MayTcp).expect("node 1");
    let n2 = mydht::start_loop(RestartTcp).expect("node 2");
    connect_and_touch(&n1, &n2);
    connect_and_touch(&n2, &n1);
    n1.stop().expect("stop node 1");
    n2.stop().expect("stop node 2");
}

/// A may node and a `threaded_blocking!` one (services on threads).
#[test]
fn test_connect_may_with_blocking() {
    let n1 = mydht::start_loop(BlockingTcp).expect("node 1");
    let n2 = mydht::start_loop(MayTcp).expect("node 2");
    connect_and_touch(&n1, &n2);
    connect_and_touch(&n2, &n1);
    n1.stop().expect("stop node 1");
    n2.stop().expect("stop node 2");
}

/// Local replies through the main loop (`direct_replies` off; by default
/// they go straight to the write coroutine).
#[test]
fn test_connect_may_loop_replies() {
    touch_pair(MayLoopReplies, MayLoopReplies);
}

/// Services respawned on their state after every command: a coroutine per
/// command.
#[test]
fn test_connect_may_one_command_loops() {
    touch_pair(MayOneShot, MayOneShot);
}

/// The session in AES-256-GCM, against a polled node.
#[test]
fn test_connect_may_aes() {
    touch_pair(MayAes, AesRs);
}

/// The listener and connector threads in `NoAuth` mode, against a polled
/// node.
#[test]
fn test_connect_may_no_auth() {
    touch_pair(MayNoAuth, NoAuthRs);
}

/// Nodes of three profiles in a triangle.
#[test]
fn test_connect_may_mixed_profiles() {
    let n1 = mydht::start_loop(MayTcp).expect("node 1");
    let n2 = mydht::start_loop(ThreadedTcp).expect("node 2");
    let n3 = mydht::start_loop(RestartTcp).expect("node 3");
    connect_and_touch(&n1, &n2);
    connect_and_touch(&n2, &n3);
    connect_and_touch(&n3, &n1);
    for n in [n1.stop(), n2.stop(), n3.stop()] {
        n.expect("stop");
    }
}
