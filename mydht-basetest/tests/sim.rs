//! The simulated network (`mydht_basetest::sim`): bootstrap of a thousand
//! nodes, determinism, partitions, cut connections.

use std::time::{Duration, Instant};

use mydht::PeerCount;
use mydht_basetest::sim::{CallKind, CallOutcome, Faults, Latency, Sim, SimConfig};

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
    // Wall time is printed, not asserted (it depends on the machine's
    // load); the simulated time bounds the run.
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
}

/// A run of `nodes` nodes with every fault on, for `run` of simulated
/// time: its log hash.
fn faulty_run(seed: u64, nodes: usize, run: Duration) -> (u64, u64) {
    let mut config = SimConfig::new(nodes, POOL, seed);
    config.faults = Faults {
        latency: Latency {
            min: Duration::from_millis(1),
            max: Duration::from_millis(80),
        },
        cut_every: Some(Duration::from_millis(50)),
        reorder: true,
    };
    let mut sim = Sim::new(config).expect("sim");
    sim.run_until(run);
    (sim.log().hash(), sim.log().len())
}

#[test]
fn sim_same_seed_same_trace() {
    let run = secs(3);
    let (a, len) = faulty_run(7, 100, run);
    let (b, _) = faulty_run(7, 100, run);
    let (c, _) = faulty_run(8, 100, run);
    println!("seed 7: {len} log entries, hash {a:016x}; seed 8: {c:016x}");
    assert!(len > 10_000, "the run did something: {len} entries");
    assert_eq!(a, b, "same seed, same trace");
    assert_ne!(a, c, "another seed, another trace");
}

/// Node `n`'s side: the first half of the nodes, or the second.
fn side(n: usize, nodes: usize) -> u8 {
    u8::from(n >= nodes / 2)
}

#[test]
fn sim_partition_heals() {
    // A pool larger than a side: cut off, no node can fill its pool with
    // peers of its own side, so each keeps looking, across once healed (a
    // node whose pool is full looks no further).
    const NODES: usize = 32;
    const PARTITION_POOL: usize = 20;
    let wall = Instant::now();
    let mut sim = Sim::new(SimConfig::new(NODES, PARTITION_POOL, 3)).expect("sim");
    let pool = |s: &Sim| all_reach(s, PARTITION_POOL);
    assert!(sim.run_until_or(secs(10), Duration::from_millis(100), pool));
    let split = sim.now() + Duration::from_millis(100);
    sim.partition_at(split, (0..NODES).map(|n| side(n, NODES)).collect());
    sim.run_until(split + secs(3));
    let across = |s: &Sim, n: usize| {
        let peers = s.connected_peers(n);
        let sides = peers
            .iter()
            .map(|id| side(s.node_of(id).expect("a node"), NODES));
        sides.filter(|&sd| sd != side(n, NODES)).count()
    };
    for n in 0..NODES {
        assert_eq!(
            across(&sim, n),
            0,
            "node {n} connected across the partition"
        );
        assert!(
            sim.peer_count(n) < PARTITION_POOL,
            "node {n} has a full pool on its side"
        );
    }
    let heal = sim.now();
    sim.heal_at(heal);
    let healed =
        |s: &Sim| (0..NODES).all(|n| s.peer_count(n) >= PARTITION_POOL && across(s, n) > 0);
    assert!(sim.run_until_or(heal + secs(10), Duration::from_millis(100), healed));
    println!(
        "partition healed in {:?} simulated ({:?} in all), {:?} wall",
        sim.now() - heal,
        sim.now(),
        wall.elapsed()
    );
}

#[test]
fn sim_cut_connections_every_call_ends() {
    const NODES: usize = 60;
    // The core expires api queries on its 100 ms query tick.
    const TICK: Duration = Duration::from_millis(100);
    let wall = Instant::now();
    let mut config = SimConfig::new(NODES, POOL, 11);
    config.faults.cut_every = Some(Duration::from_millis(20));
    config.faults.reorder = true;
    let mut sim = Sim::new(config).expect("sim");
    let mut rng = mydht_basetest::sim::SimRng::new(99);
    for i in 0..600u64 {
        let at = Duration::from_millis(500 + i * 10);
        let n = rng.below(NODES as u64) as usize;
        let other = rng.below(NODES as u64) as usize;
        let kind = match i % 3 {
            0 => CallKind::Connect(other),
            1 => CallKind::WaitPeers(PeerCount::AtLeast(POOL)),
            _ => CallKind::FindPeer(sim.peer_id(other)),
        };
        let timeout = Duration::from_millis(200 + rng.below(1800));
        sim.call_at(at, n, kind, timeout);
    }
    let last_deadline = sim.calls().iter().map(|c| c.deadline).max().expect("calls");
    sim.run_until(last_deadline + TICK);
    let (mut replies, mut errors) = (0, std::collections::BTreeMap::new());
    for (i, c) in sim.calls().iter().enumerate() {
        let (ended, outcome) = c
            .ended
            .as_ref()
            .unwrap_or_else(|| panic!("call {i} hangs: {c:?}"));
        assert!(*ended <= c.deadline + TICK, "call {i} ended late: {c:?}");
        match (outcome, c.kind) {
            (CallOutcome::Failed(e), _) => {
                *errors.entry(format!("{:?}", e.kind())).or_insert(0) += 1
            }
            (CallOutcome::Peer(p), CallKind::Connect(to)) => {
                assert_eq!(*p, Some(sim.peer_id(to)), "call {i} connected elsewhere");
                replies += 1;
            }
            (CallOutcome::Peer(p), CallKind::FindPeer(id)) => {
                assert!(p.is_none_or(|p| p == id), "call {i} found another peer");
                replies += 1;
            }
            (CallOutcome::Peers(ps), CallKind::WaitPeers(count)) => {
                assert!(count.holds(ps.len()), "call {i}: {} peers", ps.len());
                replies += 1;
            }
            (o, k) => panic!("call {i}: {o:?} for {k:?}"),
        }
    }
    println!(
        "{} calls: {replies} replies, errors {errors:?}; {} cuts; {:?} simulated, {:?} wall",
        sim.calls().len(),
        sim.log().count(mydht_basetest::sim::LogKind::Cut),
        sim.now(),
        wall.elapsed()
    );
    assert!(replies > sim.calls().len() / 2, "most calls are answered");
}
