//! How the simulation handles each event: a node starting or stopping,
//! its timer, a connection arriving, a frame or messages arriving, a
//! connection ending, a cut, an api call, a partition.

use std::time::Duration;

use mydht::command::DialId;
use mydht_base::{Error, ErrorKind, ErrorLevel};

use super::app::{NodeStart, SimApp};
use super::calls::{CallId, CallKind, CallOutcome};
use super::log::LogKind;
use super::network::Sim;
use super::node::{Msg, SimNode};
use super::rng::SimRng;

/// What the event queue holds.
pub(super) enum Event<C: SimApp> {
    Start(usize),
    Stop(usize),
    Timer(usize),
    /// A node's application tick ([`Sim::app_tick_every`]).
    AppTick(usize),
    /// A dialled connection reaches its other end.
    Accept(u64),
    DialFailed(usize, DialId, usize),
    Frame(u64, usize, Vec<u8>),
    /// Messages towards an end, with their encoded size.
    Msgs(u64, usize, Vec<Msg<C>>, u64),
    /// The end sees its connection end.
    Ended(u64, usize),
    /// The random cut process.
    Cut,
    Call(CallId, Duration),
    Partition(Vec<u8>),
    Heal,
}

impl<C: SimApp> Sim<C> {
    pub(super) fn handle(&mut self, event: Event<C>) {
        match event {
            Event::Start(n) => self.on_start(n),
            Event::Stop(n) => self.on_stop(n),
            Event::Timer(n) => self.on_timer(n),
            Event::AppTick(n) => self.on_app_tick(n),
            Event::Accept(id) => self.on_accept(id),
            Event::DialFailed(n, dial, to) => {
                if !self.is_running(n) {
                    return;
                }
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
        if self.is_running(n) {
            return;
        }
        let (core_seed, store_seed) = self.seeds[n];
        let constants = if n == 0 {
            self.config.bootstrap_constants.clone()
        } else {
            self.config.constants.clone()
        };
        let identity = self.identities[n].clone();
        let now = self.instant();
        let conf = (self.make_conf)(NodeStart {
            index: n,
            identity: &identity,
            now,
            elapsed: self.now,
            seed: SimRng::new(core_seed ^ store_seed.rotate_left(32)).next_u64(),
        });
        let node = SimNode::new(
            n,
            conf,
            identity,
            constants,
            self.instant(),
            core_seed,
            store_seed,
        )
        .expect("a simulated node is made of valid parts");
        self.nodes[n] = Some(node);
        self.note(n, LogKind::Start, 0, 0);
        self.schedule_tick(n);
        if self.config.bootstrap && n != 0 {
            let timeout = self.config.bootstrap_timeout;
            // Issued now, in the node's first turn.
            let id = self.new_call(self.now, n, CallKind::Connect(0), timeout, None);
            self.on_call(id, timeout);
            return;
        }
        self.settle(n);
    }

    /// Node `n` stops as if it crashed: every end of its connections is
    /// closed at once, the other ends see them end a latency later, its
    /// calls under way fail.
    fn on_stop(&mut self, n: usize) {
        let Some(node) = self.nodes[n].take() else {
            return;
        };
        self.note(n, LogKind::Stop, 0, 0);
        let lat = self.config.faults.latency;
        for (key, id) in node.ends {
            let Some(c) = self.conns.get_mut(&id) else {
                continue;
            };
            let Some(side) = c.side_of(n, key) else {
                continue;
            };
            let end = &mut c.ends[side];
            end.closed = true;
            end.peer = None;
            end.local = None;
            end.inbox.clear();
            let other = &mut c.ends[1 - side];
            let notice = !c.cut && !other.closed && other.key.is_some();
            if other.key.is_none() {
                // Not accepted yet: its accept finds a cut connection.
                other.closed = true;
                c.cut = true;
            }
            if c.is_over() {
                self.conns.remove(&id);
            }
            if notice {
                let at = self.now + self.rng.between(lat.min, lat.max);
                self.schedule(at, Event::Ended(id, 1 - side));
            }
        }
        for id in node.calls {
            let e = Error::new(ErrorKind::ChannelClosed, ErrorLevel::Ignore, "node stopped");
            self.calls[id.0].ended = Some((self.now, CallOutcome::Failed(e)));
        }
    }

    /// Gives node `n` its tick through the api, then schedules the next.
    fn on_app_tick(&mut self, n: usize) {
        let Some((period, cmd)) = self.app_tick else {
            return;
        };
        let now = self.instant();
        let Some(node) = self.nodes[n].as_mut() else {
            return;
        };
        let qid = node.new_qid();
        let tick = mydht::command::MainLoopCommand::Api {
            qid,
            slot: mydht::service::ReplySlot::new(1),
            timeout: period,
            action: mydht::command::ApiAction::Global(cmd()),
        };
        node.core.command(tick, now);
        self.note(n, LogKind::AppTick, 0, 0);
        self.settle(n);
        self.schedule(self.now + period, Event::AppTick(n));
    }

    fn on_timer(&mut self, n: usize) {
        let now = self.instant();
        let Some(node) = self.nodes[n].as_mut() else {
            return;
        };
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

    fn on_msgs(&mut self, id: u64, to: usize, msgs: Vec<Msg<C>>, size: u64) {
        let Some((n, _)) = self.live_end(id, to, false) else {
            return self.lost(id, to);
        };
        self.note(n, LogKind::Msgs, id, size);
        let end = &mut self.conns.get_mut(&id).expect("live").ends[to];
        if end.peer.is_some() {
            self.deliver(n, id, to, msgs);
            self.settle(n);
        } else {
            end.inbox.extend(msgs);
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
                "node not running",
            );
            self.calls[id.0].ended = Some((self.now, CallOutcome::Failed(e)));
            return;
        };
        let qid = node.new_qid();
        let rec = &mut self.calls[id.0];
        let Some(action) = rec.action() else {
            return;
        };
        let cmd = mydht::command::MainLoopCommand::Api {
            qid,
            slot: rec.slot.clone(),
            timeout,
            action,
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
