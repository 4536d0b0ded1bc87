//! `may_blocking!` runs a connection's read and write services as may
//! coroutines: a node's threads do not grow with its connections (under
//! `threaded_blocking!` each connection takes two threads on each side,
//! under `threaded!` too).
//! Its own binary, so that no other test's threads are counted.

use mydht_basetest::harness::nodes::{connect_star, start_nodes, stop_all, touch};
use mydht_basetest::touch_conf;
use mydht_tcp::MayTcpTransport;

touch_conf!(
    MayTcp,
    may_blocking,
    MayTcpTransport,
    MayTcpTransport::bind(([127, 0, 0, 1], 0).into())
);

/// Connections to the hub; 4 × this many services run on both sides.
const PEERS: usize = 12;
/// The threads of a node whatever its connections: main loop, listener,
/// and the global, api, peer store and peer management services.
const NODE_THREADS: usize = 6;
/// Threads that may come and go while the connections open: a connector
/// thread per outbound connect lives until its connection is handed over.
const TRANSIENT: usize = 3;
/// Threads of the process, not of a node: the transport's readiness thread,
/// started at the first wait of a coroutine on a socket, and the sweeper
/// that suspends idle services (`MayIdle`), started with the first.
const PROCESS_THREADS: usize = 2;

/// The process's threads, from the kernel.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

#[test]
fn connections_add_no_threads() {
    // may starts its worker threads at its first coroutine: before counting.
    // SAFETY: the closure keeps no thread-local state.
    unsafe { may::coroutine::spawn(|| ()) }
        .join()
        .expect("coroutine");
    let before = threads();
    let hub = start_nodes(1, || MayTcp).expect("hub").remove(0);
    let peers = start_nodes(PEERS, || MayTcp).expect("peers");

    connect_star(&hub, &peers).expect("every peer connected");
    // Every connection carries a query both ways: its services run.
    for peer in &peers {
        assert_eq!(touch(peer, &hub).expect("touch the hub").len(), 2);
        assert_eq!(touch(&hub, peer).expect("touch a peer").len(), 2);
    }
    // The node-wide services start on their first command: count once
    // every one ran. Two threads per connection on each side would be
    // 4 × PEERS more.
    let after = threads();
    let nodes = PEERS + 1;
    assert!(
        after <= before + nodes * NODE_THREADS + PROCESS_THREADS + TRANSIENT,
        "{nodes} nodes and {PEERS} connections took {} threads ({before} before, {after} after)",
        after.saturating_sub(before)
    );

    stop_all(peers).expect("stop the peers");
    hub.stop().expect("stop the hub");
}
