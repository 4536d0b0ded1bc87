//! Shadows: how a connection's bytes are protected once its peer is
//! authenticated. A shadow is a pair of `readwrite-comp` layers built from
//! the handshake's [`SessionKeys`]: every shadow cuts messages into chunks
//! the same way, so switching shadows never changes where messages end.
//!
//! - [`SessionShadow`]: the default, AEAD chunks ([`SessionCipher`]) in the
//!   [`CipherSuite`](crate::CipherSuite) the handshake agreed:
//!   ChaCha20-Poly1305 by default, or AES-256-GCM;
//! - [`NoShadow`]: chunk framing only, bytes in clear;
//! - [`TestShadow`]: a cheap keyed scrambler with checksums, for tests that
//!   must see the shadow at work without paying for real crypto.

mod plain;
mod session;

pub use plain::{NoShadow, TestShadow};
pub use session::{SessionCipher, SessionShadow, DEFAULT_MAX_CHUNK, SESSION_TAG_LEN};

use mydht_base::Result;
use readwrite_comp::{ExtRead, ExtWrite};

use crate::auth::SessionKeys;

/// Builds the two layers of a connection from its session keys.
///
/// (Defined here until `mydht-base` carries the shadow traits.)
pub trait Shadow {
    /// The layer what this side writes goes through.
    type Writer: ExtWrite + Send + 'static;
    /// The layer what this side reads comes through.
    type Reader: ExtRead + Send + 'static;

    /// The writing layer, keyed with `keys.send`.
    fn writer(&self, keys: &SessionKeys) -> Result<Self::Writer>;

    /// The reading layer, keyed with `keys.recv`.
    fn reader(&self, keys: &SessionKeys) -> Result<Self::Reader>;
}
