//! How the simulation carries out a node's actions, as the mio driver
//! does (`mydht/src/driver/execute.rs`), over simulated connections, with
//! the application's services called inline.

use mydht::command::{ConnRef, MainLoopCommand};
use mydht::core::{Action, ServiceKind};
use mydht::frame::WireMessage;
use mydht::MyDHTConf;
use mydht_base::{Error, MsgEnc};

use super::app::SimApp;
use super::conn::{End, SimConn};
use super::events::Event;
use super::log::LogKind;
use super::network::Sim;
use super::node::{info_of, Msg, PeerRef};

impl<C: SimApp> Sim<C> {
    /// Node `n`'s turn ends: every action carried out, the peer store's
    /// and the services' replies handed back until there are none, the
    /// outboxes flushed; then its ended calls are noted and its timer set.
    pub(super) fn settle(&mut self, n: usize) {
        let now = self.instant();
        loop {
            self.drain(n);
            if self.node_mut(n).feed_replies(now) {
                continue;
            }
            self.node_mut(n).core.end_turn();
            self.drain(n);
            if !self.node_mut(n).feed_replies(now) {
                break;
            }
        }
        self.end_calls(n);
        // Never in the past: a timer event fires at its due time, and is
        // stale unless that is the time the node holds.
        let due = self.node_mut(n).core.poll_timeout().max(self.instant());
        let node = self.node_mut(n);
        if node.timer != Some(due) {
            node.timer = Some(due);
            let at = due.saturating_duration_since(self.instant());
            self.schedule(self.now + at, Event::Timer(n));
        }
    }

    fn drain(&mut self, n: usize) {
        while let Some(action) = self.node_mut(n).core.poll_action() {
            self.carry_out(n, action);
        }
    }

    /// Notes the calls of node `n` that ended.
    fn end_calls(&mut self, n: usize) {
        let now = self.now;
        let Sim {
            nodes, calls, log, ..
        } = self;
        let node = nodes[n].as_mut().expect("started");
        node.calls.retain(|id| {
            let rec = &mut calls[id.0];
            if !rec.slot.is_done() {
                return true;
            }
            rec.end(now);
            let failed = matches!(rec.ended, Some((_, super::CallOutcome::Failed(_))));
            let ok = u64::from(!failed);
            log.push(super::log::LogEntry {
                at: now,
                node: n as u32,
                kind: LogKind::CallEnd,
                conn: id.0 as u64,
                size: ok,
            });
            false
        });
    }

