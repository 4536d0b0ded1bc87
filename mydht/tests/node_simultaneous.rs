//! Two nodes that dial each other at once keep one connection: the one
//! dialled by the lower peer id, on both nodes.

use std::sync::Barrier;
use std::time::Instant;

use mydht::NodeHandle;
use mydht_base::Peer;
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::{connect, start_nodes, stop_all, touch, TIMEOUT};
use mydht_basetest::touch_conf;
use mydht_tcp::TcpTransport;

touch_conf!(RestartTcp, restartable, TcpTransport, loopback());

/// Asks `node` until it has exactly one open connection, for at most
/// [`TIMEOUT`]; each ask waits on the node's reply.
fn wait_one_connection(node: &NodeHandle<RestartTcp>) -> usize {
    let end = Instant::now() + TIMEOUT;
    loop {
        let n = node.stats(TIMEOUT).expect("stats").open_connections;
        if n == 1 || Instant::now() >= end {
            return n;
        }
        std::thread::yield_now();
    }
}

#[test]
fn test_simultaneous_dial_keeps_one_connection() {
    // Several pairs: the two dials do not always cross, each pair is one
    // more chance that they do.
    for round in 0..8 {
        let nodes = start_nodes(2, || RestartTcp).expect("nodes");
        let (a, b) = (&nodes[0], &nodes[1]);
        let start = Barrier::new(2);
        let (to_b, to_a) = std::thread::scope(|s| {
            let dial_a = s.spawn(|| {
                start.wait();
                connect(b, a)
            });
            start.wait();
            let to_b = connect(a, b);
            (to_b, dial_a.join().expect("dialling thread"))
        });
        assert_eq!(to_b.expect("a reaches b").get_id(), b.local_peer().get_id());
        assert_eq!(to_a.expect("b reaches a").get_id(), a.local_peer().get_id());
        for (i, n) in nodes.iter().enumerate() {
            assert_eq!(wait_one_connection(n), 1, "round {round}: node {i}");
            assert_eq!(n.connected_peers(TIMEOUT).expect("peers").len(), 1);
        }
        // The connection kept carries messages both ways.
        assert_eq!(touch(a, b).expect("touch a to b").len(), 2);
        assert_eq!(touch(b, a).expect("touch b to a").len(), 2);
        stop_all(nodes).expect("stop");
    }
}
