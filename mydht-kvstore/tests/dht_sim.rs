//! The DHT on the simulated network of `mydht_basetest::sim`: nodes of
//! seeded identities bootstrapped on node 0, each then looking itself up
//! (Kademlia iterative lookups, which dial the peers they learn of);
//! values put from random nodes are found from other random nodes; then a
//! fifth of the nodes stop, the values are placed again (republishing,
//! re-replication) and are still found. The same seed gives the same run.
//!
//! `dht_sim_small` (200 nodes, 1,000 values) runs in CI; the issue's
//! 1,000 nodes and 5,000 values are `dht_sim_thousand_nodes`, ignored in
//! CI's debug run:
//! `cargo test --release -p mydht-kvstore --test dht_sim -- --ignored --nocapture`.
//! The scenario is shared with the `dht_sim` bench, which includes this
//! file.

use std::time::{Duration, Instant};

use mydht::prelude::*;
use mydht::service::kvstore::{QueryConf, QueryMode};
use mydht::{AuthMode, GlobalCommand, NodeConstants, Reply};
use mydht_base::KVStore;
use mydht_base::{ErrorKind, ErrorLevel};
use mydht_basetest::sim::{CallId, CallOutcome, NodeStart, Sim, SimApp, SimConfig, SimRng};
use mydht_basetest::transport::MemTransport;
use mydht_kvstore::dht::{
    DhtCmd, DhtGlobal, DhtLocal, DhtMsg, DhtReply, DhtSettings, DhtStart, DhtStats,
};
use mydht_kvstore::kademlia::{bucket_index, Distance, ID_BITS};
use mydht_kvstore::Key;

/// The Unix time (ms) a simulation starts at: 2026-12-01.
const EPOCH_MS: u64 = 1_795_996_800_000;

/// How long the nodes have, after the stop, to place again the values
/// the stopped nodes held: a lookup's peer that does not answer fails in
/// 2 s (`LookupConf::peer_timeout_ms`), ticks come every 500 ms.
const REPLACE: Duration = Duration::from_secs(6);

/// A DHT node of the simulation: the DHT's services (as `DhtConf` has
/// them) over the simulation's in-memory addresses, started at the
/// simulated time with a seed drawn from the simulation's.
pub struct SimDht {
    settings: DhtSettings,
    identity: Identity,
    start: DhtStart,
}

impl MyDHTConf for SimDht {
    type Transport = MemTransport;
    type MsgEnc = Bincode;
    type Shadow = SessionShadow;
    type ProtoMsg = DhtMsg;
    type GlobalCmd = DhtCmd;
    type ApiReply = DhtReply;
    type GlobalService = DhtGlobal<Self>;
    type LocalService = DhtLocal<Self>;
    mydht::restartable!();

    fn init_transport(&mut self) -> Result<MemTransport> {
        Err(Error::new(
            ErrorKind::Config,
            ErrorLevel::Fatal,
            "a simulated node has no transport",
        ))
    }
    fn init_identity(&mut self) -> Result<Identity> {
        Ok(self.identity.clone())
    }
    fn init_msg_enc(&mut self) -> Bincode {
        Bincode
    }
    fn init_shadow(&mut self) -> SessionShadow {
        SessionShadow::default()
    }
    fn init_global(&mut self, me: &PeerInfo, peers: &PeersView) -> Result<DhtGlobal<Self>> {
        let log = slog::Logger::root(slog::Discard, slog::o!());
        let identity = self.identity.clone();
        DhtGlobal::started(me, peers, identity, &self.settings, log, self.start)
    }
    fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<DhtLocal<Self>> {
        Ok(DhtLocal::new())
    }
}

impl SimApp for SimDht {
    /// The simulated time, not the wall clock's.
    fn global_at(
        service: &mut DhtGlobal<Self>,
        cmd: GlobalCommand<Self>,
        now: Instant,
    ) -> Result<Reply<Self>> {
        Ok(service.handle(cmd, now))
    }
}

/// A run: how many nodes and values, the seed.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Nodes.
    pub nodes: usize,
    /// Values put (from random nodes), then got (from other random
    /// nodes), before and after the stop.
    pub values: usize,
    /// The seed of the network and of the choices of the scenario.
    pub seed: u64,
    /// The fraction of the nodes stopped.
    pub stopped: f64,
    /// Every phase of puts or gets spreads its calls over this much
    /// simulated time.
    pub spread: Duration,
    /// Whether the nodes stop and the values are got again (the bench
    /// measures lookups only).
    pub churn: bool,
}