    fn carry_out(&mut self, n: usize, action: Action<C>) {
        let now = self.instant();
        match action {
            Action::Dial { dial, address } => {
                let to = usize::try_from(address.0).unwrap_or(usize::MAX);
                self.note(n, LogKind::Dial, to as u64, 0);
                let reachable =
                    to < self.nodes.len() && self.nodes[to].is_some() && !self.partitioned(n, to);
                if !reachable {
                    let lat = self.config.faults.latency;
                    let at = self.now + self.rng.between(lat.min, lat.max);
                    return self.schedule(at, Event::DialFailed(n, dial, to));
                }
                let id = self.next_conn;
                self.next_conn += 1;
                let key = self.node_mut(n).new_key(id);
                let conn = SimConn {
                    ends: [End::new(n, Some(key)), End::new(to, None)],
                    cut: false,
                };
                self.conns.insert(id, conn);
                self.node_mut(n).core.dialled(dial, key, now);
                self.send(id, 1, Event::Accept(id));
            }
            Action::SendFrame { conn, frame } => {
                let Some((id, side)) = self.end_of(n, conn) else {
                    return;
                };
                self.note(n, LogKind::SendFrame, id, frame.len() as u64);
                self.send(id, 1 - side, Event::Frame(id, 1 - side, frame));
            }
            Action::Open {
                conn,
                peer,
                pending,
                ..
            } => {
                let Some((id, side)) = self.end_of(n, conn.key) else {
                    return;
                };
                self.note(n, LogKind::Open, id, 0);
                let local = match self.init_local(n, &peer) {
                    Ok(local) => local,
                    Err(e) => return self.node_mut(n).core.conn_failed(conn.key, Some(e)),
                };
                let end = &mut self.conns.get_mut(&id).expect("known").ends[side];
                end.peer = Some((peer, conn));
                end.local = Some(local);
                let inbox = std::mem::take(&mut end.inbox);
                self.deliver(n, id, side, inbox);
                if !pending.is_empty() {
                    self.write(n, id, side, pending);
                }
            }
            Action::Write { conn, msgs } => {
                if let Some((id, side)) = self.end_of(n, conn) {
                    self.write(n, id, side, msgs);
                }
            }
            Action::Finish { conn } => {
                // What was given to the connection is on its way: the write
                // service has ended the session, the core hears so.
                let Some((id, side)) = self.end_of(n, conn) else {
                    return;
                };
                let cref = self
                    .conns
                    .get(&id)
                    .and_then(|c| c.ends[side].peer.as_ref())
                    .map(|p| p.1);
                if let Some(cref) = cref {
                    let ended = MainLoopCommand::ConnectionEnded {
                        conn: cref,
                        error: None,
                    };
                    self.node_mut(n).core.command(ended, now);
                }
            }
            Action::Refuse { conn, .. } => {
                // The refused peer reads it before the close that follows.
                if let Some((id, side)) = self.end_of(n, conn) {
                    self.write(n, id, side, vec![WireMessage::Refused]);
                }
            }
            Action::Close { conn, .. } => self.close(n, conn),
            Action::Api(cmd) => self.node_mut(n).api.apply(cmd),
            Action::PeerStore(cmd) => {
                let replies = self.node_mut(n).peer_store(*cmd, now);
                self.note(n, LogKind::PeerStore, 0, replies as u64);
            }
            Action::Global(cmd) => {
                self.stats.global_commands += 1;
                self.note(n, LogKind::Global, 0, 0);
                let node = self.node_mut(n);
                match C::global_at(&mut node.global, cmd, now) {
                    Ok(reply) => node.app_reply(reply),
                    Err(e) => self.service_failed(n, e),
                }
            }
            Action::Restart(ServiceKind::Global) => {
                let node = self.node_mut(n);
                let me = node.core.local_peer().clone();
                let made = node.conf.init_global(&me, node.core.peers_view());
                match made {
                    Ok(global) => node.global = global,
                    Err(e) => node.core.restart_failed(ServiceKind::Global, e),
                }
            }
            // The node's own services run inline and never lose their
            // state; a stopped core has closed its connections already.
            Action::PeerMgmt(_)
            | Action::PrepareShadows { .. }
            | Action::CheckGlobal
            | Action::Restart(_)
            | Action::Stop => self.stats.ignored_actions += 1,
        }
    }

    /// The global service failed to take a command: the core hears so, as
    /// from a driver's service slot (its state is kept).
    fn service_failed(&mut self, n: usize, e: Error) {
        self.stats.service_failures += 1;
        self.note(n, LogKind::ServiceFailed, 0, 0);
        self.node_mut(n)
            .core
            .service_failed(ServiceKind::Global, e, false);
    }

    /// The local service of node `n`'s connection with `peer`.
    fn init_local(&mut self, n: usize, peer: &PeerRef<C>) -> mydht_base::Result<C::LocalService> {
        let node = self.node_mut(n);
        let me = node.core.local_peer().clone();
        node.conf
            .init_local(&me, info_of::<C>(peer), node.core.peers_view())
    }

