//! [`TimeBase`]: the node's time as the service is given it. Every
//! decision of [`DhtGlobal`](crate::dht::DhtGlobal) reads the `Instant` it
//! is handed, and value times (milliseconds since the Unix epoch) are
//! derived from it, so a simulation that passes its own clock drives the
//! whole service.

use std::time::Instant;

use crate::clock::ManualClock;

/// An `Instant` and the Unix time in milliseconds it stands for: the
/// Unix time of any later `Instant` follows.
#[derive(Debug, Clone)]
pub struct TimeBase {
    at: Instant,
    ms: u64,
    /// The store's clock, set to the time of each command.
    clock: ManualClock,
}

impl TimeBase {
    /// The base `at` standing for `ms` milliseconds since the epoch.
    pub fn new(at: Instant, ms: u64) -> Self {
        TimeBase {
            at,
            ms,
            clock: ManualClock::new(ms),
        }
    }

    /// The Unix time in milliseconds of `now` (the base's own for an
    /// earlier `now`).
    pub fn ms_at(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.at).as_millis();
        self.ms
            .saturating_add(u64::try_from(since).unwrap_or(u64::MAX))
    }

    /// Sets the store's clock to `now`; returns its Unix time.
    pub fn set(&self, now: Instant) -> u64 {
        let ms = self.ms_at(now);
        self.clock.set(ms);
        ms
    }

    /// The clock the store reads, moved by [`set`](Self::set).
    pub fn clock(&self) -> ManualClock {
        self.clock.clone()
    }
}
