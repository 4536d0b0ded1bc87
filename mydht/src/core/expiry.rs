//! What the core does when time passes: the query tick (api expiry,
//! peer-count waits, the global service's health), the pool refresh (peer
//! store clock, discovery) and each connection's deadline
//! (authentication, verdict).

use std::time::Instant;

use mydht_base::{Error, ErrorKind, ErrorLevel};

use super::conn::{OpenState, Phase};
use super::timers::QUERY_TICK;
use super::{Action, NodeCore, NO_QUERY};
use crate::conf::MyDHTConf;
use crate::service::peer_store::PeerStoreCommand;
use crate::service::{ApiCommand, GlobalCommand};

impl<C: MyDHTConf> NodeCore<C> {
    /// The time is `now`: whatever was due is done. Idle checks
    /// (`NodeConstants::idle_close`) count only the activity the core was
    /// told of: a driver that sees its connections' bytes uses
    /// [`handle_timeout_with`](Self::handle_timeout_with).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.handle_timeout_with(now, |_| None);
    }

    /// [`handle_timeout`](Self::handle_timeout), with `last_active`
    /// telling, for a connection whose idle check is due (its key), when it
    /// last read or wrote bytes (`None`: unknown, or not since the check
    /// was armed). Called for the connections due only.
    pub fn handle_timeout_with(
        &mut self,
        now: Instant,
        mut last_active: impl FnMut(usize) -> Option<Instant>,
    ) {
        if now >= self.timers.next_tick {
            self.timers.next_tick = now + QUERY_TICK;
            self.tell_api(ApiCommand::Expire(now));
            self.expire_watchers(now);
            self.actions.push_back(Action::CheckGlobal);
        }
        if let (Some(next), Some(tick)) = (self.timers.next_global, self.global_tick.as_mut()) {
            if now >= next {
                self.timers.next_global = Some(now + tick.period());
                if let Some(cmd) = tick.make() {
                    self.tell_global(GlobalCommand::Api(NO_QUERY, cmd));
                }
            }
        }
        if now >= self.timers.next_refresh {
            self.timers.next_refresh = now + self.timers.refresh;
            self.tell_peer_store(PeerStoreCommand::Tick(now));
            self.discover();
        }
        while let Some(key) = self.deadlines.pop_due(now) {
            // A stale entry: the connection went, is online, or was given
            // a later deadline (pushed too).
            let Some(c) = self
                .conns
                .get(&key)
                .filter(|c| c.deadline().is_some_and(|d| d <= now))
            else {
                continue;
            };
            let why = match c.phase {
                Phase::Awaiting { .. } => "no peer management verdict in time: rejected",
                Phase::Open {
                    state: OpenState::Once,
                    ..
                } => "send-once connection open past its timeout",
                Phase::Open {
                    state: OpenState::Ending,
                    ..
                } => "idle connection closed: its session did not end in time",
                Phase::Open { .. } => "the peer did not admit this node in time",
                _ => "authentication timed out",
            };
            let err = Error::new(ErrorKind::Timeout, ErrorLevel::ShutDown, why);
            self.drop_conn(key, Some(err));
        }
        self.check_idle(now, &mut last_active);
    }
}
