//! [`Sim`]: the simulated network — its nodes, connections, clock and
//! event queue — and what its user asks of it (the events themselves are
//! handled in `events`, the nodes' actions carried out in `actions`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mydht::{Bincode, Identity, PeerId, PeerInfo};
use mydht_base::{Peer, Result};

use super::calls::{CallId, CallKind, CallRecord};
use super::config::SimConfig;
use super::conn::SimConn;
use super::events::Event;
use super::log::{EventLog, LogEntry, LogKind};
use super::node::SimNode;
use super::queue::EventQueue;
use super::rng::SimRng;
use crate::transport::MemAddress;

/// Counters of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Events handled (stale timers not counted).
    pub events: u64,
    /// Connections dialled through the network.
    pub connections: u64,
    /// Connections not yet closed on both ends.
    pub live_connections: usize,
    /// Application messages delivered (counted and dropped).
    pub app_messages: u64,
    /// Actions a simulation does not carry out (global service, peer
    /// management notices, shadows, restarts).
    pub ignored_actions: u64,
}

/// A simulated network (see the [module documentation](super)).
pub struct Sim {
    pub(super) config: SimConfig,
    start: Instant,
    pub(super) now: Duration,
    pub(super) nodes: Vec<Option<SimNode>>,
    pub(super) identities: Vec<Identity>,
    infos: Vec<PeerInfo>,
    pub(super) seeds: Vec<(u64, u64)>,
    pub(super) conns: BTreeMap<u64, SimConn>,
    pub(super) next_conn: u64,
    queue: EventQueue<Event>,
    pub(super) rng: SimRng,
    pub(super) log: EventLog,
    /// Each node's side of the partition (all 0: none).
    pub(super) groups: Vec<u8>,
    pub(super) calls: Vec<CallRecord>,
    pub(super) enc: Bincode,
    pub(super) stats: SimStats,
}

impl Sim {
    /// The network of `config`: identities made, each node's start
    /// scheduled. Nothing runs until [`run_until`](Self::run_until).
    pub fn new(config: SimConfig) -> Result<Self> {
        Self::with_log(config, false)
    }

    /// As [`new`](Self::new); `keep_log` keeps every log entry (to compare
    /// two runs line by line), not only their hash.
    pub fn with_log(config: SimConfig, keep_log: bool) -> Result<Self> {
        let mut rng = SimRng::new(config.seed);
        let n = config.nodes;
        let mut identities = Vec::with_capacity(n);
        let mut infos = Vec::with_capacity(n);
        let mut seeds = Vec::with_capacity(n);
        for i in 0..n {
            let identity = Identity::from_seed(rng.seed32())?;
            infos.push(identity.peer_info(MemAddress(i as u64).to_string())?);
            identities.push(identity);
            seeds.push((rng.next_u64(), rng.next_u64()));
        }
        let mut sim = Sim {
            start: Instant::now(),
            now: Duration::ZERO,
            nodes: (0..n).map(|_| None).collect(),
            identities,
            infos,
            seeds,
            conns: BTreeMap::new(),
            next_conn: 0,
            queue: EventQueue::new(),
            rng,
            log: EventLog::new(keep_log),
            groups: vec![0; n],
            calls: Vec::new(),
            enc: Bincode,
            stats: SimStats::default(),
            config,
        };
        for i in 0..n {
            let at = sim.config.start_spread.mul_f64(i as f64 / n.max(1) as f64);
            sim.schedule(at, Event::Start(i));
        }
        if let Some(mean) = sim.config.faults.cut_every {
            let at = sim.rng.exponential(mean);
            sim.schedule(at, Event::Cut);
        }
        Ok(sim)
    }

    /// Simulated time since the start.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// How many nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Node `n`'s id.
    pub fn peer_id(&self, n: usize) -> PeerId {
        *self.infos[n].get_id()
    }

    /// Peers node `n` is connected to (0 before it starts).
    pub fn peer_count(&self, n: usize) -> usize {
        self.nodes[n].as_ref().map_or(0, |s| s.core.peer_count())
    }

    /// The ids of the peers node `n` is connected to.
    pub fn connected_peers(&self, n: usize) -> Vec<PeerId> {
        let peers = self.nodes[n].as_ref().map(|s| s.core.connected_peers());
        peers
            .unwrap_or_default()
            .iter()
            .map(|p| *p.get_id())
            .collect()
    }

