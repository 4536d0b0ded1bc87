//! Where a node keeps the values it is responsible for.
//!
//! - [`ValueStore`]: what both stores do, with the time given explicitly
//!   (the [`KVStore`](mydht_base::KVStore) impls read it from their
//!   [`Clock`](crate::Clock));
//! - [`MemoryValueStore`]: in memory, bounded;
//! - [`RedbStore`]: on disk, one redb transaction per write;
//! - [`StoreConf`]: the limits both enforce; [`StoreError`]: why they fail.
//!
//! Both apply one admission policy ([`admit`]): a value must verify; a key
//! belongs to the publisher of its live value (first publisher wins until
//! that value expires or is removed); a publisher replaces its own value
//! only with a strictly newer version; a full store first drops its expired
//! values, then refuses new keys.

mod error;
mod memory;
mod persistent;

pub use error::StoreError;
pub use memory::MemoryValueStore;
pub use persistent::{RedbStore, STORE_FILE_NAME};

use crate::key::Key;
use crate::value::{SignedValue, ValueError, ValueLimits};

/// Default most values a store holds.
pub const DEFAULT_CAPACITY: usize = 4096;

/// The bounds of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConf {
    /// The bounds of each value.
    pub limits: ValueLimits,
    /// Most values held (at least one). With the default limits, the
    /// default capacity bounds the values to 256 MiB.
    pub capacity: usize,
}

impl Default for StoreConf {
    /// [`ValueLimits::default`] and [`DEFAULT_CAPACITY`] values.
    fn default() -> Self {
        StoreConf {
            limits: ValueLimits::default(),
            capacity: DEFAULT_CAPACITY,
        }
    }
}

/// What a successful put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// The key held no live value.
    New,
    /// The value replaced an older one of the same publisher.
    Replaced,
}

/// Whether `offered` may be stored over `stored` at `now_ms`: it must
/// verify; a live stored value of another publisher keeps the key
/// ([`ValueError::OtherPublisher`]); one of the same publisher is replaced
/// only by a strictly newer version ([`ValueError::Older`]). An expired
/// stored value counts as absent.
pub fn admit(
    stored: Option<&SignedValue>,
    offered: &SignedValue,
    now_ms: u64,
    limits: &ValueLimits,
) -> Result<Stored, ValueError> {
    offered.verify(now_ms, limits)?;
    match stored {
        None => Ok(Stored::New),
        Some(old) if old.is_expired(now_ms) => Ok(Stored::New),
        Some(old) if old.publisher() != offered.publisher() => Err(ValueError::OtherPublisher {
            owner: old.publisher(),
        }),
        Some(old) if offered.version() <= old.version() => Err(ValueError::Older {
            stored: old.version(),
            offered: offered.version(),
        }),
        Some(_) => Ok(Stored::Replaced),
    }
}

/// A store of [`SignedValue`]s, the time given by the caller.
pub trait ValueStore {
    /// Stores `value` if [`admit`] allows it and there is room.
    fn put_at(&mut self, value: SignedValue, now_ms: u64) -> Result<Stored, StoreError>;
    /// The live value under `key`; an expired one is deleted.
    fn get_at(&mut self, key: &Key, now_ms: u64) -> Result<Option<SignedValue>, StoreError>;
    /// Removes and returns the value under `key`, expired or not.
    fn remove_key(&mut self, key: &Key) -> Result<Option<SignedValue>, StoreError>;
    /// Deletes every value expired at `now_ms`; returns how many.
    fn purge(&mut self, now_ms: u64) -> Result<usize, StoreError>;
    /// Number of values held, expired ones not purged yet included.
    fn count(&self) -> usize;
    /// The key and expiry of every value held (expired ones not purged yet
    /// included), in key order.
    fn expiries(&self) -> Result<Vec<(Key, u64)>, StoreError>;
    /// The store's bounds.
    fn conf(&self) -> &StoreConf;
}
