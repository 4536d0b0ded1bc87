//! [`StoreError`]: why a store refused or failed.

use std::fmt;
use std::io;
use std::path::PathBuf;

use mydht_base::{Error, ErrorKind, ErrorLevel};

use crate::key::Key;
use crate::value::ValueError;

/// Why a store refused a value or failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The value was refused by the admission policy.
    Refused(ValueError),
    /// The store holds `capacity` live values and the key is new.
    Full {
        /// The most values the store holds.
        capacity: usize,
    },
    /// The file is not a store of this crate: not a redb file, a damaged
    /// one, or a redb file of another program.
    NotAStore {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
        /// redb's error, if it gave one.
        source: Option<Box<redb::Error>>,
    },
    /// The store file is open already (by this process or another).
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// The data directory or file could not be read or made.
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The database failed.
    Db {
        /// What the store was doing.
        op: &'static str,
        /// redb's error.
        source: Box<redb::Error>,
    },
    /// A stored entry does not decode (it is deleted by the next purge).
    Corrupt {
        /// Its key.
        key: Key,
        /// Why it does not decode.
        source: ValueError,
    },
}

impl StoreError {
    pub(crate) fn db<E: Into<redb::Error>>(op: &'static str) -> impl FnOnce(E) -> StoreError {
        move |source| StoreError::Db {
            op,
            source: Box::new(source.into()),
        }
    }

    /// The [`ErrorKind`] it maps to in a [`mydht_base::Error`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Refused(e) => e.kind(),
            StoreError::Full { .. } => ErrorKind::Rejected,
            StoreError::NotAStore { .. } | StoreError::Locked { .. } => ErrorKind::Config,
            StoreError::Io { source, .. } => ErrorKind::Io(source.kind()),
            StoreError::Db { .. } => ErrorKind::Other,
            StoreError::Corrupt { .. } => ErrorKind::Decode,
        }
    }

    /// The [`ErrorLevel`] it maps to: `Ignore` for a refused value or a
    /// corrupt entry, `Fatal` when the store cannot be opened, `ShutDown`
    /// when the database fails.
    pub fn level(&self) -> ErrorLevel {
        match self {
            StoreError::Refused(_) | StoreError::Full { .. } | StoreError::Corrupt { .. } => {
                ErrorLevel::Ignore
            }
            StoreError::NotAStore { .. } | StoreError::Locked { .. } | StoreError::Io { .. } => {
                ErrorLevel::Fatal
            }
            StoreError::Db { .. } => ErrorLevel::ShutDown,
        }
    }
}

impl From<ValueError> for StoreError {
    fn from(e: ValueError) -> Self {
        StoreError::Refused(e)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Refused(e) => write!(f, "value refused: {e}"),
            StoreError::Full { capacity } => write!(f, "store full ({capacity} values)"),
            StoreError::NotAStore { path, reason, .. } => {
                write!(f, "{} is not a value store: {reason}", path.display())
            }
            StoreError::Locked { path } => write!(f, "{} is open already", path.display()),
            StoreError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            StoreError::Db { op, source } => write!(f, "database failed to {op}: {source}"),
            StoreError::Corrupt { key, .. } => write!(f, "stored value under {key} is corrupt"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Refused(e) | StoreError::Corrupt { source: e, .. } => Some(e),
            StoreError::NotAStore {
                source: Some(e), ..
            }
            | StoreError::Db { source: e, .. } => Some(e.as_ref()),
            StoreError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<StoreError> for Error {
    /// An error of [`StoreError::kind`] and [`StoreError::level`], with the
    /// `StoreError` as its source.
    fn from(e: StoreError) -> Self {
        Error::new(e.kind(), e.level(), e.to_string()).with_source(e)
    }
}
