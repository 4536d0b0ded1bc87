//! Test peers: identities are slow to make (an Ed25519 and an X25519 key
//! pair each), so tests share a pool made once per test binary, and make a
//! fresh local peer in one call where they need one.

use std::sync::{Arc, OnceLock};

use mydht::{Identity, LocalPeer};

/// How many identities [`identity_pool`] holds.
pub const POOL_SIZE: usize = 4;

/// [`POOL_SIZE`] identities, made on first use and shared by every test of
/// the binary (their keys differ from one run to the next).
///
/// # Panics
/// If openssl cannot make a key pair: a test helper, never on a node's path.
pub fn identity_pool() -> &'static [Identity] {
    static POOL: OnceLock<Vec<Identity>> = OnceLock::new();
    POOL.get_or_init(|| {
        (0..POOL_SIZE)
            .map(|_| Identity::generate().expect("openssl makes a test identity"))
            .collect()
    })
}

/// A local peer with a fresh identity, listening (as it announces) at
/// `address`.
///
/// # Panics
/// If openssl cannot make a key pair or `address` is over the address bound.
pub fn local_peer(address: &str) -> Arc<LocalPeer> {
    let identity = Identity::generate().expect("openssl makes a test identity");
    Arc::new(LocalPeer::new(identity, address.to_owned()).expect("test address within bound"))
}
