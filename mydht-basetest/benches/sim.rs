//! The simulated network's speed: 1,000 nodes bootstrapped on node 0 (pool
//! size 8, signed handshakes, 5–50 ms latency) for 10 simulated seconds —
//! the bootstrap, then discovery's steady state. Prints simulated seconds
//! per wall second and events per wall second.
//!
//! `cargo bench -p mydht-basetest --bench sim`

use std::time::{Duration, Instant};

use mydht_basetest::sim::{Sim, SimConfig};

const NODES: usize = 1000;
const POOL: usize = 8;
const RUN: Duration = Duration::from_secs(10);

fn main() {
    let wall = Instant::now();
    let mut sim = Sim::new(SimConfig::new(NODES, POOL, 1)).expect("sim");
    let full = |s: &Sim| (0..NODES).all(|n| s.peer_count(n) >= POOL);
    let reached = sim.run_until_or(RUN, Duration::from_millis(100), full);
    let (pool_sim, pool_wall) = (sim.now(), wall.elapsed());
    sim.run_until(RUN);
    let elapsed = wall.elapsed().as_secs_f64();
    let stats = sim.stats();
    println!(
        "sim: {NODES} nodes, pool {POOL}: pool reached ({reached}) at {pool_sim:?} simulated, {pool_wall:.2?} wall"
    );
    println!(
        "sim: {RUN:?} simulated in {elapsed:.2} s wall: {:.2} simulated s / wall s, {:.0} events / s ({} events, {} connections, {} log entries)",
        RUN.as_secs_f64() / elapsed,
        stats.events as f64 / elapsed,
        stats.events,
        stats.connections,
        sim.log().len()
    );
}
