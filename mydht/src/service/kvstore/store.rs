//! [`MemoryStore`]: the default [`KVStore`], in memory and bounded.

use mydht_base::{KVStore, KeyVal, Result};

use super::bounded::BoundedMap;

/// An in-memory [`KVStore`] of at most `capacity` values: storing a new key
/// into a full store evicts the value stored longest ago (a peer store keeps
/// the peers it heard of most recently).
///
/// ```
/// use mydht::service::kvstore::MemoryStore;
/// use mydht_base::{KVStore, KeyVal};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// struct Num(u32);
/// impl KeyVal for Num {
///     type Key = u32;
///     fn get_key(&self) -> u32 {
///         self.0
///     }
/// }
///
/// let mut store = MemoryStore::new(2);
/// for i in 0..3 {
///     store.put(Num(i)).unwrap();
/// }
/// assert!(store.get(&0).is_none(), "the oldest went first");
/// assert_eq!(store.len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct MemoryStore<V: KeyVal> {
    values: BoundedMap<V::Key, V>,
}

impl<V: KeyVal> MemoryStore<V> {
    /// An empty store of at most `capacity` values (at least one).
    pub fn new(capacity: usize) -> Self {
        MemoryStore {
            values: BoundedMap::new(capacity),
        }
    }

    /// The values it holds, oldest stored first.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.values.values()
    }

    /// The most values it holds.
    pub fn capacity(&self) -> usize {
        self.values.capacity()
    }
}

impl<V: KeyVal> KVStore<V> for MemoryStore<V> {
    fn get(&self, key: &V::Key) -> Option<V> {
        self.values.get(key).cloned()
    }

    fn put(&mut self, kv: V) -> Result<()> {
        self.values.insert(kv.get_key(), kv);
        Ok(())
    }

    fn remove(&mut self, key: &V::Key) -> Option<V> {
        self.values.remove(key)
    }

    fn len(&self) -> usize {
        self.values.len()
    }
}
