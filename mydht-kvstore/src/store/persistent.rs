//! [`RedbStore`]: the values on disk, in a redb database.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mydht_base::KVStore;
use redb::{Database, DatabaseError, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::{admit, StoreConf, StoreError, Stored, ValueStore};
use crate::clock::{Clock, SystemClock};
use crate::key::Key;
use crate::value::SignedValue;

/// The store's file in its data directory.
pub const STORE_FILE_NAME: &str = "values.redb";

/// Key to encoded [`SignedValue`].
const VALUES: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("values");
/// What the file is: [`FORMAT_KEY`] to [`FORMAT`].
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("mydht-kvstore-meta");
const FORMAT_KEY: &str = "format";
const FORMAT: &[u8] = b"mydht-kvstore values v1";

/// The first bytes of every redb file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// A store of at most [`StoreConf::capacity`] values in the redb database
/// `values.redb` of a data directory.
///
/// Every put, delete and purge is one redb write transaction, committed
/// with redb's default durability (synced to disk): a crash loses at most
/// the write under way. Values survive the store being closed and opened
/// again. The admission policy is [`admit`]'s, and a full store drops its
/// expired values before refusing a new key, as [`MemoryValueStore`]
/// does.
///
/// [`open`](RedbStore::open) refuses, with [`StoreError::NotAStore`] and
/// without writing to it, a file that is not a redb database, a damaged
/// one, or the redb database of another program.
///
/// [`MemoryValueStore`]: super::MemoryValueStore
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    conf: StoreConf,
    clock: Arc<dyn Clock>,
    /// Values held; kept up to date by every committed write.
    len: AtomicUsize,
    log: slog::Logger,
}

impl fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .field("len", &self.len)
            .field("conf", &self.conf)
            .finish()
    }
}

impl RedbStore {
    /// Opens the store of data directory `dir`, making the directory and
    /// the store if they do not exist. Uses the system clock and logs
    /// nowhere.
    pub fn open(dir: impl AsRef<Path>, mut conf: StoreConf) -> Result<Self, StoreError> {
        conf.capacity = conf.capacity.max(1);
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(STORE_FILE_NAME);
        let fresh = check_magic(&path)?;
        let db = Database::create(&path).map_err(|e| open_error(&path, e))?;
        let store = RedbStore {
            db,
            path,
            conf,
            clock: Arc::new(SystemClock),
            len: AtomicUsize::new(0),
            log: slog::Logger::root(slog::Discard, slog::o!()),
        };
        store.check_format(fresh)?;
        let len = store
            .db
            .begin_read()
            .map_err(StoreError::db("begin a read"))?
            .open_table(VALUES)
            .map_err(StoreError::db("open the values"))?
            .len()
            .map_err(StoreError::db("count the values"))?;
        store
            .len
            .store(usize::try_from(len).unwrap_or(usize::MAX), Ordering::SeqCst);
        Ok(store)
    }

