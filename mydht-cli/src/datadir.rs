//! The data directory: where a node keeps its identity and its values.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use mydht::Identity;

use crate::error::CliError;

/// The node's identity file in its data directory.
pub const NODE_IDENTITY: &str = "identity.pem";
/// The identity `mydht put` signs with, beside the node's (a node and a
/// short-lived peer never share an identity).
pub const CLIENT_IDENTITY: &str = "client-identity.pem";

/// The directory `given`, or `mydht` in the user's data directory; made
/// when missing, and checked readable.
pub fn open(given: Option<PathBuf>) -> Result<PathBuf, CliError> {
    let dir = match given {
        Some(d) => d,
        None => directories::ProjectDirs::from("", "", "mydht")
            .map(|p| p.data_dir().to_path_buf())
            .ok_or_else(|| {
                CliError::local("no home directory to keep the node's data in: give --data-dir")
            })?,
    };
    let fail = |what: &str, e: io::Error| {
        CliError::local(format!("data directory {}: {what} ({e})", dir.display()))
    };
    fs::create_dir_all(&dir).map_err(|e| fail("cannot create it", e))?;
    fs::read_dir(&dir).map_err(|e| fail("cannot read it", e))?;
    Ok(dir)
}

/// The identity saved in `dir/name`, or a new one saved there.
pub fn identity(dir: &Path, name: &str) -> Result<Identity, CliError> {
    let path = dir.join(name);
    let fail = |what: &str, e: mydht_base::Error| {
        CliError::local(format!(
            "identity {}: {what}: {}",
            path.display(),
            e.message()
        ))
    };
    if path.exists() {
        return Identity::load(&path).map_err(|e| fail("cannot load it", e));
    }
    let identity = Identity::generate().map_err(|e| fail("cannot make one", e))?;
    identity
        .save(&path)
        .map_err(|e| fail("cannot save it", e))?;
    Ok(identity)
}
