//! Two connections to one peer, when two nodes dial each other at once:
//! the connection dialled by the lower peer id is kept, on both nodes
//! alike, so both keep the same one (of two dialled the same way, the
//! older). The other is closed by the node that dialled it (which holds
//! its queued messages and connect queries) once the kept one is open
//! there; the node that accepted it keeps it open until then, so that its
//! handshake ends on the dialling side, but routes nothing to it.

use std::mem;

use mydht_base::Peer;

use super::conn::OpenState;
use super::{info_of, NodeCore};
use crate::command::ConnRef;
use crate::conf::MyDHTConf;
use crate::service::{ApiCommand, ApiResult};

impl<C: MyDHTConf> NodeCore<C> {
    /// The connection kept of `key`, newly authenticated to `peer`, and
    /// `old`, the one its peer entry has: the one dialled by the lower id,
    /// or `old` when both were dialled the same way.
    pub(super) fn keeps_new(&self, key: usize, old: usize, peer: &C::PeerRef) -> bool {
        let we_are_lower = self.me.info().get_id() < peer.get_id();
        let by_lower = |k: usize| {
            self.conns
                .get(&k)
                .is_some_and(|c| c.dialled.is_some() == we_are_lower)
        };
        by_lower(key) && !by_lower(old)
    }

    /// Connection `cref` to `peer` loses to `kept`: closed with its
    /// connect queries answered and its queued messages moved when this
    /// node dialled it, opened and left to the peer otherwise.
    pub(super) fn lose(&mut self, cref: ConnRef, kept: usize, peer: C::PeerRef) {
        let Some(conn) = self.conns.get_mut(&cref.key) else {
            return;
        };
        let Some(address) = conn.dialled.clone() else {
            // The peer dialled it: it closes it once its kept connection is
            // online there; until then nothing is routed here.
            return self.set_open_state(cref.key, OpenState::Standby);
        };
        let waiters = mem::take(&mut conn.waiters);
        let pending = mem::take(&mut conn.pending);
        slog::debug!(self.logger, "second connection to a peer closed"; "peer" => %peer.get_id());
        self.drop_conn(cref.key, None);
        // This node dialled `address` and found the peer there: its kept
        // connection is the one for that address now.
        self.map_address(address, kept);
        for qid in waiters {
            let info = info_of::<C>(&peer).clone();
            self.tell_api(ApiCommand::Reply(qid, ApiResult::Peer(Some(info))));
        }
        for msg in pending {
            self.queue_msg(kept, msg);
        }
    }

    /// The peer's open connection `old` is superseded by `kept`: what it
    /// had not handed to its write service moves over, and it is closed if
    /// this node dialled it.
    pub(super) fn supersede(&mut self, old: usize, kept: usize) {
        let Some(conn) = self.conns.get_mut(&old) else {
            return;
        };
        let dialled = conn.dialled.clone();
        let outbox = conn.outbox().map(mem::take).unwrap_or_default();
        let peer = conn.online_peer().map(|p| *p.get_id());
        match (dialled, peer) {
            (Some(address), _) => {
                self.drop_conn(old, None);
                // This node dialled `address` and found the peer there: its
                // kept connection is the one for that address now.
                self.map_address(address, kept);
            }
            // Left for the peer to close, online until then.
            (None, Some(id)) => self.superseded.entry(id).or_default().push(old),
            (None, None) => {}
        }
        for msg in outbox {
            self.queue_msg(kept, msg);
        }
    }
}