    /// The same store reading the time from `clock`.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The same store logging to `log` (the errors the
    /// [`KVStore`] methods cannot return, and corrupt entries).
    pub fn with_logger(mut self, log: slog::Logger) -> Self {
        self.log = log;
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks a fresh file as ours, or checks that an existing one is.
    fn check_format(&self, fresh: bool) -> Result<(), StoreError> {
        let txn = self
            .db
            .begin_write()
            .map_err(StoreError::db("begin a write"))?;
        {
            let mut meta = txn
                .open_table(META)
                .map_err(StoreError::db("open the metadata"))?;
            let found = meta
                .get(FORMAT_KEY)
                .map_err(StoreError::db("read the format"))?
                .map(|g| g.value() == FORMAT);
            match found {
                Some(true) => {}
                Some(false) => return Err(self.not_ours("unknown format version")),
                None if fresh => {
                    meta.insert(FORMAT_KEY, FORMAT)
                        .map_err(StoreError::db("write the format"))?;
                }
                None => return Err(self.not_ours("a redb database of another program")),
            }
            txn.open_table(VALUES)
                .map_err(StoreError::db("open the values"))?;
        }
        // An existing store's check commits nothing new.
        txn.commit().map_err(StoreError::db("commit"))
    }

    fn not_ours(&self, reason: &'static str) -> StoreError {
        StoreError::NotAStore {
            path: self.path.clone(),
            reason,
            source: None,
        }
    }

    fn decode(&self, key: &[u8; 32], bytes: &[u8]) -> Result<SignedValue, StoreError> {
        SignedValue::from_bytes(bytes, &self.conf.limits).map_err(|source| StoreError::Corrupt {
            key: Key::new(*key),
            source,
        })
    }

    /// The value under `key`, deleting it when expired at `now_ms`.
    fn get_inner(&self, key: &Key, now_ms: u64) -> Result<Option<SignedValue>, StoreError> {
        let found = {
            let txn = self
                .db
                .begin_read()
                .map_err(StoreError::db("begin a read"))?;
            let table = txn
                .open_table(VALUES)
                .map_err(StoreError::db("open the values"))?;
            let guard = table
                .get(key.as_bytes())
                .map_err(StoreError::db("read a value"))?;
            match guard {
                None => return Ok(None),
                Some(g) => self.decode(key.as_bytes(), g.value())?,
            }
        };
        if found.is_expired(now_ms) {
            self.delete(key)?;
            return Ok(None);
        }
        Ok(Some(found))
    }

    /// Deletes the value under `key` in one transaction.
    fn delete(&self, key: &Key) -> Result<Option<SignedValue>, StoreError> {
        let txn = self
            .db
            .begin_write()
            .map_err(StoreError::db("begin a write"))?;
        let removed = {
            let mut table = txn
                .open_table(VALUES)
                .map_err(StoreError::db("open the values"))?;
            let removed = table
                .remove(key.as_bytes())
                .map_err(StoreError::db("delete a value"))?;
            removed.map(|g| g.value().to_vec())
        };
        txn.commit().map_err(StoreError::db("commit"))?;
        let Some(bytes) = removed else {
            return Ok(None);
        };
        let _ = self
            .len
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_sub(1))
            });
        // A corrupt entry is gone all the same.
        Ok(self.decode(key.as_bytes(), &bytes).ok())
    }

    /// Deletes, in `table`, every entry expired at `now_ms` or that does not
    /// decode; returns how many.
    fn purge_in(
        &self,
        table: &mut redb::Table<[u8; 32], &[u8]>,
        now_ms: u64,
    ) -> Result<usize, StoreError> {
        let mut purged = 0;
        let limits = self.conf.limits;
        let log = &self.log;
        table
            .retain(|key, bytes| match SignedValue::from_bytes(bytes, &limits) {
                Ok(v) if !v.is_expired(now_ms) => true,
                Ok(_) => {
                    purged += 1;
                    false
                }
                Err(e) => {
                    slog::warn!(log, "purging a corrupt value"; "key" => %Key::new(key), "error" => %e);
                    purged += 1;
                    false
                }
            })
            .map_err(StoreError::db("purge"))?;
        Ok(purged)
    }
}

/// Whether the file at `path` may be opened by redb: true when it is new
/// (absent or empty), false when it starts with redb's magic number, and
/// [`StoreError::NotAStore`] otherwise, before redb writes anything to it.
fn check_magic(path: &Path) -> Result<bool, StoreError> {
    let io_error = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(io_error(e)),
    };
    let mut head = Vec::with_capacity(REDB_MAGIC.len());
    (&mut file)
        .take(REDB_MAGIC.len() as u64)
        .read_to_end(&mut head)
        .map_err(io_error)?;
    if head.is_empty() {
        Ok(true)
    } else if head == REDB_MAGIC {
        Ok(false)
    } else {
        Err(StoreError::NotAStore {
            path: path.to_path_buf(),
            reason: "not a redb database",
            source: None,
        })
    }
}

fn open_error(path: &Path, e: DatabaseError) -> StoreError {
    match e {
        DatabaseError::DatabaseAlreadyOpen => StoreError::Locked {
            path: path.to_path_buf(),
        },
        DatabaseError::Storage(redb::StorageError::Io(source)) => StoreError::Io {
            path: path.to_path_buf(),
            source,
        },
        e @ DatabaseError::Storage(redb::StorageError::Corrupted(_)) => StoreError::NotAStore {
            path: path.to_path_buf(),
            reason: "damaged redb database",
            source: Some(Box::new(e.into())),
        },
        e @ DatabaseError::UpgradeRequired(_) => StoreError::NotAStore {
            path: path.to_path_buf(),
            reason: "redb database of another file format",
            source: Some(Box::new(e.into())),
        },
        e => StoreError::Db {
            op: "open",
            source: Box::new(e.into()),
        },
    }
}

