//! Helpers shared by the tests: identities, values, temporary directories.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mydht::Identity;
use mydht_kvstore::{Key, SignedValue};

/// A fixed time (ms since the epoch) the tests start at.
pub const T0: u64 = 1_700_000_000_000;

/// The identity of seed `n`.
pub fn identity(n: u8) -> Identity {
    Identity::from_seed([n; 32]).unwrap()
}

/// `value` under the key named `name`, signed by `who` at `now`, living
/// `ttl_ms`.
pub fn value(who: &Identity, name: &str, value: &[u8], now: u64, ttl_ms: u64) -> SignedValue {
    SignedValue::sign(
        who,
        Key::hash_of(name.as_bytes()),
        value.to_vec(),
        Duration::from_millis(ttl_ms),
        now,
    )
    .unwrap()
}

/// A directory of its own under the system's temporary directory, removed
/// when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory named after `name`, the process and a counter.
    pub fn new(name: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("mydht-kvstore-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
