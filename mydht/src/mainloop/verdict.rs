//! Peer management seen from the main loop: an authenticated connection
//! waits for its verdict (bounded by the connection slab, rejected at
//! `verdict_timeout`) while the loop goes on; the verdict is applied when
//! [`MainLoopCommand::Verdict`] comes back. A manager whose verdict does
//! not depend on the peer (`PeerManager::fixed_verdict`, e.g. `AcceptAll`)
//! is not asked: its verdict is applied at once, a round trip less per
//! connect.

use std::time::Instant;

use mydht_base::{Error, ErrorKind, ErrorLevel, Peer, Ref};

use super::connection::{Awaiting, ConnState};
use super::{ConnRef, MainLoop, PeerEntry, NO_QUERY};
use crate::auth::Authenticated;
use crate::conf::{Address, MyDHTConf, PeerVerdict};
use crate::identity::PeerInfo;
use crate::node_peer::info_of;
use crate::service::peer_store::PeerStoreCommand;
use crate::service::{
    ApiCommand, ApiResult, GlobalCommand, PeerMgmtCommand, PeerMgmtService, PeerStatus, ServiceSlot,
};

impl<C: MyDHTConf> MainLoop<C> {
    /// A connection is authenticated: it awaits peer management's verdict.
    pub(super) fn on_authenticated(&mut self, key: usize, auth: Authenticated) {
        if auth.peer.get_id() == self.me.info().get_id() {
            let e = Error::new(ErrorKind::Auth, ErrorLevel::ShutDown, "connected to itself");
            return self.drop_conn(key, Some(e));
        }
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let ConnState::Handshaking(hs) = std::mem::replace(&mut conn.state, ConnState::Switching)
        else {
            let e = Error::new(ErrorKind::Other, ErrorLevel::ShutDown, "not authenticating");
            return self.drop_conn(key, Some(e));
        };
        let peer = <C::PeerRef as Ref<C::Peer>>::new(C::Peer::from(auth.peer.clone()));
        conn.state = ConnState::Awaiting(Box::new(Awaiting {
            hs,
            auth,
            peer: peer.clone(),
        }));
        conn.deadline = Instant::now() + self.constants.verdict_timeout;
        let cref = ConnRef { key, id: conn.id };
        match self.fixed_verdict {
            Some(verdict) => self.on_verdict(cref, verdict),
            None => self.tell_peer_mgmt(PeerMgmtCommand::Accept { conn: cref, peer }),
        }
    }

    /// Applies a verdict to the connection awaiting it (gone or timed out:
    /// nothing to do).
    pub(super) fn on_verdict(&mut self, cref: ConnRef, verdict: PeerVerdict) {
        let peer = match self.conns.get(cref.key) {
            Some(c) if c.id == cref.id => match &c.state {
                ConnState::Awaiting(a) => a.peer.clone(),
                _ => return,
            },
            _ => return,
        };
        let priority = match verdict {
            PeerVerdict::Accept => 0,
            PeerVerdict::Priority(p) => p,
            PeerVerdict::Reject => {
                slog::info!(self.logger, "peer rejected"; "peer" => %peer.get_id());
                let e = Error::new(ErrorKind::Auth, ErrorLevel::ShutDown, "peer rejected");
                return self.drop_conn(cref.key, Some(e));
            }
        };
        self.admit(cref.key, peer, priority);
    }

    /// With `max_peers` peers connected, evicts the lowest-priority one if
    /// `peer` ranks higher; false when there is no room for `peer`.
    fn make_room(&mut self, peer: &PeerInfo, priority: u8) -> bool {
        if self.peers.contains_key(peer.get_id()) || self.peers.len() < self.constants.max_peers {
            return true;
        }
        let lowest = self
            .peers
            .values()
            .min_by_key(|p| p.priority)
            .map(|p| (p.conn, p.priority, *p.info.get_id()));
        match lowest {
            Some((conn, lowest, id)) if lowest < priority => {
                slog::info!(self.logger, "peer evicted for a higher priority one"; "peer" => %id);
                let e = Error::new(ErrorKind::Auth, ErrorLevel::ShutDown, "evicted");
                self.drop_conn(conn, Some(e));
                true
            }
            _ => false,
        }
    }

    /// Spawns the services of an accepted connection and sends what waited
    /// for it.
    fn admit(&mut self, key: usize, peer: C::PeerRef, priority: u8) {
        // Already connected: both nodes dialled each other at once.
        let old = self
            .peers
            .get(peer.get_id())
            .map(|p| p.conn)
            .filter(|&k| k != key);
        if let Some(old) = old {
            if !self.keeps_new(key, old, info_of(&*peer)) {
                return self.lose(key, old, peer);
            }
        }
        if !self.make_room(info_of(&*peer), priority) {
            let e = Error::new(
                ErrorKind::Auth,
                ErrorLevel::ShutDown,
                "no room for the peer",
            );
            return self.drop_conn(key, Some(e));
        }
        if let Err(e) = self.open(key) {
            return self.drop_conn(key, Some(e));
        }
        slog::debug!(self.logger, "peer online"; "peer" => %peer.get_id());
        if let Ok(addr) = info_of(&*peer).get_address().parse::<Address<C>>() {
            self.addresses.insert(addr, key);
        }
        self.peers.insert(
            *peer.get_id(),
            PeerEntry {
                info: peer.clone(),
                conn: key,
                priority,
            },
        );
        if let Some(conn) = self.conns.get_mut(key) {
            let waiters = std::mem::take(&mut conn.waiters);
            for qid in waiters {
                let info = info_of(&*peer).clone();
                self.tell_api(ApiCommand::Reply(qid, ApiResult::Peer(Some(info))));
            }
        }
        if let Some(old) = old {
            // Online already: only the connection changes.
            return self.supersede(old, key);
        }
        self.check_watchers();
        self.route.add(info_of(&*peer));
        let info = info_of(&*peer).clone();
        self.tell_peer_store(PeerStoreCommand::StoreLocally(NO_QUERY, info));
        self.tell_peer_mgmt(PeerMgmtCommand::PeerOnline(peer.clone()));
        self.tell_global(GlobalCommand::PeerStatus(peer, PeerStatus::Online));
    }

    /// A refused command is logged: an `Accept` then times out as a reject.
    pub(super) fn tell_peer_mgmt(&mut self, cmd: PeerMgmtCommand<C::PeerRef>) {
        if let Err(e) = self.peer_mgmt.send(cmd) {
            slog::error!(self.logger, "peer management refused a command"; "error" => %e);
        }
        if let Some(e) = self.peer_mgmt.take_error() {
            slog::error!(self.logger, "peer management failed"; "error" => %e);
        }
        if self.peer_mgmt.is_gone() {
            self.restart_peer_mgmt();
        }
    }

    /// Peer management whose thread died lost its state: a new one is made
    /// from the configuration.
    fn restart_peer_mgmt(&mut self) {
        let slot = self.conf.peer_manager().and_then(|m| {
            self.fixed_verdict = m.fixed_verdict();
            ServiceSlot::new(
                PeerMgmtService::new(self.me.info().clone(), m),
                self.sender.clone(),
                self.conf.peer_mgmt_spawner()?,
                self.conf.peer_mgmt_channel(),
                self.constants.loops.peer_mgmt,
            )
        });
        match slot {
            Ok(slot) => {
                slog::warn!(self.logger, "peer management restarted");
                self.peer_mgmt = slot;
            }
            Err(e) => {
                slog::error!(self.logger, "peer management cannot restart: node stops"; "error" => %e);
                self.running = false;
            }
        }
    }
}