impl Scenario {
    /// `nodes` nodes, `values` values, a fifth stopped, calls spread at
    /// 500 per simulated second.
    pub fn new(nodes: usize, values: usize, seed: u64) -> Self {
        Scenario {
            nodes,
            values,
            seed,
            stopped: 0.2,
            spread: Duration::from_millis((values as u64 * 2).max(1000)),
            churn: true,
        }
    }
}

/// What a run gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Nodes that bootstrapped (their lookup answered by a peer at least).
    pub bootstrapped: usize,
    /// Puts that stored the value on a peer at least.
    pub stored: usize,
    /// Gets that found the value, before the stop.
    pub found: usize,
    /// Why the others did not.
    pub misses: Misses,
    /// Nodes stopped.
    pub stopped: usize,
    /// Gets that found the value after the stop and the republishing.
    pub found_after: usize,
    /// Why the others did not.
    pub misses_after: Misses,
    /// Copies of values the running nodes hold at the end.
    pub held: u64,
    /// Values placed again by republishing and re-replication.
    pub republished: u64,
    /// Where the values sit after the puts.
    pub placement: Ranks,
    /// How well the running nodes' tables cover the id space.
    pub coverage: Coverage,
    /// The log hash of the run.
    pub hash: u64,
    /// Lookups that found a value in the first get phase, and their mean
    /// hops.
    pub lookups_found: u64,
    /// See [`lookups_found`](Self::lookups_found).
    pub mean_hops: f64,
    /// Simulated time at the end.
    pub simulated: Duration,
    /// Wall time of the whole run, and of the first get phase.
    pub wall: Duration,
    /// See [`wall`](Self::wall).
    pub get_wall: Duration,
    /// Events the simulation handled, connections it made.
    pub events: u64,
    /// See [`events`](Self::events).
    pub connections: u64,
}

impl Outcome {
    /// What two runs of the same seed must share.
    pub fn outcome(&self) -> (usize, usize, usize, usize, usize, u64, u64) {
        (
            self.bootstrapped,
            self.stored,
            self.found,
            self.stopped,
            self.found_after,
            self.republished,
            self.hash,
        )
    }

    /// Lookups per wall second in the first get phase.
    pub fn lookups_per_wall_s(&self, values: usize) -> f64 {
        values as f64 / self.get_wall.as_secs_f64()
    }

    /// Prints the figures.
    pub fn print(&self, name: &str) {
        println!(
            "{name}: bootstrapped {}, stored {}, found {} (missed: {:?}); {} stopped, {} placed \
             again, found after {} (missed: {:?}), {} copies held; mean hops {:.2} ({} lookups); \
             {:?} simulated, {:?} wall (gets {:?}); {} events, {} connections; hash {:016x}\n  \
             placement: {:?}\n  coverage: {:?}",
            self.bootstrapped,
            self.stored,
            self.found,
            self.misses,
            self.stopped,
            self.republished,
            self.found_after,
            self.misses_after,
            self.held,
            self.mean_hops,
            self.lookups_found,
            self.simulated,
            self.wall,
            self.get_wall,
            self.events,
            self.connections,
            self.hash,
            self.placement,
            self.coverage
        );
    }

    /// The assertions: every value stored and found; at least 99%
    /// found after the stop.
    pub fn check(&self, s: &Scenario) {
        assert_eq!(self.bootstrapped, s.nodes - 1, "every node bootstrapped");
        assert_eq!(self.stored, s.values, "every put stored");
        assert_eq!(self.found, s.values, "every value found");
        if s.churn {
            assert!(self.stopped > 0);
            assert!(
                self.found_after * 100 >= s.values * 99,
                "{} of {} found after the stop",
                self.found_after,
                s.values
            );
        }
    }
}

/// The settings of every node: Kademlia (k = 20, α = 3, iterative
/// lookups), three replicas, queries of 5 s.
pub fn settings() -> DhtSettings {
    DhtSettings {
        query: QueryConf {
            mode: QueryMode::AProxy,
            hops: 8,
            forward: 1,
            nb_result: 1,
            timeout: Duration::from_secs(5),
        },
        ..DhtSettings::kademlia(3)
    }
}

/// The network of `s`: unauthenticated handshakes (the simulation's
/// fastest; the DHT's own checks are run), no discovery of the node's
/// own (the DHT's lookups dial), node 0 the bootstrap.
pub fn network(s: &Scenario) -> Sim<SimDht> {
    network_with(s, settings())
}