    /// Hands messages that arrived on end `side` of `id`, open at node
    /// `n`, to the node: application messages to the connection's local
    /// service, the others to the core, as its read service does. A local
    /// service's failure (not an ignorable one) ends the connection.
    pub(super) fn deliver(&mut self, n: usize, id: u64, side: usize, msgs: Vec<Msg<C>>) {
        let now = self.instant();
        let Some(end) = self.conns.get_mut(&id).map(|c| &mut c.ends[side]) else {
            return;
        };
        let Some((peer, conn)) = end.peer.clone() else {
            return;
        };
        let mut local = end.local.take();
        for msg in msgs {
            let cmd = match msg {
                WireMessage::App(msg) => {
                    let Some(service) = local.as_mut() else {
                        continue;
                    };
                    self.stats.app_messages += 1;
                    // No stream is ever lent: the simulation carries no
                    // bytes after a message.
                    let cmd = mydht::LocalCommand {
                        from: peer.clone(),
                        msg,
                        conn,
                        stream: None,
                    };
                    match C::local_at(service, cmd, now) {
                        Ok(reply) => {
                            self.node_mut(n).app_reply(reply);
                            continue;
                        }
                        Err(e) => {
                            self.stats.service_failures += 1;
                            self.note(n, LogKind::ServiceFailed, id, 0);
                            if e.level() == mydht_base::ErrorLevel::Ignore {
                                continue;
                            }
                            local = None;
                            ended(conn, e)
                        }
                    }
                }
                // The simulation carries no bytes after a frame.
                WireMessage::AppStream(..) => {
                    self.stats.streams_dropped += 1;
                    self.note(n, LogKind::Lost, id, 0);
                    continue;
                }
                // What a read service makes of it.
                WireMessage::Admitted => MainLoopCommand::Admitted(conn),
                WireMessage::Refused => MainLoopCommand::Refused(conn),
                msg => MainLoopCommand::Wire(peer.clone(), msg),
            };
            let stop = matches!(cmd, MainLoopCommand::ConnectionEnded { .. });
            self.node_mut(n).core.command(cmd, now);
            if stop {
                break;
            }
        }
        if let Some(end) = self.conns.get_mut(&id).map(|c| &mut c.ends[side]) {
            if end.peer.is_some() && end.local.is_none() {
                end.local = local;
            }
        }
    }

    /// The connection and side node `n` knows under `key`.
    fn end_of(&self, n: usize, key: usize) -> Option<(u64, usize)> {
        let node = self.nodes[n].as_ref()?;
        let id = *node.ends.get(&key)?;
        let side = self.conns.get(&id)?.side_of(n, key)?;
        Some((id, side))
    }

    /// Sends `msgs` from end `side` of `id` (lost if it is cut).
    fn write(&mut self, n: usize, id: u64, side: usize, msgs: Vec<Msg<C>>) {
        let enc = &self.node_mut(n).enc;
        let size: usize = msgs.iter().map(|m| enc.encoded_len(m).unwrap_or(0)).sum();
        self.note(n, LogKind::Write, id, size as u64);
        if self.conns.get(&id).is_some_and(|c| c.cut) {
            return self.note(n, LogKind::Lost, id, size as u64);
        }
        self.send(id, 1 - side, Event::Msgs(id, 1 - side, msgs, size as u64));
    }

    /// Node `n` closes its end `key`: the other end sees it end once what
    /// was sent before has arrived.
    fn close(&mut self, n: usize, key: usize) {
        let Some(id) = self.nodes[n].as_mut().and_then(|s| s.ends.remove(&key)) else {
            return;
        };
        self.note(n, LogKind::Close, id, 0);
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let Some(side) = c.side_of(n, key) else {
            return;
        };
        let end = &mut c.ends[side];
        end.closed = true;
        end.peer = None;
        end.local = None;
        end.inbox.clear();
        let (cut, other_closed) = (c.cut, c.ends[1 - side].closed);
        if c.is_over() {
            self.conns.remove(&id);
        } else if !cut && !other_closed {
            self.send(id, 1 - side, Event::Ended(id, 1 - side));
        }
    }
}

/// What a read service reports when its local service failed.
fn ended<C: MyDHTConf>(conn: ConnRef, error: Error) -> MainLoopCommand<C> {
    MainLoopCommand::ConnectionEnded {
        conn,
        error: Some(error),
    }
}
