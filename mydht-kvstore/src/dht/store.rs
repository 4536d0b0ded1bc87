//! [`DhtStore`]: the node's value store as the query engine sees it — the
//! memory or the redb store — with a gate that makes it take no value
//! from a peer when the node is not responsible for its key.

use std::path::PathBuf;

use mydht_base::{Error, ErrorKind, ErrorLevel, KVStore};

use crate::clock::ManualClock;
use crate::key::Key;
use crate::store::{MemoryValueStore, RedbStore, StoreConf, StoreError, ValueStore};
use crate::value::SignedValue;

/// Where a node keeps its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// In memory ([`MemoryValueStore`]): lost when the node stops.
    Memory,
    /// In a redb database in this directory ([`RedbStore`]): a node
    /// restarted on it serves its values again.
    Redb(PathBuf),
}

enum Inner {
    Memory(MemoryValueStore),
    Redb(RedbStore),
}

/// The store of a DHT node: a [`KVStore`] for the query engine.
pub struct DhtStore {
    inner: Inner,
    /// While set, `put` refuses (the node is not responsible for the key
    /// of the peer's value the engine is about to store).
    closed: bool,
}

impl DhtStore {
    /// Opens the store `choice` names, bounded by `conf`.
    pub fn open(choice: &StoreChoice, conf: StoreConf) -> Result<Self, StoreError> {
        let inner = match choice {
            StoreChoice::Memory => Inner::Memory(MemoryValueStore::new(conf)),
            StoreChoice::Redb(dir) => Inner::Redb(RedbStore::open(dir, conf)?),
        };
        Ok(DhtStore {
            inner,
            closed: false,
        })
    }

    /// Opens the store `choice` names, bounded by `conf`, reading the time
    /// from `clock`.
    pub fn open_with_clock(
        choice: &StoreChoice,
        conf: StoreConf,
        clock: ManualClock,
    ) -> Result<Self, StoreError> {
        let inner = match choice {
            StoreChoice::Memory => Inner::Memory(MemoryValueStore::new(conf).with_clock(clock)),
            StoreChoice::Redb(dir) => Inner::Redb(RedbStore::open(dir, conf)?.with_clock(clock)),
        };
        Ok(DhtStore {
            inner,
            closed: false,
        })
    }

    /// The key and expiry of every value held.
    pub fn expiries(&self) -> Result<Vec<(Key, u64)>, StoreError> {
        match &self.inner {
            Inner::Memory(s) => s.expiries(),
            Inner::Redb(s) => s.expiries(),
        }
    }

    /// The store, to be used for the engine's next command only: with
    /// `open` false, it takes no value.
    pub(crate) fn set_open(&mut self, open: bool) {
        self.closed = !open;
    }
}

impl KVStore<SignedValue> for DhtStore {
    fn get(&self, key: &Key) -> Option<SignedValue> {
        match &self.inner {
            Inner::Memory(s) => s.get(key),
            Inner::Redb(s) => s.get(key),
        }
    }

    fn put(&mut self, kv: SignedValue) -> mydht_base::Result<()> {
        if self.closed {
            return Err(Error::new(
                ErrorKind::Rejected,
                ErrorLevel::Ignore,
                "not responsible for this key",
            ));
        }
        match &mut self.inner {
            Inner::Memory(s) => s.put(kv),
            Inner::Redb(s) => s.put(kv),
        }
    }

    fn remove(&mut self, key: &Key) -> Option<SignedValue> {
        match &mut self.inner {
            Inner::Memory(s) => s.remove(key),
            Inner::Redb(s) => s.remove(key),
        }
    }

    fn len(&self) -> usize {
        match &self.inner {
            Inner::Memory(s) => s.len(),
            Inner::Redb(s) => s.len(),
        }
    }
}