impl ValueStore for RedbStore {
    fn put_at(&mut self, value: SignedValue, now_ms: u64) -> Result<Stored, StoreError> {
        let key = *value.key().as_bytes();
        let bytes = value.to_bytes();
        let txn = self
            .db
            .begin_write()
            .map_err(StoreError::db("begin a write"))?;
        let (stored, added, purged) = {
            let mut table = txn
                .open_table(VALUES)
                .map_err(StoreError::db("open the values"))?;
            let old = table
                .get(&key)
                .map_err(StoreError::db("read a value"))?
                .map(|g| SignedValue::from_bytes(g.value(), &self.conf.limits));
            let exists = old.is_some();
            let old = match old {
                None => None,
                Some(Ok(v)) => Some(v),
                Some(Err(e)) => {
                    slog::warn!(self.log, "replacing a corrupt value"; "key" => %value.key(), "error" => %e);
                    None
                }
            };
            let stored = admit(old.as_ref(), &value, now_ms, &self.conf.limits)?;
            let mut purged = 0;
            if !exists && self.len.load(Ordering::SeqCst) >= self.conf.capacity {
                purged = self.purge_in(&mut table, now_ms)?;
                if self.len.load(Ordering::SeqCst).saturating_sub(purged) >= self.conf.capacity {
                    return Err(StoreError::Full {
                        capacity: self.conf.capacity,
                    });
                }
            }
            table
                .insert(&key, bytes.as_slice())
                .map_err(StoreError::db("write a value"))?;
            (stored, !exists, purged)
        };
        txn.commit().map_err(StoreError::db("commit"))?;
        let len = self.len.get_mut();
        *len = len.saturating_sub(purged) + usize::from(added);
        Ok(stored)
    }

    fn get_at(&mut self, key: &Key, now_ms: u64) -> Result<Option<SignedValue>, StoreError> {
        self.get_inner(key, now_ms)
    }

    fn remove_key(&mut self, key: &Key) -> Result<Option<SignedValue>, StoreError> {
        self.delete(key)
    }

    fn purge(&mut self, now_ms: u64) -> Result<usize, StoreError> {
        let txn = self
            .db
            .begin_write()
            .map_err(StoreError::db("begin a write"))?;
        let purged = {
            let mut table = txn
                .open_table(VALUES)
                .map_err(StoreError::db("open the values"))?;
            self.purge_in(&mut table, now_ms)?
        };
        txn.commit().map_err(StoreError::db("commit"))?;
        let len = self.len.get_mut();
        *len = len.saturating_sub(purged);
        Ok(purged)
    }

    fn count(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }

    /// Entries that do not decode are left out (a purge deletes them).
    fn expiries(&self) -> Result<Vec<(Key, u64)>, StoreError> {
        let txn = self
            .db
            .begin_read()
            .map_err(StoreError::db("begin a read"))?;
        let table = txn
            .open_table(VALUES)
            .map_err(StoreError::db("open the values"))?;
        let mut out = Vec::with_capacity(self.count());
        for entry in table.iter().map_err(StoreError::db("read the values"))? {
            let (k, v) = entry.map_err(StoreError::db("read a value"))?;
            if let Ok(v) = self.decode(&k.value(), v.value()) {
                out.push((*v.key(), v.expires_at()));
            }
        }
        Ok(out)
    }

    fn conf(&self) -> &StoreConf {
        &self.conf
    }
}

impl KVStore<SignedValue> for RedbStore {
    /// The live value under `key`; an expired one is deleted. A database
    /// error or a corrupt entry is logged and reads as no value.
    fn get(&self, key: &Key) -> Option<SignedValue> {
        match self.get_inner(key, self.clock.now_ms()) {
            Ok(found) => found,
            Err(e) => {
                slog::warn!(self.log, "value store read failed"; "key" => %key, "error" => %e);
                None
            }
        }
    }

    /// [`ValueStore::put_at`] now.
    fn put(&mut self, kv: SignedValue) -> mydht_base::Result<()> {
        let now = self.clock.now_ms();
        self.put_at(kv, now).map(|_| ()).map_err(Into::into)
    }

    /// Removes the value under `key`; a database error is logged and reads
    /// as no value.
    fn remove(&mut self, key: &Key) -> Option<SignedValue> {
        match self.delete(key) {
            Ok(found) => found,
            Err(e) => {
                slog::warn!(self.log, "value store delete failed"; "key" => %key, "error" => %e);
                None
            }
        }
    }

    fn len(&self) -> usize {
        self.count()
    }
}
