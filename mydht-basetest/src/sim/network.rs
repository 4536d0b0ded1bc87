//! [`Sim`]: the simulated network — its nodes, connections, clock and
//! event queue — and how it handles each event.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mydht::command::{DialId, MainLoopCommand};
use mydht::{Bincode, Identity, PeerId, PeerInfo};
use mydht_base::{Error, ErrorKind, ErrorLevel, Peer, Result};

use super::calls::{CallId, CallKind, CallOutcome, CallRecord};
use super::config::SimConfig;
use super::conn::SimConn;
use super::log::{EventLog, LogEntry, LogKind};
use super::node::{Msg, SimNode};
use super::queue::EventQueue;
use super::rng::SimRng;
use crate::transport::MemAddress;

/// What the event queue holds.
pub(super) enum Event {
    Start(usize),
    Timer(usize),
    /// A dialled connection reaches its other end.
    Accept(u64),
    DialFailed(usize, DialId, usize),
    Frame(u64, usize, Vec<u8>),
    /// Messages towards an end, with their encoded size.
    Msgs(u64, usize, Vec<Msg>, u64),
    /// The end sees its connection end.
    Ended(u64, usize),
    /// The random cut process.
    Cut,
    Call(CallId, Duration),
    Partition(Vec<u8>),
    Heal,
}

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
    identities: Vec<Identity>,
    infos: Vec<PeerInfo>,
    seeds: Vec<(u64, u64)>,
    pub(super) conns: BTreeMap<u64, SimConn>,
    pub(super) next_conn: u64,
    queue: EventQueue<Event>,
    pub(super) rng: SimRng,
    pub(super) log: EventLog,
    /// Each node's side of the partition (all 0: none).
    groups: Vec<u8>,
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

    fn new_call(&mut self, at: Duration, n: usize, kind: CallKind, timeout: Duration) -> CallId {
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
        match event {
            Event::Timer(n) => self.on_timer(n),
            event => {
                self.stats.events += 1;
                self.handle(event);
            }
        }
        true
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Start(n) => self.on_start(n),
            Event::Timer(n) => self.on_timer(n),
            Event::Accept(id) => self.on_accept(id),
            Event::DialFailed(n, dial, to) => {
                self.note(n, LogKind::DialFailed, to as u64, 0);
                let e = Error::new(
                    ErrorKind::Io(std::io::ErrorKind::ConnectionRefused),
                    ErrorLevel::Ignore,
                    "unreachable",
                );
                self.node_mut(n).core.dial_failed(dial, e);
                self.settle(n);
            }
            Event::Frame(id, to, body) => {
                let Some((n, key)) = self.live_end(id, to, false) else {
                    return self.lost(id, to);
                };
                self.note(n, LogKind::Frame, id, body.len() as u64);
                let now = self.instant();
                self.node_mut(n).core.handshake_frame(key, &body, now);
                self.settle(n);
            }
            Event::Msgs(id, to, msgs, size) => self.on_msgs(id, to, msgs, size),
            Event::Ended(id, to) => self.on_ended(id, to),
            Event::Cut => {
                let live: Vec<u64> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| !c.cut)
                    .map(|(id, _)| *id)
                    .collect();
                if !live.is_empty() {
                    let id = live[self.rng.below(live.len() as u64) as usize];
                    self.cut(id);
                }
                if let Some(mean) = self.config.faults.cut_every {
                    let at = self.now + self.rng.exponential(mean);
                    self.schedule(at, Event::Cut);
                }
            }
            Event::Call(id, timeout) => self.on_call(id, timeout),
            Event::Partition(groups) => {
                let cut_off = groups.iter().filter(|&&g| g != 0).count();
                self.note(0, LogKind::Partition, 0, cut_off as u64);
                self.groups = groups;
                let across: Vec<u64> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| !c.cut && self.partitioned(c.ends[0].node, c.ends[1].node))
                    .map(|(id, _)| *id)
                    .collect();
                across.into_iter().for_each(|id| self.cut(id));
            }
            Event::Heal => {
                self.note(0, LogKind::Heal, 0, 0);
                self.groups.iter_mut().for_each(|g| *g = 0);
            }
        }
    }

    fn on_start(&mut self, n: usize) {
        let (core_seed, store_seed) = self.seeds[n];
        let constants = if n == 0 {
            self.config.bootstrap_constants.clone()
        } else {
            self.config.constants.clone()
        };
        let identity = self.identities[n].clone();
        let node = SimNode::new(
            n,
            identity,
            constants,
            self.instant(),
            core_seed,
            store_seed,
        )
        .expect("a simulated node is made of valid parts");
        self.nodes[n] = Some(node);
        self.note(n, LogKind::Start, 0, 0);
        if self.config.bootstrap && n != 0 {
            let timeout = self.config.bootstrap_timeout;
            // Issued now, in the node's first turn.
            let id = self.new_call(self.now, n, CallKind::Connect(0), timeout);
            self.on_call(id, timeout);
            return;
        }
        self.settle(n);
    }

    fn on_timer(&mut self, n: usize) {
        let now = self.instant();
        let node = self.node_mut(n);
        if node.timer != Some(now) {
            return; // stale: rescheduled since
        }
        node.timer = None;
        self.stats.events += 1;
        if now >= self.node_mut(n).core.poll_timeout() {
            self.note(n, LogKind::Timer, 0, 0);
            self.node_mut(n).core.handle_timeout(now);
        }
        self.settle(n);
    }

    fn on_accept(&mut self, id: u64) {
        let Some(c) = self.conns.get(&id) else {
            return self.lost(id, 1);
        };
        let (from, to) = (c.ends[0].node, c.ends[1].node);
        if c.cut {
            return self.lost(id, 1);
        }
        if self.partitioned(from, to) || self.nodes[to].is_none() {
            return self.cut(id);
        }
        let key = self.node_mut(to).new_key(id);
        if let Some(c) = self.conns.get_mut(&id) {
            c.ends[1].key = Some(key);
        }
        self.note(to, LogKind::Accept, id, 0);
        let now = self.instant();
        self.node_mut(to).core.accepted(key, now);
        self.settle(to);
    }

    fn on_msgs(&mut self, id: u64, to: usize, msgs: Vec<Msg>, size: u64) {
        let Some((n, _)) = self.live_end(id, to, false) else {
            return self.lost(id, to);
        };
        self.note(n, LogKind::Msgs, id, size);
        let end = &mut self.conns.get_mut(&id).expect("live").ends[to];
        match end.peer.clone() {
            Some(peer) => {
                self.deliver(n, &peer, msgs);
                self.settle(n);
            }
            None => end.inbox.extend(msgs),
        }
    }

    /// Hands messages that arrived on an open connection to node `n`.
    pub(super) fn deliver(&mut self, n: usize, peer: &super::node::PeerRef, msgs: Vec<Msg>) {
        let now = self.instant();
        for msg in msgs {
            match msg {
                mydht::frame::WireMessage::App(_) => self.stats.app_messages += 1,
                msg => self
                    .node_mut(n)
                    .core
                    .command(MainLoopCommand::Wire(peer.clone(), msg), now),
            }
        }
    }

    fn on_ended(&mut self, id: u64, to: usize) {
        let Some((n, key)) = self.live_end(id, to, true) else {
            return;
        };
        self.note(n, LogKind::Ended, id, 0);
        let e = Error::new(
            ErrorKind::Io(std::io::ErrorKind::ConnectionReset),
            ErrorLevel::Ignore,
            "connection ended",
        );
        self.node_mut(n).core.conn_failed(key, Some(e));
        self.settle(n);
    }

    fn on_call(&mut self, id: CallId, timeout: Duration) {
        let n = self.calls[id.0].node;
        self.note(n, LogKind::Call, id.0 as u64, 0);
        let Some(node) = self.nodes[n].as_mut() else {
            let e = Error::new(
                ErrorKind::ChannelClosed,
                ErrorLevel::Ignore,
                "node not started",
            );
            self.calls[id.0].ended = Some((self.now, CallOutcome::Failed(e)));
            return;
        };
        let qid = node.new_qid();
        let rec = &self.calls[id.0];
        let cmd = MainLoopCommand::Api {
            qid,
            slot: rec.slot.clone(),
            timeout,
            action: rec.kind.action(),
        };
        node.calls.push(id);
        let now = self.start + self.now;
        node.core.command(cmd, now);
        self.settle(n);
    }

    /// Cuts connection `id`: what is in flight is lost, each end sees it
    /// end after a latency.
    pub(super) fn cut(&mut self, id: u64) {
        let lat = self.config.faults.latency;
        let mut notices = Vec::new();
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        c.cut = true;
        let node = c.ends[0].node;
        for (side, end) in c.ends.iter_mut().enumerate() {
            if end.closed {
                continue;
            }
            if end.key.is_none() {
                end.closed = true;
            } else {
                notices.push(side);
            }
        }
        if c.is_over() {
            self.conns.remove(&id);
        }
        self.note(node, LogKind::Cut, id, 0);
        for side in notices {
            let at = self.now + self.rng.between(lat.min, lat.max);
            self.schedule(at, Event::Ended(id, side));
        }
    }

    /// Node and key of end `to` of `id`, while the node has it open (and
    /// the connection is not cut, unless `cut_too`).
    fn live_end(&self, id: u64, to: usize, cut_too: bool) -> Option<(usize, usize)> {
        let c = self.conns.get(&id)?;
        let end = &c.ends[to];
        if (c.cut && !cut_too) || end.closed {
            return None;
        }
        Some((end.node, end.key?))
    }

    fn lost(&mut self, id: u64, to: usize) {
        let node = self
            .conns
            .get(&id)
            .map_or(u32::MAX as usize, |c| c.ends[to].node);
        self.note(node, LogKind::Lost, id, 0);
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
