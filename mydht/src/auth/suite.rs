//! [`CipherSuite`]: the AEAD that seals a connection's session shadow.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The authenticated cipher of a connection's session shadow. Both ends must
/// use the same: the initiator announces its suite in the ping, the
/// responder answers with its own in the pong, and each side refuses another
/// ([`AuthError::SuiteMismatch`](super::AuthError::SuiteMismatch)), so a
/// connection never falls back to a suite it was not configured with. The
/// suite is also in the signed transcript, so a suite rewritten on the wire
/// fails the signature.
///
/// Both suites take the handshake's 32-byte keys, the same counter nonces
/// and a 16-byte tag: they cut messages into the same chunks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CipherSuite {
    /// ChaCha20-Poly1305 (the default), through openssl: fast on every
    /// CPU, constant time without hardware support. The default because a
    /// suite is not negotiated (a node refuses a peer of another suite), so
    /// the default must suit every CPU a node may meet.
    #[default]
    ChaCha20Poly1305,
    /// AES-256-GCM, through `ring` (openssl 3.0 has no VAES path for GCM):
    /// about twice ChaCha20-Poly1305 on CPUs with AES and carry-less
    /// multiply instructions and their wide forms (on an AVX-512 EPYC, 16
    /// KiB messages: 9.0 GB/s against openssl's ChaCha20-Poly1305 4.4 GB/s
    /// and its own AES-256-GCM 3.9 GB/s); several times slower than
    /// ChaCha20-Poly1305 without AES instructions, where ring falls back to
    /// a constant-time software AES. What TLS stacks prefer on such CPUs;
    /// the tunnel's cells use it too.
    Aes256Gcm,
}

impl CipherSuite {
    /// The suite's byte in the signed transcript (never reused for another
    /// suite).
    pub(crate) fn transcript_id(self) -> u8 {
        match self {
            CipherSuite::ChaCha20Poly1305 => 1,
            CipherSuite::Aes256Gcm => 2,
        }
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CipherSuite::ChaCha20Poly1305 => "ChaCha20-Poly1305",
            CipherSuite::Aes256Gcm => "AES-256-GCM",
        })
    }
}
