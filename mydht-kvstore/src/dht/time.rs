//! [`TimeBase`]: the node's time as the service is given it. Every
//! decision of [`DhtGlobal`](crate::dht::DhtGlobal) reads the `Instant` it
//! is handed, and value times (milliseconds since the Unix epoch) are
//! derived from it, so a simulation that passes its own clock drives the
//! whole service.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Instant;

use mydht::PeerInfo;
use mydht_base::Peer;

use crate::clock::{Clock, ManualClock, SystemClock};

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

/// Where a [`DhtGlobal`](crate::dht::DhtGlobal) starts: its time and the seed of its random
/// choices (query ids, refresh ids). A simulation gives its own clock and
/// a fixed seed, and the service then decides the same way run after run.
#[derive(Debug, Clone, Copy)]
pub struct DhtStart {
    /// The time the service starts at.
    pub now: Instant,
    /// The Unix time of `now`, in milliseconds: value times (signing,
    /// expiry) are this plus the time passed since `now`.
    pub now_ms: u64,
    /// The seed of the service's query ids and refresh ids.
    pub seed: u64,
}

impl DhtStart {
    /// Now, on the system clock, with a seed from std's per-process
    /// random keys (unpredictable query ids: peers cannot squat them).
    pub fn system(me: &PeerInfo) -> Self {
        DhtStart {
            now: Instant::now(),
            now_ms: SystemClock.now_ms(),
            seed: RandomState::new().hash_one(me.get_id()),
        }
    }
}
