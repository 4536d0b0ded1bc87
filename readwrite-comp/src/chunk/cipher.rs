//! The per-chunk transform plugged into the chunk framing.

use std::io;

/// Seals and opens one chunk in place: the per-chunk transform of
/// [`ChunkW`](crate::ChunkW) / [`ChunkR`](crate::ChunkR).
///
/// An AEAD implements it with `chunk_index` as its nonce counter (the index
/// counts chunks over the whole stream and never repeats) and `last` bound
/// into the nonce or the associated data, so a chunk moved, dropped, or
/// presented as the end of a message does not open. `aad` is the chunk
/// header in variable mode and empty in fixed-cell mode (where the header is
/// inside `data`).
pub trait ChunkCipher {
    /// Length of the tag appended to every chunk (0 for no authentication).
    fn tag_len(&self) -> usize;

    /// Transforms `data` in place and writes the tag (exactly
    /// [`tag_len`](ChunkCipher::tag_len) bytes) into `tag`.
    fn seal(
        &mut self,
        chunk_index: u64,
        last: bool,
        aad: &[u8],
        data: &mut [u8],
        tag: &mut [u8],
    ) -> io::Result<()>;

    /// As [`seal`](ChunkCipher::seal) on the chunk `dst[..held] ‖ src`,
    /// written into `dst`: the first `held = dst.len() - src.len()` data
    /// bytes are already in place, the rest comes from `src`
    /// (`InvalidInput` if `src` is longer than `dst`). The default copies
    /// `src` in, then seals in place; a cipher that can transform out of
    /// place overrides it and saves the copy (the chunk writer uses it when
    /// a caller's buffer completes a chunk).
    fn seal_from(
        &mut self,
        chunk_index: u64,
        last: bool,
        aad: &[u8],
        src: &[u8],
        dst: &mut [u8],
        tag: &mut [u8],
    ) -> io::Result<()> {
        let held = held_len(src, dst)?;
        dst[held..].copy_from_slice(src);
        self.seal(chunk_index, last, aad, dst, tag)
    }

    /// Checks `tag` and restores `data` in place; a chunk that does not
    /// authenticate is an error of kind `InvalidData`.
    fn open(
        &mut self,
        chunk_index: u64,
        last: bool,
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> io::Result<()>;
}

/// The bytes of `dst` already in place before `src` in
/// [`ChunkCipher::seal_from`]; `InvalidInput` if `src` does not fit.
pub fn held_len(src: &[u8], dst: &[u8]) -> io::Result<usize> {
    dst.len().checked_sub(src.len()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "seal_from: source longer than the destination",
        )
    })
}

/// The identity transform: chunks are framed, not protected (tag length 0).
///
/// With it the chunk framing is the [limiter](crate::LimiterW): it only
/// marks where a message ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoCipher;

impl ChunkCipher for NoCipher {
    fn tag_len(&self) -> usize {
        0
    }

    fn seal(&mut self, _: u64, _: bool, _: &[u8], _: &mut [u8], _: &mut [u8]) -> io::Result<()> {
        Ok(())
    }

    fn open(&mut self, _: u64, _: bool, _: &[u8], _: &mut [u8], _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

impl<C: ChunkCipher + ?Sized> ChunkCipher for Box<C> {
    fn tag_len(&self) -> usize {
        (**self).tag_len()
    }

    fn seal(
        &mut self,
        chunk_index: u64,
        last: bool,
        aad: &[u8],
        data: &mut [u8],
        tag: &mut [u8],
    ) -> io::Result<()> {
        (**self).seal(chunk_index, last, aad, data, tag)
    }

    fn seal_from(
        &mut self,
        chunk_index: u64,
        last: bool,
        aad: &[u8],
        src: &[u8],
        dst: &mut [u8],
        tag: &mut [u8],
    ) -> io::Result<()> {
        (**self).seal_from(chunk_index, last, aad, src, dst, tag)
    }

    fn open(
        &mut self,
        chunk_index: u64,
        last: bool,
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> io::Result<()> {
        (**self).open(chunk_index, last, aad, data, tag)
    }
}
