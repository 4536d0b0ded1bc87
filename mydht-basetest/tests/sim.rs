//! The simulated network (`mydht_basetest::sim`): bootstrap of a thousand
//! nodes, determinism, partitions, cut connections.

use std::time::{Duration, Instant};

use mydht_basetest::sim::{CallOutcome, Sim, SimConfig};

const POOL: usize = 8;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// True when every node has at least `pool` peers.
fn all_reach(sim: &Sim, pool: usize) -> bool {
    (0..sim.node_count()).all(|n| sim.peer_count(n) >= pool)
}

#[test]
fn sim_thousand_nodes_reach_pool_size() {
    let wall = Instant::now();
    let mut sim = Sim::new(SimConfig::new(1000, POOL, 1)).expect("sim");
    let reached = sim.run_until_or(secs(60), Duration::from_millis(100), |s| all_reach(s, POOL));
    let stats = sim.stats();
    println!(
        "1000 nodes: pool {POOL} reached at {:?} simulated, {:?} wall, {} events, {} connections",
        sim.now(),
        wall.elapsed(),
        stats.events,
        stats.connections
    );
    let short = (0..1000).filter(|&n| sim.peer_count(n) < POOL).count();
    assert!(reached, "{short} nodes below the pool size");
    // Every bootstrap connect reached node 0.
    let node0 = sim.peer_id(0);
    for c in sim.calls() {
        assert_eq!(
            c.ended.as_ref().map(|e| &e.1),
            Some(&CallOutcome::Peer(Some(node0)))
        );
    }
    assert!(wall.elapsed() < secs(60), "took {:?}", wall.elapsed());
}
