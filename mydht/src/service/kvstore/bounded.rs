//! [`BoundedMap`]: a hash map of at most `capacity` entries that evicts the
//! oldest inserted one, the storage under both the [`MemoryStore`] and the
//! query cache.
//!
//! [`MemoryStore`]: super::MemoryStore

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// A map that evicts its oldest entry when a new key would exceed the
/// capacity. Replacing a key's value makes that entry the youngest.
#[derive(Debug, Clone)]
pub(crate) struct BoundedMap<K, V> {
    entries: HashMap<K, (u64, V)>,
    /// Insertion order: sequence number to key, oldest first.
    order: BTreeMap<u64, K>,
    next_seq: u64,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V> BoundedMap<K, V> {
    /// An empty map of at most `capacity` entries (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        BoundedMap {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|(_, v)| v)
    }

    /// The values, oldest inserted first (an order that does not depend
    /// on the hasher, so a run is the same run to run).
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.order
            .values()
            .filter_map(|k| self.entries.get(k).map(|(_, v)| v))
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries.get_mut(key).map(|(_, v)| v)
    }

    /// Inserts or replaces; returns the entry evicted to make room.
    pub(crate) fn insert(&mut self, key: K, val: V) -> Option<(K, V)> {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some((old_seq, _)) = self.entries.get(&key) {
            self.order.remove(old_seq);
        }
        self.order.insert(seq, key.clone());
        if self.entries.insert(key, (seq, val)).is_some() {
            return None;
        }
        if self.entries.len() > self.capacity {
            return self.pop_oldest();
        }
        None
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let (seq, val) = self.entries.remove(key)?;
        self.order.remove(&seq);
        Some(val)
    }

    fn pop_oldest(&mut self) -> Option<(K, V)> {
        let (_, key) = self.order.pop_first()?;
        let (_, val) = self.entries.remove(&key)?;
        Some((key, val))
    }
}

#[cfg(test)]
mod tests {
    use super::BoundedMap;

    #[test]
    fn evicts_oldest_and_replacing_refreshes() {
        let mut m = BoundedMap::new(2);
        assert!(m.insert(1, "a").is_none());
        assert!(m.insert(2, "b").is_none());
        // Replacing 1 makes 2 the oldest.
        assert!(m.insert(1, "a2").is_none());
        assert_eq!(m.insert(3, "c"), Some((2, "b")));
        assert_eq!(m.len(), 2);
        assert_eq!(m.get(&1), Some(&"a2"));
        assert_eq!(m.remove(&1), Some("a2"));
        assert!(m.insert(4, "d").is_none());
        assert_eq!(m.insert(5, "e"), Some((3, "c")));
    }
}
