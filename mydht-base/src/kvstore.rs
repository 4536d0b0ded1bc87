//! Where key/values live: [`KVStore`], a node's local store of
//! [`KeyVal`]s, and [`KVCache`], a bounded cache such as the query cache of
//! the `KVStoreService`.
//!
//! Both are plain data structures: no I/O of their own beyond what a
//! persistent store needs, no threads, no clock.

use crate::error::Result;
use crate::keyval::KeyVal;

/// A node's local store of key/values, looked up by key.
///
/// Implementations are bounded: an in-memory store has a capacity, a
/// persistent one a disk budget. `put` reports a store that cannot take the
/// value as an error rather than growing without bound.
///
/// ```
/// use mydht_base::{KVStore, KeyVal, Result};
/// use serde::{Deserialize, Serialize};
/// use std::collections::HashMap;
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// struct Note(String, String);
/// impl KeyVal for Note {
///     type Key = String;
///     fn get_key(&self) -> String {
///         self.0.clone()
///     }
/// }
///
/// struct Notes(HashMap<String, Note>);
/// impl KVStore<Note> for Notes {
///     fn get(&self, key: &String) -> Option<Note> {
///         self.0.get(key).cloned()
///     }
///     fn put(&mut self, kv: Note) -> Result<()> {
///         self.0.insert(kv.get_key(), kv);
///         Ok(())
///     }
///     fn remove(&mut self, key: &String) -> Option<Note> {
///         self.0.remove(key)
///     }
///     fn len(&self) -> usize {
///         self.0.len()
///     }
/// }
///
/// let mut notes = Notes(HashMap::new());
/// notes.put(Note("todo".into(), "tests".into())).unwrap();
/// assert_eq!(notes.get(&"todo".to_string()).unwrap().1, "tests");
/// ```
pub trait KVStore<V: KeyVal> {
    /// The value stored under `key`, if any. Returns a copy: stores that
    /// live on disk have nothing to lend.
    fn get(&self, key: &V::Key) -> Option<V>;
    /// Stores `kv` under its key, replacing any previous value.
    fn put(&mut self, kv: V) -> Result<()>;
    /// Removes and returns the value under `key`.
    fn remove(&mut self, key: &V::Key) -> Option<V>;
    /// Number of stored values.
    fn len(&self) -> usize;
    /// True when nothing is stored.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A bounded cache: inserting into a full cache evicts an entry (which one is
/// the implementation's policy, the oldest for a query cache) and hands it
/// back, so the owner can finish what the evicted entry stood for.
pub trait KVCache<K, V> {
    /// The entry under `key`.
    fn get_c(&self, key: &K) -> Option<&V>;
    /// The entry under `key`, mutable.
    fn get_mut_c(&mut self, key: &K) -> Option<&mut V>;
    /// True when `key` has an entry.
    fn has_c(&self, key: &K) -> bool {
        self.get_c(key).is_some()
    }
    /// Inserts or replaces the entry under `key`; returns the entry evicted
    /// to make room, if any.
    fn add_c(&mut self, key: K, val: V) -> Option<(K, V)>;
    /// Removes and returns the entry under `key`.
    fn remove_c(&mut self, key: &K) -> Option<V>;
    /// Number of entries.
    fn len_c(&self) -> usize;
}
