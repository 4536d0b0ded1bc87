//! The peer store: finding peers through other peers, and discovery (nodes
//! below their pool size ask their peer store for peers near a random id
//! and connect to them).

use mydht::{NodeConstants, PeerCount};
use mydht_base::Peer;
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::{
    connect, connect_star, start_nodes, stop_all, wait_peers, TIMEOUT,
};
use mydht_basetest::touch_conf;
use mydht_tcp::TcpTransport;

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
    let nodes = start_nodes(3, || RestartTcp).expect("nodes");
    connect(&nodes[0], &nodes[1]).expect("connect 0 to 1");
    connect(&nodes[2], &nodes[1]).expect("connect 2 to 1");
    wait_peers(&nodes[1], PeerCount::AtLeast(2)).expect("hub has both");
    // Node 0 does not know node 2: its peer store asks node 1's.
    let far = nodes[2].local_peer().clone();
    let found = nodes[0].find_peer(far.get_id(), TIMEOUT).expect("find");
    assert_eq!(found, Some(far));
    // An id nobody has: the query ends empty, at its timeout at the latest.
    let nobody = mydht::PeerId::from([0x5a; 32]);
    let short = std::time::Duration::from_secs(2);
    match nodes[0].find_peer(&nobody, short) {
        Ok(found) => assert_eq!(found, None),
        Err(e) => assert!(matches!(e, mydht::NodeError::Timeout(_)), "{e}"),
    }
    stop_all(nodes).expect("stop");
}

#[test]
fn test_discovery_sixteen_nodes_reach_pool_size() {
    let nodes = start_nodes(16, || PooledTcp).expect("nodes");
    connect_star(&nodes[0], &nodes[1..]).expect("bootstrap");
    let mut links = 0;
    for (i, n) in nodes.iter().enumerate() {
        let peers = wait_peers(n, PeerCount::AtLeast(POOL))
            .unwrap_or_else(|e| panic!("node {i} below its pool size: {e}"));
        assert!(peers.len() >= POOL);
        assert!(peers.iter().all(|p| p.get_id() != n.local_peer().get_id()));
        links += peers.len();
    }
    // Every connection beyond the 15 of the bootstrap was dialled with a
    // peer that a peer store find returned.
    let stats: Vec<_> = nodes
        .iter()
        .map(|n| n.stats(TIMEOUT).expect("stats"))
        .collect();
    let dials: u64 = stats.iter().map(|s| s.discovery_dials).sum();
    let beyond = (links / 2).saturating_sub(nodes.len() - 1) as u64;
    assert!(
        beyond > 0 && dials >= beyond,
        "{dials} dials for {beyond} links"
    );
    assert!(stats.iter().any(|s| s.discovery_finds > 0));
    stop_all(nodes).expect("stop");
}
