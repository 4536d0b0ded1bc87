//! Shadows without real cryptography: [`NoShadow`] and [`TestShadow`].

use mydht_base::Result;
use readwrite_comp::testing::ChecksumCipher;
use readwrite_comp::{ChunkMode, ChunkR, ChunkW, NoCipher};

use super::{Shadow, DEFAULT_MAX_CHUNK};
use crate::auth::{SessionKey, SessionKeys};

const DEFAULT_MODE: ChunkMode = ChunkMode::Variable {
    max_chunk: DEFAULT_MAX_CHUNK,
};

/// No protection: the chunk framing alone, bytes in clear. For trusted
/// links and for measuring what the session shadow costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoShadow {
    mode: ChunkMode,
}

impl NoShadow {
    /// Framing as `mode` says, no cipher.
    pub fn new(mode: ChunkMode) -> Self {
        NoShadow { mode }
    }
}

impl Default for NoShadow {
    /// Variable chunks of at most [`DEFAULT_MAX_CHUNK`] bytes.
    fn default() -> Self {
        NoShadow::new(DEFAULT_MODE)
    }
}

impl Shadow for NoShadow {
    type Writer = ChunkW<NoCipher>;
    type Reader = ChunkR<NoCipher>;

    fn writer(&self, _: &SessionKeys) -> Result<Self::Writer> {
        Ok(ChunkW::new(NoCipher, self.mode)?)
    }

    fn reader(&self, _: &SessionKeys) -> Result<Self::Reader> {
        Ok(ChunkR::new(NoCipher, self.mode)?)
    }
}

/// For tests: chunks scrambled and checksummed with a key taken from the
/// session keys (`readwrite-comp`'s [`ChecksumCipher`]). Catches a missing
/// shadow, a wrong key, and accidental changes; **not** secure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestShadow {
    mode: ChunkMode,
}

impl TestShadow {
    /// Framing as `mode` says, with the test cipher.
    pub fn new(mode: ChunkMode) -> Self {
        TestShadow { mode }
    }

    fn cipher(key: &SessionKey) -> ChecksumCipher {
        let mut k = [0u8; 8];
        k.copy_from_slice(&key.as_bytes()[..8]);
        ChecksumCipher::new(u64::from_le_bytes(k))
    }
}

impl Default for TestShadow {
    /// Variable chunks of at most [`DEFAULT_MAX_CHUNK`] bytes.
    fn default() -> Self {
        TestShadow::new(DEFAULT_MODE)
    }
}

impl Shadow for TestShadow {
    type Writer = ChunkW<ChecksumCipher>;
    type Reader = ChunkR<ChecksumCipher>;

    fn writer(&self, keys: &SessionKeys) -> Result<Self::Writer> {
        Ok(ChunkW::new(Self::cipher(&keys.send), self.mode)?)
    }

    fn reader(&self, keys: &SessionKeys) -> Result<Self::Reader> {
        Ok(ChunkR::new(Self::cipher(&keys.recv), self.mode)?)
    }
}
