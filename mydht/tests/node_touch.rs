//! The touch scenario under every execution profile, on real TCP (port 0).

use mydht_basetest::harness::conf::{blocking_loopback, loopback};
use mydht_basetest::harness::nodes::{connect_and_touch, touch_pair};
use mydht_basetest::touch_conf;
use mydht_tcp::{BlockingTcpTransport, TcpTransport};

touch_conf!(ThreadedTcp, threaded, TcpTransport, loopback());
touch_conf!(
    BlockingTcp,
    threaded_blocking,
    BlockingTcpTransport,
    blocking_loopback()
);
touch_conf!(LocalTcp, single_thread, TcpTransport, loopback());

/// Every service loop ends after one command and is spawned again.
fn one_shot() -> mydht::NodeConstants {
    let one = mydht::ServiceLoops {
        write: 1,
        local: 1,
        global: 1,
        api: 1,
        peer_store: 1,
        peer_mgmt: 1,
    };
    mydht::NodeConstants {
        loops: one,
        ..mydht::NodeConstants::default()
    }
}

touch_conf!(OneShotTh, threaded, TcpTransport, loopback(), one_shot());
touch_conf!(OneShotRs, restartable, TcpTransport, loopback(), one_shot());
touch_conf!(
    LoopRepliesTcp,
    threaded,
    TcpTransport,
    loopback(),
    mydht::NodeConstants {
        direct_replies: false,
        ..mydht::NodeConstants::default()
    }
);
touch_conf!(RestartTcp, restartable, TcpTransport, loopback());

#[test]
fn test_connect_all_th() {
    touch_pair(ThreadedTcp, ThreadedTcp);
}

/// The synchronous listener/connector pair with the blocking TCP transport
/// (only thread-based profiles can block).
#[test]
fn test_connect_all_th_blocking() {
    touch_pair(BlockingTcp, BlockingTcp);
}

/// A blocking node and a polled one speak the same protocol.
#[test]
fn test_connect_blocking_with_polled() {
    let n1 = mydht::start_loop(BlockingTcp).expect("node 1");
    let n2 = mydht::start_loop(RestartTcp).expect("node 2");
    connect_and_touch(&n1, &n2);
    connect_and_touch(&n2, &n1);
    n1.stop().expect("stop node 1");
    n2.stop().expect("stop node 2");
}

/// Local replies through the main loop (`direct_replies` off; by default
/// they go straight to the write service).
#[test]
fn test_connect_all_th_loop_replies() {
    touch_pair(LoopRepliesTcp, LoopRepliesTcp);
}

/// Services respawned on their state after every command, on threads and
/// restartable.
#[test]
fn test_connect_one_command_loops() {
    let n1 = mydht::start_loop(OneShotTh).expect("node 1");
    let n2 = mydht::start_loop(OneShotRs).expect("node 2");
    connect_and_touch(&n1, &n2);
    connect_and_touch(&n2, &n1);
    n1.stop().expect("stop node 1");
    n2.stop().expect("stop node 2");
}

#[test]
fn test_connect_local() {
    touch_pair(LocalTcp, LocalTcp);
}

#[test]
fn test_connect_restartable() {
    touch_pair(RestartTcp, RestartTcp);
}

/// Nodes of different profiles speak the same protocol.
#[test]
fn test_connect_mixed_profiles() {
    let n1 = mydht::start_loop(ThreadedTcp).expect("node 1");
    let n2 = mydht::start_loop(RestartTcp).expect("node 2");
    let n3 = mydht::start_loop(LocalTcp).expect("node 3");
    connect_and_touch(&n1, &n2);
    connect_and_touch(&n2, &n3);
    connect_and_touch(&n3, &n1);
    for n in [n1.stop(), n2.stop(), n3.stop()] {
        n.expect("stop");
    }
}
