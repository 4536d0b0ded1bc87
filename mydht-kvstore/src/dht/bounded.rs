//! [`Fifo`]: a map of bounded size that forgets its oldest entry first,
//! for the per-query records of the DHT service.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// At most `capacity` entries; inserting into a full map drops the oldest.
///
/// Each insertion of a new key is numbered, and the order list names an
/// entry by key and number: a key removed and inserted again is as old as
/// its last insertion, not its first.
#[derive(Debug, Clone)]
pub(crate) struct Fifo<K, V> {
    map: HashMap<K, (V, u64)>,
    order: VecDeque<(K, u64)>,
    capacity: usize,
    next: u64,
}

impl<K: Hash + Eq + Clone, V> Fifo<K, V> {
    /// An empty map of at most `capacity` (at least one) entries.
    pub(crate) fn new(capacity: usize) -> Self {
        Fifo {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            next: 0,
        }
    }

    /// Inserts or replaces (a replaced entry keeps its age); returns the
    /// entry dropped to make room.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        if let Some((old, _)) = self.map.get_mut(&key) {
            *old = value;
            return None;
        }
        let number = self.next;
        self.next += 1;
        self.map.insert(key.clone(), (value, number));
        self.order.push_back((key, number));
        let mut dropped = None;
        while self.map.len() > self.capacity {
            let Some((old, n)) = self.order.pop_front() else {
                break;
            };
            // Entries removed since, or inserted again later, are stale
            // here: skipped.
            if self.map.get(&old).is_some_and(|(_, live)| *live == n) {
                if let Some((v, _)) = self.map.remove(&old) {
                    dropped = Some((old, v));
                }
            }
        }
        if self.order.len() > 2 * self.capacity {
            let map = &self.map;
            self.order
                .retain(|(k, n)| map.get(k).is_some_and(|(_, live)| live == n));
        }
        dropped
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|(v, _)| v)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key).map(|(v, _)| v)
    }

    pub(crate) fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key).map(|(v, _)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::Fifo;

    #[test]
    fn a_full_map_drops_its_oldest_entry() {
        let mut f = Fifo::new(2);
        assert_eq!(f.insert("a", 1), None);
        assert_eq!(f.insert("b", 2), None);
        assert_eq!(f.insert("c", 3), Some(("a", 1)));
        assert!(!f.contains(&"a"));
        assert_eq!((f.get(&"b"), f.get(&"c")), (Some(&2), Some(&3)));
    }

    #[test]
    fn a_key_removed_and_inserted_again_is_as_old_as_its_last_insertion() {
        let mut f = Fifo::new(2);
        f.insert("a", 1);
        assert_eq!(f.remove(&"a"), Some(1));
        f.insert("b", 2);
        f.insert("a", 3);
        // "b" is now the oldest: "a" was inserted after it.
        assert_eq!(f.insert("c", 4), Some(("b", 2)));
        assert_eq!((f.get(&"a"), f.get(&"c")), (Some(&3), Some(&4)));
    }

    #[test]
    fn a_replaced_entry_keeps_its_age() {
        let mut f = Fifo::new(2);
        f.insert("a", 1);
        f.insert("b", 2);
        assert_eq!(f.insert("a", 10), None);
        assert_eq!(f.insert("c", 3), Some(("a", 10)));
    }

    #[test]
    fn stale_order_entries_stay_bounded() {
        let mut f = Fifo::new(4);
        for i in 0..1000u32 {
            f.insert(i % 3, i);
            f.remove(&(i % 3));
        }
        assert!(f.order.len() <= 2 * 4 + 1, "order holds {}", f.order.len());
        f.insert(7, 7);
        assert_eq!(f.get(&7), Some(&7));
    }
}