/// [`network`] with other settings.
pub fn network_with(s: &Scenario, settings: DhtSettings) -> Sim<SimDht> {
    let mut config = SimConfig::new(s.nodes, 0, s.seed);
    config.constants.auth_mode = AuthMode::NoAuth;
    config.bootstrap_constants.auth_mode = AuthMode::NoAuth;
    config.constants = NodeConstants {
        max_connections: 4096,
        max_peers: 4096,
        ..config.constants
    };
    let mut sim = Sim::with_app(config, false, move |start: NodeStart<'_>| SimDht {
        settings: settings.clone(),
        identity: start.identity.clone(),
        start: DhtStart {
            now: start.now,
            now_ms: EPOCH_MS + start.elapsed.as_millis() as u64,
            seed: start.seed,
        },
    })
    .expect("sim");
    sim.app_tick_every(Duration::from_millis(500), || DhtCmd::Tick);
    sim
}

/// The key and bytes of value `v`.
pub fn value(v: usize) -> (Key, Vec<u8>) {
    (
        Key::hash_of(format!("sim value {v}").as_bytes()),
        format!("value {v}").into_bytes(),
    )
}

/// Why call `id` did not find value `v` (`None`: it found it).
fn missed(sim: &Sim<SimDht>, id: CallId, v: usize) -> Option<String> {
    let rec = &sim.calls()[id.0];
    match (&rec.ended, &rec.replies[..]) {
        (Some((_, CallOutcome::App(1))), [DhtReply::Found(vs)]) => {
            if vs.iter().any(|x| x.value() == value(v).1.as_slice()) {
                None
            } else if vs.is_empty() {
                Some("not found".into())
            } else {
                Some("another value".into())
            }
        }
        (Some((_, CallOutcome::App(1))), [other]) => Some(format!("{other:?}")),
        (Some((_, CallOutcome::Failed(e))), _) => Some(format!("{:?}", e.kind())),
        (ended, _) => Some(format!("{ended:?}")),
    }
}

/// Calls of `cmd` at `nodes[i]` for value `i`, spread over `spread` from
/// `at`, run until they all ended (at the latest their deadline and the
/// core's query tick).
fn phase(
    sim: &mut Sim<SimDht>,
    at: Duration,
    spread: Duration,
    nodes: &[usize],
    cmd: impl Fn(usize) -> DhtCmd,
) -> Vec<CallId> {
    let t = Duration::from_secs(5);
    let n = nodes.len().max(1) as u32;
    let ids: Vec<CallId> = nodes
        .iter()
        .enumerate()
        .map(|(v, &node)| sim.app_call_at(at + spread * v as u32 / n, node, cmd(v), 1, t))
        .collect();
    run_until_ended(sim, &ids, at + spread + t + Duration::from_millis(200));
    ids
}

/// Runs until every call of `ids` ended, or `until`.
fn run_until_ended(sim: &mut Sim<SimDht>, ids: &[CallId], until: Duration) {
    let ended = |s: &Sim<SimDht>| ids.iter().all(|id| s.calls()[id.0].ended.is_some());
    sim.run_until_or(until, Duration::from_millis(100), ended);
}

/// The sum of the running nodes' counters.
pub fn totals(sim: &Sim<SimDht>) -> DhtStats {
    let mut t = DhtStats::default();
    for n in 0..sim.node_count() {
        if let Some(g) = sim.global(n) {
            let s = g.stats();
            t.lookups_found += s.lookups_found;
            t.lookup_hops += s.lookup_hops;
            t.republished += s.republished;
            t.values += s.values;
        }
    }
    t
}

/// A random running node other than `not`.
pub fn pick(sim: &Sim<SimDht>, rng: &mut SimRng, not: usize) -> usize {
    loop {
        let n = rng.below(sim.node_count() as u64) as usize;
        if n != not && sim.is_running(n) {
            return n;
        }
    }
}

/// Each node but node 0 looks itself up once its connect to node 0 is
/// through (nodes start over the first simulated second); runs until
/// every lookup ended. How many were answered by a peer at least.
pub fn bootstrap(sim: &mut Sim<SimDht>) -> usize {
    let ms = Duration::from_millis;
    let nodes = sim.node_count();
    let boot: Vec<CallId> = (1..nodes)
        .map(|n| {
            let started = ms(1000) * n as u32 / nodes as u32;
            sim.app_call_at(started + ms(200), n, DhtCmd::Bootstrap, 1, ms(10_000))
        })
        .collect();
    run_until_ended(sim, &boot, ms(1000 + 200 + 10_200));
    boot.iter()
        .filter(|id| {
            let rec = &sim.calls()[id.0];
            matches!(&rec.replies[..], [DhtReply::Bootstrapped(n)] if *n > 0)
        })
        .count()
}

