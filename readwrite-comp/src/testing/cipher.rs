//! A keyed test cipher that scrambles and authenticates chunks.

use super::fault::SplitMix;
use crate::ChunkCipher;
use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::io;

/// A [`ChunkCipher`] for tests: XORs data with a keystream from the key and
/// chunk index, and tags it with a keyed SipHash over index, last flag,
/// associated data and scrambled data (8-byte tag).
///
/// It detects any accidental or test-made change, reordering or wrong end
/// flag; it is **not** secure against an adversary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChecksumCipher {
    key: u64,
}

const TAG_LEN: usize = 8;

impl ChecksumCipher {
    /// A cipher keyed by `key`; both ends need the same key.
    pub fn new(key: u64) -> Self {
        ChecksumCipher { key }
    }

    fn scramble(&self, chunk_index: u64, last: bool, data: &mut [u8]) {
        let mut stream = SplitMix(self.key ^ chunk_index.rotate_left(17) ^ u64::from(last));
        for block in data.chunks_mut(8) {
            let ks = stream.next().to_le_bytes();
            for (b, k) in block.iter_mut().zip(ks) {
                *b ^= k;
            }
        }
    }

    fn tag(&self, chunk_index: u64, last: bool, aad: &[u8], data: &[u8]) -> [u8; TAG_LEN] {
        let mut h = DefaultHasher::new();
        h.write_u64(self.key);
        h.write_u64(chunk_index);
        h.write_u8(u8::from(last));
        h.write_usize(aad.len());
        h.write(aad);
        h.write(data);
        h.finish().to_le_bytes()
    }
}

impl ChunkCipher for ChecksumCipher {
    fn tag_len(&self) -> usize {
        TAG_LEN
    }

    fn seal(
        &mut self,
        chunk_index: u64,
        last: bool,
        aad: &[u8],
        data: &mut [u8],
        tag: &mut [u8],
    ) -> io::Result<()> {
        self.scramble(chunk_index, last, data);
        tag.copy_from_slice(&self.tag(chunk_index, last, aad, data));
        Ok(())
    }

    fn open(
        &mut self,
        chunk_index: u64,
        last: bool,
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> io::Result<()> {
        if self.tag(chunk_index, last, aad, data)[..] != *tag {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunk checksum mismatch",
            ));
        }
        self.scramble(chunk_index, last, data);
        Ok(())
    }
}
