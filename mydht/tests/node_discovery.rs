//! The peer store: finding peers through other peers, and discovery (nodes
//! below their pool size ask their peers for more and connect to them).

#[macro_use]
mod node_common;

use mydht::{NodeConstants, PeerCount};
use mydht_base::Peer;
use mydht_tcp::TcpTransport;
use node_common::TIMEOUT;

fn loopback() -> mydht_base::Result<TcpTransport> {
    TcpTransport::bind("127.0.0.1:0".parse().expect("literal address"))
}

const POOL: usize = 5;

touch_conf!(RestartTcp, restartable, TcpTransport, loopback());
touch_conf!(
    PooledTcp,
    restartable,
    TcpTransport,
    loopback(),
    NodeConstants {
        pool_size: POOL,
        ..NodeConstants::default()
    }
);

#[test]
fn test_find_through_peer_store() {
    let nodes: Vec<_> = (0..3)
        .map(|_| mydht::start_loop(RestartTcp).expect("node"))
        .collect();
    let hub = nodes[1]
        .local_peer()
        .get_address()
        .parse()
        .expect("address");
    nodes[0].connect(hub, TIMEOUT).expect("connect 0 to 1");
    let hub = nodes[1]
        .local_peer()
        .get_address()
        .parse()
        .expect("address");
    nodes[2].connect(hub, TIMEOUT).expect("connect 2 to 1");
    nodes[1]
        .wait_peers(PeerCount::AtLeast(2), TIMEOUT)
        .expect("hub has both");
    // Node 0 does not know node 2: its peer store asks node 1's.
    let far = nodes[2].local_peer().clone();
    let found = nodes[0].find_peer(far.get_id(), TIMEOUT).expect("find");
    assert_eq!(found, Some(far));
    // An id nobody has: the query ends empty, at its timeout at the latest.
    let nobody = mydht::PeerId::from([0x5a; 32]);
    let short = std::time::Duration::from_secs(2);
    match nodes[0].find_peer(&nobody, short) {
        Ok(found) => assert_eq!(found, None),
        Err(e) => assert_eq!(e.kind(), mydht_base::ErrorKind::Timeout),
    }
    for n in nodes {
        n.stop().expect("stop");
    }
}

#[test]
fn test_discovery_sixteen_nodes_reach_pool_size() {
    let nodes: Vec<_> = (0..16)
        .map(|_| mydht::start_loop(PooledTcp).expect("node"))
        .collect();
    for n in &nodes[1..] {
        let boot = nodes[0]
            .local_peer()
            .get_address()
            .parse()
            .expect("address");
        n.connect(boot, TIMEOUT).expect("bootstrap");
    }
    for (i, n) in nodes.iter().enumerate() {
        let peers = n
            .wait_peers(PeerCount::AtLeast(POOL), TIMEOUT)
            .unwrap_or_else(|e| panic!("node {i} below its pool size: {e}"));
        assert!(peers.len() >= POOL);
        assert!(peers.iter().all(|p| p.get_id() != n.local_peer().get_id()));
    }
    for n in nodes {
        n.stop().expect("stop");
    }
}
