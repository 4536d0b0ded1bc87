//! [`SpinWindow`]: how long a service thread keeps its CPU busy, yielding,
//! before it parks, adapted to how soon its wake-ups come: the idea of
//! Linux's `haltpoll` cpuidle governor, in user space.
//!
//! Why (mydht-base README, "What a wake-up costs on this machine"): on a
//! VM whose idle vCPUs halt at once, waking a thread parked on the other
//! vCPU costs ~15–20 µs (the vCPU must be woken by the host), against
//! ~2–3 µs when that vCPU is busy, even with a thread that only calls
//! `sched_yield`. A thread that waits by yielding keeps its vCPU awake and
//! needs no wake-up at all; `sched_yield` lets any thread with work on the
//! same CPU run first, so the spin does not hold a core a woken thread
//! needs (a `pause` loop does: on this VM two spinning threads left on one
//! CPU took 8 ms, two scheduler ticks, per round trip).
//!
//! The window grows (doubles, from [`START`]) after a wait that ended past
//! it but within [`MAX`] (a longer spin would have caught the wake-up),
//! shrinks (halves, to zero below [`START`]) after a wait longer than
//! [`MAX`] (the service went idle), empties after a wake-up within
//! [`SHORT`] (a stream: see there), and stays after a wake-up caught in
//! it. So a service whose commands come [`SHORT`] to [`MAX`] apart spins
//! through the gaps, and one left idle spins at most one window (at most
//! [`MAX`]) per wake-up before it parks, the window halving each time.

use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The window after a first wait that a spin would have caught.
pub(crate) const START: Duration = Duration::from_micros(10);

/// The longest window, and the longest wait a window grows for. Measured
/// (mydht-base README): 200 µs kept mydht's 64-in-flight bench below the
/// raw echo (spinning threads answer each message alone instead of
/// finding several queued after a wake-up), 50 µs never grew (a request's
/// round trip, ~80 µs before the spin, is longer), 100 µs did both.
pub(crate) const MAX: Duration = Duration::from_micros(100);

/// A wake-up this soon after the wait began empties the window: the
/// service's input is a stream (mydht's 64 in flight), whose items are
/// better left to pile up while the thread parks and taken together (one
/// write for several replies) than caught one by one. Between the
/// requests of one in flight every thread of mydht's request path waits
/// 25 µs or more.
pub(crate) const SHORT: Duration = Duration::from_micros(15);

/// How long a waiting thread spins before it parks (module doc).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpinWindow {
    limit: Duration,
}

impl SpinWindow {
    /// The current window.
    #[cfg(test)]
    pub(crate) fn limit(&self) -> Duration {
        self.limit
    }

    /// Looks at `ready` until it says so or the window, counted from
    /// `start`, ends, with a `yield_now` between looks: whether it said
    /// so. An empty window looks once.
    pub(crate) fn spin(&self, start: Instant, mut ready: impl FnMut() -> bool) -> bool {
        loop {
            if ready() {
                return true;
            }
            if start.elapsed() >= self.limit {
                return false;
            }
            thread::yield_now();
        }
    }

    /// A wait that began (its spin) `waited` before the wake-up or its
    /// end: adapts the window.
    pub(crate) fn record(&mut self, waited: Duration) {
        if waited < SHORT {
            self.limit = Duration::ZERO;
            return;
        }
        if waited <= self.limit {
            return;
        }
        if waited <= MAX {
            self.limit = (self.limit * 2).clamp(START, MAX);
        } else {
            self.limit /= 2;
            if self.limit < START {
                self.limit = Duration::ZERO;
            }
        }
    }

    /// The window kept in `at` (µs) by a thread that is not always the
    /// same one (a suspendable service's runs).
    pub(crate) fn load(at: &AtomicU32) -> Self {
        SpinWindow {
            limit: Duration::from_micros(u64::from(at.load(Ordering::Relaxed))),
        }
    }

    /// Keeps the window in `at` (µs), for [`load`](Self::load).
    pub(crate) fn store(&self, at: &AtomicU32) {
        let us = u32::try_from(self.limit.as_micros()).unwrap_or(u32::MAX);
        at.store(us, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Duration = Duration::from_micros(1);

    #[test]
    fn grows_from_start_doubling_up_to_max_for_waits_a_spin_would_catch() {
        let mut w = SpinWindow::default();
        assert_eq!(w.limit(), Duration::ZERO);
        w.record(80 * US);
        assert_eq!(w.limit(), START);
        let mut last = w.limit();
        for _ in 0..20 {
            w.record(MAX);
            assert!(w.limit() >= last && w.limit() <= MAX);
            assert!(w.limit() == MAX || w.limit() == 2 * last);
            last = w.limit();
        }
        assert_eq!(w.limit(), MAX);
    }

    #[test]
    fn a_wake_up_caught_in_the_window_keeps_it() {
        let mut w = SpinWindow::default();
        for _ in 0..3 {
            w.record(MAX);
        }
        let before = w.limit();
        assert!(before / 2 >= SHORT);
        w.record(before / 2);
        w.record(before);
        assert_eq!(w.limit(), before);
    }

    #[test]
    fn a_wake_up_within_short_empties_it() {
        let mut w = SpinWindow::default();
        for _ in 0..20 {
            w.record(MAX);
        }
        assert_eq!(w.limit(), MAX);
        w.record(SHORT - US);
        assert_eq!(w.limit(), Duration::ZERO);
        // And it grows again from START after a wait a spin would catch.
        w.record(SHORT);
        assert_eq!(w.limit(), START);
    }

    #[test]
    fn shrinks_by_half_to_zero_after_waits_longer_than_max() {
        let mut w = SpinWindow::default();
        for _ in 0..20 {
            w.record(MAX);
        }
        let mut last = w.limit();
        let mut steps = 0;
        while w.limit() > Duration::ZERO {
            w.record(MAX + US);
            assert!(w.limit() == last / 2 || (w.limit().is_zero() && last / 2 < START));
            last = w.limit();
            steps += 1;
            assert!(steps <= 10, "still {last:?} after {steps} idle waits");
        }
        // An idle service's waits leave it empty.
        w.record(Duration::from_secs(1));
        assert_eq!(w.limit(), Duration::ZERO);
    }

    #[test]
    fn kept_across_threads_in_microseconds() {
        let at = AtomicU32::new(0);
        let mut w = SpinWindow::default();
        w.record(50 * US);
        w.record(50 * US);
        assert_eq!(w.limit(), 2 * START);
        w.store(&at);
        assert_eq!(SpinWindow::load(&at), w);
        assert_eq!(at.load(Ordering::Relaxed), 20);
    }

    #[test]
    fn spins_until_ready_or_the_window_ends() {
        let mut w = SpinWindow::default();
        // An empty window looks once.
        let mut looks = 0;
        assert!(!w.spin(Instant::now(), || {
            looks += 1;
            false
        }));
        assert_eq!(looks, 1);
        w.record(MAX);
        let start = Instant::now();
        assert!(!w.spin(start, || false));
        assert!(start.elapsed() >= w.limit());
        // Ready at a look: at once, whatever the window.
        assert!(w.spin(start, || true));
        assert!(SpinWindow::default().spin(Instant::now(), || true));
    }
}
