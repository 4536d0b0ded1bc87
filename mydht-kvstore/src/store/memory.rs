//! [`MemoryValueStore`]: the values in memory, bounded.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use mydht_base::KVStore;

use super::{admit, StoreConf, StoreError, Stored, ValueStore};
use crate::clock::{Clock, SystemClock};
use crate::key::Key;
use crate::value::SignedValue;

/// An in-memory store of at most [`StoreConf::capacity`] values.
///
/// A full store drops its expired values before refusing a new key with
/// [`StoreError::Full`]: it never evicts a live value for a newcomer, so a
/// flood of new keys cannot push out what is stored. Values are kept in key
/// order; nothing about them depends on hashing.
///
/// ```
/// use std::time::Duration;
/// use mydht::Identity;
/// use mydht_kvstore::{Key, ManualClock, MemoryValueStore, SignedValue, StoreConf};
/// use mydht_base::KVStore;
///
/// let clock = ManualClock::new(1_000);
/// let mut store = MemoryValueStore::new(StoreConf::default()).with_clock(clock.clone());
/// let me = Identity::from_seed([2; 32])?;
/// let v = SignedValue::sign(&me, Key::hash_of(b"k"), b"v".to_vec(), Duration::from_secs(1), 1_000)?;
/// store.put(v.clone())?;
/// assert_eq!(store.get(v.key()), Some(v.clone()));
/// clock.advance(1_000);
/// assert_eq!(store.get(v.key()), None, "expired");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemoryValueStore {
    values: BTreeMap<Key, SignedValue>,
    conf: StoreConf,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for MemoryValueStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryValueStore")
            .field("len", &self.values.len())
            .field("conf", &self.conf)
            .finish()
    }
}

impl MemoryValueStore {
    /// An empty store with these bounds, on the system clock.
    pub fn new(mut conf: StoreConf) -> Self {
        conf.capacity = conf.capacity.max(1);
        MemoryValueStore {
            values: BTreeMap::new(),
            conf,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same store reading the time from `clock`.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The values held, expired ones not purged yet included, in key order.
    pub fn values(&self) -> impl Iterator<Item = &SignedValue> {
        self.values.values()
    }

    fn purge_expired(&mut self, now_ms: u64) -> usize {
        let before = self.values.len();
        self.values.retain(|_, v| !v.is_expired(now_ms));
        before - self.values.len()
    }
}

impl ValueStore for MemoryValueStore {
    fn put_at(&mut self, value: SignedValue, now_ms: u64) -> Result<Stored, StoreError> {
        let stored = admit(
            self.values.get(value.key()),
            &value,
            now_ms,
            &self.conf.limits,
        )?;
        if !self.values.contains_key(value.key()) && self.values.len() >= self.conf.capacity {
            self.purge_expired(now_ms);
            if self.values.len() >= self.conf.capacity {
                return Err(StoreError::Full {
                    capacity: self.conf.capacity,
                });
            }
        }
        self.values.insert(*value.key(), value);
        Ok(stored)
    }

    fn get_at(&mut self, key: &Key, now_ms: u64) -> Result<Option<SignedValue>, StoreError> {
        match self.values.get(key) {
            Some(v) if v.is_expired(now_ms) => {
                self.values.remove(key);
                Ok(None)
            }
            found => Ok(found.cloned()),
        }
    }

    fn remove_key(&mut self, key: &Key) -> Result<Option<SignedValue>, StoreError> {
        Ok(self.values.remove(key))
    }

    fn purge(&mut self, now_ms: u64) -> Result<usize, StoreError> {
        Ok(self.purge_expired(now_ms))
    }

    fn count(&self) -> usize {
        self.values.len()
    }

    fn expiries(&self) -> Result<Vec<(Key, u64)>, StoreError> {
        Ok(self
            .values
            .iter()
            .map(|(k, v)| (*k, v.expires_at()))
            .collect())
    }

    fn conf(&self) -> &StoreConf {
        &self.conf
    }
}

impl KVStore<SignedValue> for MemoryValueStore {
    /// The live value under `key` (an expired one is left for `purge`: this
    /// method cannot change the store).
    fn get(&self, key: &Key) -> Option<SignedValue> {
        let now = self.clock.now_ms();
        self.values.get(key).filter(|v| !v.is_expired(now)).cloned()
    }

    /// [`ValueStore::put_at`] now.
    fn put(&mut self, kv: SignedValue) -> mydht_base::Result<()> {
        let now = self.clock.now_ms();
        self.put_at(kv, now).map(|_| ()).map_err(Into::into)
    }

    fn remove(&mut self, key: &Key) -> Option<SignedValue> {
        self.values.remove(key)
    }

    fn len(&self) -> usize {
        self.values.len()
    }
}
