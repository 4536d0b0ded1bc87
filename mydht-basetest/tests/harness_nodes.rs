//! The multi-node harness as its users rely on it: N nodes started on a
//! `MemNetwork` or loopback TCP, connected in a star, waited on and
//! touched; a failed start returns its error; every wait is bounded.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use mydht::PeerCount;
use mydht_base::{Error, ErrorKind, ErrorLevel, Peer, Result};
use mydht_basetest::harness::conf::{loopback, mem_network};
use mydht_basetest::harness::nodes::{
    address_of, connect, connect_star, start_nodes, stop_all, touch, wait_peers,
};
use mydht_basetest::harness::touch::Touched;
use mydht_basetest::touch_conf;
use mydht_basetest::transport::{MemConfig, MemTransport};
use mydht_tcp::TcpTransport;

touch_conf!(
    MemNode,
    restartable,
    MemTransport,
    mem_network().listen(MemConfig::nonblocking())
);
touch_conf!(TcpNode, threaded, TcpTransport, loopback());

/// Binds the first two transports it is asked for, then fails: the third
/// node of a start cannot start.
fn two_then_fail() -> Result<MemTransport> {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    if CALLS.fetch_add(1, Ordering::SeqCst) < 2 {
        mem_network().listen(MemConfig::nonblocking())
    } else {
        Err(Error::new(
            ErrorKind::Config,
            ErrorLevel::Fatal,
            "no third transport",
        ))
    }
}

touch_conf!(Flaky, threaded, MemTransport, two_then_fail());

#[test]
fn star_of_mem_nodes_touches_and_sees_leaves_go() {
    let mut nodes = start_nodes(4, || MemNode).expect("nodes");
    let others = nodes.split_off(1);
    let hub = nodes.pop().expect("hub");
    connect_star(&hub, &others).expect("star");
    let peers = wait_peers(&hub, PeerCount::AtLeast(3)).expect("hub peers");
    let mut ids: Vec<_> = peers.iter().map(|p| *p.get_id()).collect();
    let mut want: Vec<_> = others.iter().map(|n| *n.local_peer().get_id()).collect();
    ids.sort_by_key(|id| *id.as_bytes());
    want.sort_by_key(|id| *id.as_bytes());
    assert_eq!(ids, want, "the hub has exactly the others");

    for leaf in &others {
        let mut expected = vec![
            Touched(*leaf.local_peer().get_id()),
            Touched(*hub.local_peer().get_id()),
        ];
        expected.sort_by_key(|t| *t.0.as_bytes());
        assert_eq!(touch(leaf, &hub).expect("touch"), expected);
    }

    stop_all(others).expect("stop the leaves");
    wait_peers(&hub, PeerCount::AtMost(0)).expect("the hub sees them go");
    hub.stop().expect("stop the hub");
}

#[test]
fn tcp_nodes_listen_on_their_own_port_and_connect() {
    let nodes = start_nodes(2, || TcpNode).expect("nodes");
    let a: SocketAddr = address_of(&nodes[0]).expect("address");
    let b: SocketAddr = address_of(&nodes[1]).expect("address");
    assert!(a.ip().is_loopback() && b.ip().is_loopback());
    assert_ne!(a.port(), 0, "port 0 is resolved by the bind");
    assert_ne!(a.port(), b.port());
    let reached = connect(&nodes[0], &nodes[1]).expect("connect");
    assert_eq!(reached.get_id(), nodes[1].local_peer().get_id());
    stop_all(nodes).expect("stop");
}

#[test]
fn a_failed_start_returns_its_error() {
    let err = start_nodes(3, || Flaky).err().expect("the third fails");
    assert_eq!(err.kind(), ErrorKind::Config);
}