/// Puts `values` values from random running nodes, spread over `spread`
/// from now: the node that put each, and how many were stored on a peer
/// at least.
pub fn put_values(
    sim: &mut Sim<SimDht>,
    rng: &mut SimRng,
    values: usize,
    spread: Duration,
) -> (Vec<usize>, usize) {
    let (conf, ttl) = (settings().query, Duration::from_secs(3600));
    let putters: Vec<usize> = (0..values).map(|_| pick(sim, rng, usize::MAX)).collect();
    let at = sim.now();
    let puts = phase(sim, at, spread, &putters, |v| {
        let (key, bytes) = value(v);
        DhtCmd::Put {
            key,
            value: bytes,
            ttl,
            conf,
        }
    });
    let stored = puts
        .iter()
        .filter(|id| {
            let rec = &sim.calls()[id.0];
            matches!(&rec.replies[..], [DhtReply::Stored(n)] if *n > 0)
        })
        .count();
    (putters, stored)
}

/// Gets value `v` from `getters[v]` for each `v`, spread over `spread`
/// from now: the calls, and how many found their value.
pub fn get_values(
    sim: &mut Sim<SimDht>,
    getters: &[usize],
    spread: Duration,
) -> (Vec<CallId>, usize, Misses) {
    let conf = settings().query;
    let at = sim.now();
    let gets = phase(sim, at, spread, getters, |v| DhtCmd::Get(value(v).0, conf));
    let mut misses = Misses::new();
    for (v, id) in gets.iter().enumerate() {
        if let Some(why) = missed(sim, *id, v) {
            *misses.entry(why).or_default() += 1;
        }
    }
    let found = getters.len() - misses.values().sum::<usize>();
    (gets, found, misses)
}

/// Gets that missed their value, by why.
pub type Misses = std::collections::BTreeMap<String, usize>;

/// Lookups that found a value between two totals, and their mean hops.
pub fn hops(before: &DhtStats, after: &DhtStats) -> (u64, f64) {
    let n = after.lookups_found - before.lookups_found;
    let hops = after.lookup_hops - before.lookup_hops;
    (n, hops as f64 / n.max(1) as f64)
}

/// Where the values sit, by the XOR rank of their holders among the
/// running nodes (rank 0: the node closest to the key).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ranks {
    /// Values looked at.
    pub values: usize,
    /// Values held by the node closest to their key.
    pub closest: usize,
    /// Values held by each of the three closest.
    pub three_closest: usize,
    /// Values with a holder ranked past 20 other than the node that put
    /// it (placed by a lookup that ended short).
    pub stray: usize,
    /// The worst rank of a closest holder (over the values).
    pub worst_first: usize,
}

/// The ranks of the holders of values `0..values` among the running nodes,
/// value `v` put by `putters[v]`.
pub fn ranks(sim: &Sim<SimDht>, putters: &[usize]) -> Ranks {
    let values = putters.len();
    let running: Vec<usize> = (0..sim.node_count())
        .filter(|&n| sim.is_running(n))
        .collect();
    let ids: Vec<_> = running.iter().map(|&n| sim.peer_id(n)).collect();
    let mut r = Ranks {
        values,
        ..Ranks::default()
    };
    let mut order: Vec<usize> = (0..running.len()).collect();
    for (v, &putter) in putters.iter().enumerate() {
        let key = value(v).0;
        order.sort_by_cached_key(|&i| Distance::between(&ids[i], &key));
        let holds = |i: usize| {
            sim.global(running[i])
                .is_some_and(|g| g.engine().store().get(&key).is_some())
        };
        let held: Vec<usize> = (0..order.len())
            .filter(|&rank| holds(order[rank]))
            .collect();
        let putter = order.iter().position(|&i| running[i] == putter);
        r.closest += usize::from(held.first() == Some(&0));
        r.three_closest += usize::from(held.iter().take(3).eq([0, 1, 2].iter()));
        r.stray += usize::from(held.iter().any(|&rank| rank > 20 && Some(rank) != putter));
        r.worst_first = r
            .worst_first
            .max(held.first().copied().unwrap_or(usize::MAX));
    }
    r
}

