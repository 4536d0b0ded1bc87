//! [`Sim`]: the simulated network — its nodes, connections, clock and
//! event queue — and what its user asks of it (the events themselves are
//! handled in `events`, the nodes' actions carried out in `actions`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mydht::{Identity, PeerId, PeerInfo};
use mydht_base::{Peer, Result};

use super::app::{NodeStart, SimApp};
use super::calls::{CallId, CallKind, CallRecord};
use super::config::SimConfig;
use super::conn::SimConn;
use super::events::Event;
use super::log::{EventLog, LogEntry, LogKind};
use super::node::{SimConf, SimNode};
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
    /// Application messages given to a local service.
    pub app_messages: u64,
    /// Commands given to a global service.
    pub global_commands: u64,
    /// Calls of an application's service that failed (logged as
    /// [`LogKind::ServiceFailed`]).
    pub service_failures: u64,
    /// Messages followed by a stream (`WireMessage::AppStream`), dropped
    /// where they arrive: the simulation carries no bytes.
    pub streams_dropped: u64,
    /// Actions a simulation does not carry out (peer management notices,
    /// shadows, global service checks).
    pub ignored_actions: u64,
}

/// Makes a node's configuration when it starts.
type MakeConf<C> = Box<dyn FnMut(NodeStart<'_>) -> C>;

/// The period of the application's ticks, and what makes each tick's
/// command.
type AppTick<C> = (Duration, fn() -> <C as mydht::MyDHTConf>::GlobalCmd);

/// A simulated network (see the [module documentation](super)) of nodes
/// of configuration `C` (the touch application's by default).
pub struct Sim<C: SimApp = SimConf> {
    pub(super) config: SimConfig,
    pub(super) make_conf: MakeConf<C>,
    /// Every this period, each running node's global service is given
    /// the command this makes, through the api (as a live node's ticking
    /// thread does).
    pub(super) app_tick: Option<AppTick<C>>,
    start: Instant,
    pub(super) now: Duration,
    pub(super) nodes: Vec<Option<SimNode<C>>>,
    pub(super) identities: Vec<Identity>,
    infos: Vec<PeerInfo>,
    pub(super) seeds: Vec<(u64, u64)>,
    pub(super) conns: BTreeMap<u64, SimConn<C>>,
    pub(super) next_conn: u64,
    queue: EventQueue<Event<C>>,
    pub(super) rng: SimRng,
    pub(super) log: EventLog,
    /// Each node's side of the partition (all 0: none).
    pub(super) groups: Vec<u8>,
    pub(super) calls: Vec<CallRecord<C>>,
    pub(super) stats: SimStats,
}

impl Sim<SimConf> {
    /// The network of `config`, nodes of the touch application
    /// ([`SimConf`]): identities made, each node's start scheduled.
    /// Nothing runs until [`run_until`](Self::run_until).
    pub fn new(config: SimConfig) -> Result<Self> {
        Self::with_log(config, false)
    }

    /// As [`new`](Self::new); `keep_log` keeps every log entry (to compare
    /// two runs line by line), not only their hash.
    pub fn with_log(config: SimConfig, keep_log: bool) -> Result<Self> {
        Self::with_app(config, keep_log, |_| SimConf)
    }
}

impl<C: SimApp> Sim<C> {
    /// The network of `config` whose nodes run the configuration
    /// `make_conf` makes when each starts ([`NodeStart`]: its index,
    /// identity, the simulated time, a seed), its application's services
    /// included; `keep_log` as for [`with_log`](Sim::with_log).
    pub fn with_app(
        config: SimConfig,
        keep_log: bool,
        make_conf: impl FnMut(NodeStart<'_>) -> C + 'static,
    ) -> Result<Self> {
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
            make_conf: Box::new(make_conf),
            app_tick: None,
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
    pub fn calls(&self) -> &[CallRecord<C>] {
        &self.calls
    }

    /// Asks node `n`, at `at`, what `kind` says, allowing it `timeout`.
    pub fn call_at(&mut self, at: Duration, n: usize, kind: CallKind, timeout: Duration) -> CallId {
        let at = at.max(self.now);
        let id = self.new_call(at, n, kind, timeout, None);
        self.schedule(at, Event::Call(id, timeout));
        id
    }

    /// Asks node `n`'s global service, at `at`, to run `cmd` (an api query
    /// [`ApiAction::Global`](mydht::command::ApiAction::Global)), waiting
    /// for `replies` replies at most `timeout`; they are in the call's
    /// [`CallRecord::replies`] once it ended.
    pub fn app_call_at(
        &mut self,
        at: Duration,
        n: usize,
        cmd: C::GlobalCmd,
        replies: usize,
        timeout: Duration,
    ) -> CallId {
        let at = at.max(self.now);
        let id = self.new_call(at, n, CallKind::App(replies), timeout, Some(cmd));
        self.schedule(at, Event::Call(id, timeout));
        id
    }

    /// From now on, every `period` of simulated time, each running node
    /// is asked, through its api, to give its global service the command
    /// `cmd` makes (a tick: nobody waits for its reply). Each node ticks
    /// at its own phase of the period, drawn from the seed, from its
    /// start (or now, for the nodes started already).
    pub fn app_tick_every(&mut self, period: Duration, cmd: fn() -> C::GlobalCmd) {
        let first = self.app_tick.is_none();
        self.app_tick = Some((period, cmd));
        if first {
            for n in 0..self.nodes.len() {
                if self.is_running(n) {
                    self.schedule_tick(n);
                }
            }
        }
    }

    /// Schedules node `n`'s next application tick, if there are ticks.
    pub(super) fn schedule_tick(&mut self, n: usize) {
        if let Some((period, _)) = self.app_tick {
            let phase = self.rng.between(Duration::ZERO, period);
            self.schedule(
                self.now + phase.max(Duration::from_nanos(1)),
                Event::AppTick(n),
            );
        }
    }

    /// Stops node `n` at `at`, as a crash: its connections end (each peer
    /// sees its end after a latency, what was in flight towards it is
    /// lost), its calls under way fail, its timers and services are gone.
    pub fn stop_at(&mut self, at: Duration, n: usize) {
        self.schedule(at.max(self.now), Event::Stop(n));
    }

    /// True while node `n` runs (started, not stopped).
    pub fn is_running(&self, n: usize) -> bool {
        self.nodes[n].is_some()
    }

    /// Node `n`'s global service, while it runs.
    pub fn global(&self, n: usize) -> Option<&C::GlobalService> {
        self.nodes[n].as_ref().map(|s| &s.global)
    }

    pub(super) fn new_call(
        &mut self,
        at: Duration,
        n: usize,
        kind: CallKind,
        timeout: Duration,
        command: Option<C::GlobalCmd>,
    ) -> CallId {
        let id = CallId(self.calls.len());
        self.calls
            .push(CallRecord::new(n, kind, at, timeout, command));
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
        mut done: impl FnMut(&Sim<C>) -> bool,
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

    pub(super) fn schedule(&mut self, at: Duration, event: Event<C>) {
        let tie_break = if self.config.faults.reorder {
            self.rng.next_u64()
        } else {
            0
        };
        self.queue.push(at, tie_break, event);
    }

    /// Schedules `event` towards end `to` of `id` after a latency, after
    /// whatever was sent towards that end before.
    pub(super) fn send(&mut self, id: u64, to: usize, event: Event<C>) {
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

    pub(super) fn node_mut(&mut self, n: usize) -> &mut SimNode<C> {
        self.nodes[n]
            .as_mut()
            .expect("an event for a node not started")
    }
}
