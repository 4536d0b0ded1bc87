//! The connections' deadlines in time order, so that neither the next
//! wake-up nor the expiry check visits every connection (a hub with
//! thousands of connections did, at every turn of its loop).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Fewest entries before [`Deadlines::needs_rebuild`] says yes.
const REBUILD_FLOOR: usize = 1024;

/// A deadline is pushed each time a connection's is set. Entries are
/// hints: one whose connection has gone, has a later deadline now or none
/// (online), is stale and skipped when it comes due. A stale entry at the
/// front only makes the loop wake early, once.
#[derive(Default)]
pub(super) struct Deadlines {
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
}

impl Deadlines {
    /// Connection `key` is due at `at`.
    pub(super) fn push(&mut self, at: Instant, key: usize) {
        self.heap.push(Reverse((at, key)));
    }

    /// The earliest entry, stale or not.
    pub(super) fn earliest(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// The next entry due at `now`, removed.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<usize> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse((_, k))| k),
            _ => None,
        }
    }

    /// True when stale entries outnumber `live` connections by far: then
    /// [`rebuild`](Self::rebuild) keeps the heap bounded.
    pub(super) fn needs_rebuild(&self, live: usize) -> bool {
        self.heap.len() > REBUILD_FLOOR.max(2 * live)
    }

    /// The heap made again from the connections' current deadlines.
    pub(super) fn rebuild(&mut self, current: impl Iterator<Item = (Instant, usize)>) {
        self.heap = current.map(Reverse).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_come_due_in_time_order() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        d.push(t0 + Duration::from_secs(3), 7);
        d.push(t0 + Duration::from_secs(1), 2);
        d.push(t0 + Duration::from_secs(2), 5);
        assert_eq!(d.earliest(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(d.pop_due(t0), None);
        let now = t0 + Duration::from_secs(2);
        assert_eq!(
            (d.pop_due(now), d.pop_due(now), d.pop_due(now)),
            (Some(2), Some(5), None)
        );
        assert_eq!(d.earliest(), Some(t0 + Duration::from_secs(3)));
    }

    #[test]
    fn a_rebuild_keeps_only_current_deadlines() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        for k in 0..3000 {
            d.push(t0, k);
        }
        assert!(d.needs_rebuild(10));
        assert!(!d.needs_rebuild(2000));
        d.rebuild([(t0 + Duration::from_secs(9), 4)].into_iter());
        assert!(!d.needs_rebuild(1));
        assert_eq!(d.pop_due(t0 + Duration::from_secs(8)), None);
        assert_eq!(d.pop_due(t0 + Duration::from_secs(9)), Some(4));
    }
}