/// How well the running nodes' tables cover the id space.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Coverage {
    /// Buckets whose range holds a running node (over the running nodes).
    pub ranges: usize,
    /// Of those, buckets the table has no peer in: a lookup from there
    /// towards that range must go through others.
    pub holes: usize,
    /// Peers in the tables, on average.
    pub mean_peers: f64,
    /// Peers heard from directly in the tables, on average.
    pub mean_confirmed: f64,
}

/// The coverage of the running nodes' tables.
pub fn coverage(sim: &Sim<SimDht>) -> Coverage {
    let running: Vec<usize> = (0..sim.node_count())
        .filter(|&n| sim.is_running(n))
        .collect();
    let ids: Vec<_> = running.iter().map(|&n| sim.peer_id(n)).collect();
    let mut c = Coverage::default();
    let (mut peers, mut confirmed) = (0usize, 0usize);
    for (i, &n) in running.iter().enumerate() {
        let Some(table) = sim.global(n).and_then(|g| g.engine().route().table()) else {
            continue;
        };
        let mut occupied = [false; ID_BITS];
        for other in &ids {
            if let Some(b) = bucket_index(&ids[i], other) {
                occupied[b] = true;
            }
        }
        for (b, occupied) in occupied.iter().enumerate() {
            if *occupied {
                c.ranges += 1;
                c.holes += usize::from(table.bucket(b).next().is_none());
            }
        }
        peers += table.len();
        confirmed += (0..ID_BITS)
            .flat_map(|b| table.bucket(b))
            .filter(|p| table.is_confirmed(p.get_id()))
            .count();
    }
    c.mean_peers = peers as f64 / running.len().max(1) as f64;
    c.mean_confirmed = confirmed as f64 / running.len().max(1) as f64;
    c
}

/// Runs scenario `s`.
pub fn run(s: &Scenario) -> Outcome {
    let wall = Instant::now();
    let mut sim = network(s);
    let mut rng = SimRng::new(s.seed ^ 0xd47a);
    let bootstrapped = bootstrap(&mut sim);
    let (putters, stored) = put_values(&mut sim, &mut rng, s.values, s.spread);
    let placement = ranks(&sim, &putters);
    let coverage = coverage(&sim);

    let getters: Vec<usize> = putters.iter().map(|&p| pick(&sim, &mut rng, p)).collect();
    let before = totals(&sim);
    let get_start = Instant::now();
    let (_, found, misses) = get_values(&mut sim, &getters, s.spread);
    let get_wall = get_start.elapsed();
    let (lookups_found, mean_hops) = hops(&before, &totals(&sim));

    let (mut stopped, mut found_after, mut republished) = (0, 0, 0);
    let mut misses_after = Misses::new();
    if s.churn {
        let at = sim.now();
        let target = (s.nodes as f64 * s.stopped) as usize;
        while stopped < target {
            let n = pick(&sim, &mut rng, usize::MAX);
            sim.stop_at(at, n);
            sim.run_until(at);
            stopped += 1;
        }
        let republished_before = totals(&sim).republished;
        // Ticks re-place what the stopped nodes held.
        sim.run_until(at + REPLACE);
        republished = totals(&sim).republished - republished_before;
        let getters: Vec<usize> = (0..s.values)
            .map(|_| pick(&sim, &mut rng, usize::MAX))
            .collect();
        let (_, found, misses) = get_values(&mut sim, &getters, s.spread);
        found_after = found;
        misses_after = misses;
    }
    let stats = sim.stats();
    Outcome {
        bootstrapped,
        stored,
        found,
        misses,
        stopped,
        found_after,
        misses_after,
        republished,
        held: totals(&sim).values,
        placement,
        coverage,
        hash: sim.log().hash(),
        lookups_found,
        mean_hops,
        simulated: sim.now(),
        wall: wall.elapsed(),
        get_wall,
        events: stats.events,
        connections: stats.connections,
    }
}

#[test]
fn dht_sim_small() {
    let scenario = Scenario::new(100, 400, 41);
    let a = run(&scenario);
    a.print("dht_sim_small");
    a.check(&scenario);
}

#[test]
fn dht_sim_same_seed_same_result() {
    let scenario = Scenario::new(40, 100, 43);
    let a = run(&scenario);
    let b = run(&scenario);
    let c = run(&Scenario {
        seed: 44,
        ..scenario.clone()
    });
    a.print("dht_sim_same_seed_same_result, seed 43");
    c.print("dht_sim_same_seed_same_result, seed 44");
    a.check(&scenario);
    assert_eq!(a.outcome(), b.outcome(), "same seed, same result");
    assert_ne!(a.hash, c.hash, "another seed, another trace");
}

