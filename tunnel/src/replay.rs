//! A bounded record of reply headers already used through this hop.

use std::collections::{HashSet, VecDeque};

use crate::crypto::REPLAY_ID_LEN;

/// Remembers the last `capacity` replay identifiers (one per reply header
/// seen, derived from the hop's shared secret) and refuses a second use.
///
/// Bounded: when full, the oldest identifier is forgotten, so a reply block
/// older than the last `capacity` ones could pass again. Size it above the
/// number of replies a hop relays during a key's lifetime.
#[derive(Debug)]
pub struct ReplayCache {
    capacity: usize,
    seen: HashSet<[u8; REPLAY_ID_LEN]>,
    order: VecDeque<[u8; REPLAY_ID_LEN]>,
}

impl ReplayCache {
    /// A cache remembering at most `capacity` identifiers (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        ReplayCache {
            capacity,
            seen: HashSet::with_capacity(capacity.min(4096)),
            order: VecDeque::with_capacity(capacity.min(4096)),
        }
    }

    /// Records `id`; `false` if it was seen already (a replay).
    pub fn check_and_insert(&mut self, id: &[u8; REPLAY_ID_LEN]) -> bool {
        if self.seen.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(*id);
        self.order.push_back(*id);
        true
    }

    /// Identifiers currently remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_use_is_refused_and_the_size_stays_bounded() {
        let mut c = ReplayCache::new(3);
        assert!(c.check_and_insert(&[1; 16]));
        assert!(!c.check_and_insert(&[1; 16]));
        for i in 2..10u8 {
            assert!(c.check_and_insert(&[i; 16]));
        }
        assert_eq!(c.len(), 3);
        assert!(!c.check_and_insert(&[9; 16]));
    }
}
