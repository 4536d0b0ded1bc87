//! How the simulation handles each event: a node starting, its timer, a
//! connection arriving, a frame or messages arriving, a connection ending,
//! a cut, an api call, a partition.

use std::time::Duration;

use mydht::command::{ConnRef, DialId, MainLoopCommand};
use mydht::frame::WireMessage;
use mydht_base::{Error, ErrorKind, ErrorLevel};

use super::calls::{CallId, CallKind, CallOutcome};
use super::log::LogKind;
use super::network::Sim;
use super::node::{Msg, PeerRef, SimNode};

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

impl Sim {
    pub(super) fn handle(&mut self, event: Event) {
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
    pub(super) fn deliver(&mut self, n: usize, end: &(PeerRef, ConnRef), msgs: Vec<Msg>) {
        let now = self.instant();
        let (peer, conn) = end;
        for msg in msgs {
            let cmd = match msg {
                WireMessage::App(_) => {
                    self.stats.app_messages += 1;
                    continue;
                }
                // What a read service makes of it.
                WireMessage::Admitted => MainLoopCommand::Admitted(*conn),
                WireMessage::Refused => MainLoopCommand::Refused(*conn),
                msg => MainLoopCommand::Wire(peer.clone(), msg),
            };
            self.node_mut(n).core.command(cmd, now);
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

    pub(super) fn on_call(&mut self, id: CallId, timeout: Duration) {
        let n = self.calls[id.0].node;
        self.note(n, LogKind::Call, id.0 as u64, 0);
        let now = self.instant();
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
}
