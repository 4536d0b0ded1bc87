//! The keys a handshake gives the connection's session shadow, and the
//! suite they are for.

use std::fmt;

use super::CipherSuite;

/// Length of a session key (ChaCha20-Poly1305 and AES-256-GCM alike).
pub const SESSION_KEY_LEN: usize = 32;

/// A symmetric key for one direction of a connection. Its bytes are wiped
/// when it is dropped, and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey([u8; SESSION_KEY_LEN]);

impl SessionKey {
    /// A key from its bytes (tests and benchmarks, or keys agreed elsewhere).
    pub fn from_bytes(bytes: [u8; SESSION_KEY_LEN]) -> Self {
        SessionKey(bytes)
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; SESSION_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

impl Drop for SessionKey {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // Volatile so the wipe of a value about to die is not optimised out.
            // SAFETY: `b` is a valid, aligned, exclusive reference.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// The two keys of one side of a connection: what it sends is read by the
/// other side with the same key as its `recv`; and the cipher suite both
/// sides agreed on, which the session shadow seals with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionKeys {
    /// Key of what this side writes.
    pub send: SessionKey,
    /// Key of what this side reads.
    pub recv: SessionKey,
    /// The suite the keys are for.
    pub suite: CipherSuite,
}
