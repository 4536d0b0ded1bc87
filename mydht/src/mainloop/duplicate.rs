//! Two connections to one peer, when two nodes dial each other at once:
//! the connection dialled by the lower peer id is kept, on both nodes
//! alike, so both keep the same one (of two dialled the same way, the
//! older). The other is closed by the node that dialled it (which holds
//! its queued messages and connect queries) once the kept one is open
//! there; the node that accepted it keeps it open until then, so that its
//! handshake ends on the dialling side, but routes nothing to it.
use std::mem;

use mydht_base::Peer;

use super::connection::ConnState;
use super::MainLoop;
use crate::conf::{Address, MyDHTConf};
use crate::identity::PeerInfo;
use crate::node_peer::info_of;
use crate::service::{ApiCommand, ApiResult};

impl<C: MyDHTConf> MainLoop<C> {
    /// The connection kept of `key`, newly authenticated to `peer`, and
    /// `old`, the one its peer entry has: the one dialled by the lower id,
    /// or `old` when both were dialled the same way.
    pub(super) fn keeps_new(&self, key: usize, old: usize, peer: &PeerInfo) -> bool {
        let we_are_lower = self.me.info().get_id() < peer.get_id();
        let by_lower = |k: usize| self.conns.get(k).is_some_and(|c| c.dialled == we_are_lower);
        by_lower(key) && !by_lower(old)
    }

    /// Connection `key` to `peer` loses to `kept`: closed with its
    /// connect queries answered and its queued messages moved when this
    /// node dialled it, opened and left to the peer otherwise.
    pub(super) fn lose(&mut self, key: usize, kept: usize, peer: C::PeerRef) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if !conn.dialled {
            if let Err(e) = self.open(key) {
                self.drop_conn(key, Some(e));
            }
            return;
        }
        let waiters = mem::take(&mut conn.waiters);
        let pending = mem::take(&mut conn.pending);
        slog::debug!(self.logger, "second connection to a peer closed"; "peer" => %peer.get_id());
        self.drop_conn(key, None);
        if let Ok(addr) = info_of(&*peer).get_address().parse::<Address<C>>() {
            self.addresses.insert(addr, kept);
        }
        for qid in waiters {
            let info = info_of(&*peer).clone();
            self.tell_api(ApiCommand::Reply(qid, ApiResult::Peer(Some(info))));
        }
        for msg in pending {
            self.send_on(kept, msg);
        }
    }

    /// The peer's open connection `old` is superseded by `kept`: what it
    /// had not handed to its write service moves over, and it is closed if
    /// this node dialled it.
    pub(super) fn supersede(&mut self, old: usize, kept: usize) {
        let Some(conn) = self.conns.get_mut(old) else {
            return;
        };
        let dialled = conn.dialled;
        let outbox = match &mut conn.state {
            ConnState::Open(open) => mem::take(&mut open.outbox),
            _ => Vec::new(),
        };
        if dialled {
            self.drop_conn(old, None);
        }
        for msg in outbox {
            self.send_on(kept, msg);
        }
    }
}
