//! [`Key`]: the 256-bit key a value is stored and routed by.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Length of a [`Key`] in bytes.
pub const KEY_LEN: usize = 32;

/// A value's key: 256 bits, in the same space as the peer ids, so that the
/// peers closest to it (by XOR distance) are the ones that store it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key([u8; KEY_LEN]);

impl Key {
    /// The key of the given bytes.
    pub const fn new(bytes: [u8; KEY_LEN]) -> Self {
        Key(bytes)
    }

    /// The key named by `name`: its SHA-256.
    pub fn hash_of(name: &[u8]) -> Self {
        Key(openssl::sha::sha256(name))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl From<[u8; KEY_LEN]> for Key {
    fn from(bytes: [u8; KEY_LEN]) -> Self {
        Key(bytes)
    }
}

impl fmt::Display for Key {
    /// Lower-case hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Key {
    /// The first 8 bytes in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key(")?;
        self.0[..8].iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, "…)")
    }
}
