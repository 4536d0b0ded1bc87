//! The core's periodic timers: the query tick, the pool refresh and the
//! application's global tick.

use std::time::{Duration, Instant};

/// How often pending queries are checked for expiry.
pub(super) const QUERY_TICK: Duration = Duration::from_millis(100);

/// The two periodic timers.
pub(super) struct Timers {
    pub(super) next_tick: Instant,
    pub(super) next_refresh: Instant,
    pub(super) refresh: Duration,
    /// The global service's tick, when the configuration has one.
    pub(super) next_global: Option<Instant>,
}

impl Timers {
    /// Timers started at `now`; the first refresh is due at once.
    pub(super) fn new(now: Instant, refresh: Duration) -> Self {
        Timers {
            next_tick: now + QUERY_TICK,
            next_refresh: now,
            refresh,
            next_global: None,
        }
    }

    /// The earliest of the timers and `deadlines`.
    pub(super) fn next(&self, deadlines: impl Iterator<Item = Instant>) -> Instant {
        let mut periodic = self.next_tick.min(self.next_refresh);
        if let Some(global) = self.next_global {
            periodic = periodic.min(global);
        }
        deadlines.fold(periodic, Instant::min)
    }
}
