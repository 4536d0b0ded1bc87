//! Idle pooled connections closed (`NodeConstants::idle_close`): an online
//! pooled connection has one entry in the core's idle heap; when it comes
//! due, the driver tells when the connection last moved bytes, and one idle
//! for the whole period ends its session and closes. No connection is
//! visited but the one due.

use std::time::Instant;

use mydht_base::Peer;

use super::conn::{ConnKind, OpenState, Phase};
use super::{Action, NodeCore};
use crate::command::ConnRef;
use crate::conf::MyDHTConf;

impl<C: MyDHTConf> NodeCore<C> {
    /// Connection `cref` may have come online: its first idle check is due
    /// one period from `now`.
    pub(super) fn arm_idle(&mut self, cref: ConnRef, now: Instant) {
        let Some(period) = self.constants.idle_close else {
            return;
        };
        let Some(conn) = self.conns.get_mut(&cref.key).filter(|c| c.id == cref.id) else {
            return;
        };
        if conn.kind != ConnKind::Pooled || !conn.is_online() || conn.idle_at.is_some() {
            return;
        }
        conn.idle_at = Some(now + period);
        self.idle.push(now + period, cref.key);
        if self.idle.needs_rebuild(self.conns.len()) {
            let current = self
                .conns
                .iter()
                .filter_map(|(k, c)| c.idle_at.map(|at| (at, *k)));
            self.idle.rebuild(current);
        }
    }

    /// The idle checks due at `now`: `last_active` tells when a connection
    /// last read or wrote bytes, as far as the driver knows (`None`: not
    /// since its check was armed). One idle for the whole period is closed,
    /// unless no more than `pool_size` peers are connected; the others are
    /// checked again one period after their last activity.
    pub(super) fn check_idle(
        &mut self,
        now: Instant,
        last_active: &mut impl FnMut(usize) -> Option<Instant>,
    ) {
        let Some(period) = self.constants.idle_close else {
            return;
        };
        while let Some(key) = self.idle.pop_due(now) {
            // A stale entry: its connection went (or is another one now).
            let Some(armed) = self.conns.get(&key).and_then(|c| c.idle_at) else {
                continue;
            };
            if armed > now {
                continue;
            }
            let since = last_active(key).map_or(armed - period, |t| t.max(armed - period));
            let queued = self
                .conns
                .get_mut(&key)
                .and_then(|c| c.outbox())
                .is_some_and(|o| !o.is_empty());
            let next = if queued {
                // Messages go out this turn.
                now + period
            } else if since + period > now {
                since + period
            } else if self.peers.len() <= self.constants.pool_size {
                // The pool is kept: discovery would dial it again.
                now + period
            } else {
                self.close_idle(key, now);
                continue;
            };
            if let Some(conn) = self.conns.get_mut(&key) {
                conn.idle_at = Some(next);
                self.idle.push(next, key);
            }
        }
    }

    /// Closes idle connection `key` cleanly: its peer offline now, nothing
    /// routed to it any more, its write service told to end the session
    /// (the connection is dropped when it has, or at the authentication
    /// timeout).
    fn close_idle(&mut self, key: usize, now: Instant) {
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        let Phase::Open { peer, state, .. } = &mut conn.phase else {
            return;
        };
        let peer = peer.clone();
        *state = OpenState::Ending;
        conn.idle_at = None;
        conn.deadline = now + self.constants.auth_timeout;
        self.deadlines.push(conn.deadline, key);
        let addresses = std::mem::take(&mut conn.addresses);
        // A dial to its address makes a new connection from now on.
        self.forget_addresses(key, &addresses);
        slog::debug!(self.logger, "idle connection closed"; "peer" => %peer.get_id());
        self.peer_conn_gone(peer, key);
        self.actions.push_back(Action::Finish { conn: key });
    }
}