/// Table entries of the running nodes that name a stopped node: (heard
/// from directly, contacts only named by peers).
fn stale_entries(sim: &Sim<SimDht>) -> (usize, usize) {
    let stopped: Vec<_> = (0..sim.node_count())
        .filter(|&n| !sim.is_running(n))
        .map(|n| sim.peer_id(n))
        .collect();
    let (mut confirmed, mut contacts) = (0, 0);
    for n in (0..sim.node_count()).filter(|&n| sim.is_running(n)) {
        let Some(table) = sim.global(n).and_then(|g| g.engine().route().table()) else {
            continue;
        };
        for p in (0..ID_BITS).flat_map(|b| table.bucket(b)) {
            if stopped.contains(p.get_id()) {
                if table.is_confirmed(p.get_id()) {
                    confirmed += 1;
                } else {
                    contacts += 1;
                }
            }
        }
    }
    (confirmed, contacts)
}

/// Over three seeds: while idle every node refreshes its buckets; of the
/// nodes a fifth stopped, no peer heard from stays in a table, and at
/// least half of the contacts naming them leave within 30 s (a refresh
/// lookup that dials one learns at once that the dial failed).
#[test]
fn dht_sim_buckets_refresh_on_the_timer_and_stale_peers_leave() {
    let (mut contacts, mut left) = (0, 0);
    for seed in [45, 46, 47] {
        let (c, l) = stale_contacts_left(seed);
        println!("seed {seed}: stale contacts: {c} after the stop, {l} 30 s later");
        contacts += c;
        left += l;
    }
    assert!(
        left * 2 <= contacts,
        "{left} of {contacts} stale contacts left"
    );
}

/// One network of 40 nodes of seed `seed`: the stale contacts after 8
/// nodes stopped, and those left 30 s later.
fn stale_contacts_left(seed: u64) -> (usize, usize) {
    let scenario = Scenario::new(40, 0, seed);
    let mut settings = settings();
    if let mydht_kvstore::dht::RouteChoice::Kademlia(conf) = &mut settings.route {
        conf.refresh_interval_ms = 4_000;
    }
    let mut sim = network_with(&scenario, settings);
    assert_eq!(bootstrap(&mut sim), 39);
    let lookups = |sim: &Sim<SimDht>| -> Vec<u64> {
        (0..sim.node_count())
            .map(|n| sim.global(n).map_or(0, |g| g.stats().lookups))
            .collect()
    };
    // Idle: only the ticks run, and each node refreshes its buckets.
    let before = lookups(&sim);
    let at = sim.now();
    sim.run_until(at + Duration::from_secs(10));
    let after = lookups(&sim);
    for n in 0..sim.node_count() {
        assert!(after[n] > before[n], "node {n} refreshed no bucket");
    }
    // A fifth stops: the peers connected to them drop them at once; the
    // contacts others only heard of leave when a lookup dials them.
    let mut rng = SimRng::new(5);
    let at = sim.now();
    for _ in 0..8 {
        let n = pick(&sim, &mut rng, 0);
        sim.stop_at(at, n);
        sim.run_until(at);
    }
    sim.run_until(at + Duration::from_millis(500));
    let (confirmed, contacts) = stale_entries(&sim);
    assert_eq!(confirmed, 0, "peers heard from and gone are dropped");
    sim.run_until(at + Duration::from_secs(30));
    let (_, left) = stale_entries(&sim);
    (contacts, left)
}

#[test]
#[ignore = "1,000 nodes, 5,000 values: run it in a release build (see the crate README)"]
fn dht_sim_thousand_nodes() {
    // Other sizes: DHT_SIM_NODES and DHT_SIM_VALUES.
    let var = |name, default| std::env::var(name).map_or(default, |v: String| v.parse().unwrap());
    let scenario = Scenario::new(var("DHT_SIM_NODES", 1000), var("DHT_SIM_VALUES", 5000), 42);
    let a = run(&scenario);
    a.print("dht_sim_thousand_nodes");
    a.check(&scenario);
    let b = run(&scenario);
    b.print("dht_sim_thousand_nodes, again");
    assert_eq!(a.outcome(), b.outcome(), "same seed, same result");
}
