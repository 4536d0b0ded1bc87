//! [`EventQueue`]: the simulation's pending events, in the order of
//! (simulated time, tie-break, sequence number).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Duration;

/// One pending event and when it is due.
struct Scheduled<E> {
    /// Due time in nanoseconds from the start, tie-break, sequence number.
    key: (u64, u64, u64),
    event: E,
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<E> Eq for Scheduled<E> {}

impl<E> PartialOrd for Scheduled<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Scheduled<E> {
    /// Reversed: the heap's greatest is the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// Events by due time; of events due at the same time, the lower tie-break
/// first, then the one scheduled first. The sequence number makes the
/// order total, so the same schedule always pops in the same order.
pub(super) struct EventQueue<E> {
    heap: BinaryHeap<Scheduled<E>>,
    next_seq: u64,
}

impl<E> EventQueue<E> {
    pub(super) fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }

    /// Schedules `event` at `at` (from the start) with `tie_break`.
    pub(super) fn push(&mut self, at: Duration, tie_break: u64, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let at = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
        self.heap.push(Scheduled {
            key: (at, tie_break, seq),
            event,
        });
    }

    /// When the next event is due.
    pub(super) fn next_due(&self) -> Option<Duration> {
        self.heap.peek().map(|s| Duration::from_nanos(s.key.0))
    }

    /// The next event, with its due time.
    pub(super) fn pop(&mut self) -> Option<(Duration, E)> {
        self.heap
            .pop()
            .map(|s| (Duration::from_nanos(s.key.0), s.event))
    }

    /// Events pending.
    pub(super) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::EventQueue;
    use std::time::Duration;

    #[test]
    fn pops_by_time_then_tie_break_then_order() {
        let mut q = EventQueue::new();
        let ms = Duration::from_millis;
        q.push(ms(2), 0, "late");
        q.push(ms(1), 5, "b");
        q.push(ms(1), 0, "a1");
        q.push(ms(1), 0, "a2");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["a1", "a2", "b", "late"]);
    }
}