    /// The node whose id is `id`.
    pub fn node_of(&self, id: &PeerId) -> Option<usize> {
        self.infos.iter().position(|p| p.get_id() == id)
    }

    /// The log of the run so far.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Counters of the run so far.
    pub fn stats(&self) -> SimStats {
        SimStats {
            connections: self.next_conn,
            live_connections: self.conns.len(),
            ..self.stats
        }
    }

    /// Events waiting.
    pub fn pending_events(&self) -> usize {
        self.queue.len()
    }

    /// The api calls issued so far, by [`CallId`].
    pub fn calls(&self) -> &[CallRecord] {
        &self.calls
    }

    /// Asks node `n`, at `at`, what `kind` says, allowing it `timeout`.
    pub fn call_at(&mut self, at: Duration, n: usize, kind: CallKind, timeout: Duration) -> CallId {
        let at = at.max(self.now);
        let id = self.new_call(at, n, kind, timeout);
        self.schedule(at, Event::Call(id, timeout));
        id
    }

    pub(super) fn new_call(
        &mut self,
        at: Duration,
        n: usize,
        kind: CallKind,
        timeout: Duration,
    ) -> CallId {
        let id = CallId(self.calls.len());
        self.calls.push(CallRecord {
            node: n,
            kind,
            issued: at,
            deadline: at + timeout,
            ended: None,
            slot: mydht::service::ReplySlot::new(1),
        });
        id
    }

    /// Partitions the network at `at`: node `i` is on side `groups[i]`;
    /// connections across are cut, dials across fail, until
    /// [`heal_at`](Self::heal_at).
    pub fn partition_at(&mut self, at: Duration, groups: Vec<u8>) {
        assert_eq!(groups.len(), self.nodes.len(), "a side per node");
        self.schedule(at.max(self.now), Event::Partition(groups));
    }

    /// Ends the partition at `at`.
    pub fn heal_at(&mut self, at: Duration) {
        self.schedule(at.max(self.now), Event::Heal);
    }

    /// Handles every event due by `until`; the clock is then `until`.
    pub fn run_until(&mut self, until: Duration) {
        while self.queue.next_due().is_some_and(|t| t <= until) {
            self.step();
        }
        self.now = self.now.max(until);
    }

    /// Runs until `done` holds (checked every `every` of simulated time)
    /// or `until`; true if `done` held.
    pub fn run_until_or(
        &mut self,
        until: Duration,
        every: Duration,
        mut done: impl FnMut(&Sim) -> bool,
    ) -> bool {
        while self.now < until {
            if done(self) {
                return true;
            }
            let next = (self.now + every).min(until);
            self.run_until(next);
        }
        done(self)
    }

    /// Handles the next event; false when there is none.
    pub fn step(&mut self) -> bool {
        let Some((at, event)) = self.queue.pop() else {
            return false;
        };
        self.now = at;
        // A timer counts once it is found not stale.
        if !matches!(event, Event::Timer(_)) {
            self.stats.events += 1;
        }
        self.handle(event);
        true
    }

    /// True when `a` and `b` are on two sides of a partition.
    pub(super) fn partitioned(&self, a: usize, b: usize) -> bool {
        self.groups[a] != self.groups[b]
    }

    pub(super) fn schedule(&mut self, at: Duration, event: Event) {
        let tie_break = if self.config.faults.reorder {
            self.rng.next_u64()
        } else {
            0
        };
        self.queue.push(at, tie_break, event);
    }

    /// Schedules `event` towards end `to` of `id` after a latency, after
    /// whatever was sent towards that end before.
    pub(super) fn send(&mut self, id: u64, to: usize, event: Event) {
        let lat = self.config.faults.latency;
        let delay = self.rng.between(lat.min, lat.max);
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let end = &mut c.ends[to];
        let at = (self.now + delay).max(end.last_due + Duration::from_nanos(1));
        end.last_due = at;
        self.schedule(at, event);
    }

    pub(super) fn note(&mut self, node: usize, kind: LogKind, conn: u64, size: u64) {
        self.log.push(LogEntry {
            at: self.now,
            node: node as u32,
            kind,
            conn,
            size,
        });
    }

    /// The simulated time as the cores see it.
    pub(super) fn instant(&self) -> Instant {
        self.start + self.now
    }

    pub(super) fn node_mut(&mut self, n: usize) -> &mut SimNode {
        self.nodes[n]
            .as_mut()
            .expect("an event for a node not started")
    }
}
