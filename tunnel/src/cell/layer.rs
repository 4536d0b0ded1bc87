//! One layer's ciphers: AES-256-GCM over a whole cell (ring), plus the raw
//! GCM keystream (openssl's AES-256-CTR) the sender and the reply opener
//! need to predict what hops will add or drop, and the hop's filler.
//!
//! The key is expanded once per layer and the counter context re-keyed with
//! a new nonce per cell, so a cell costs no allocation.
//!
//! GCM enciphers a message under nonce `N` with the AES-CTR keystream from
//! counter block `N ‖ 2` (big-endian 32-bit count; block `N ‖ 1` masks the
//! tag), so the keystream at byte `o` of the enciphered part is AES-256-CTR
//! from block `N ‖ 2 + o / 16`, `o % 16` bytes in. A filler is AES-256-CTR
//! under a nonce with its own domain bit: no counter block of a filler is
//! one of a cell's.

use openssl::cipher_ctx::CipherCtx;

use crate::crypto::{self, GcmKey, KEY_LEN, NONCE_LEN, TAG_LEN};

use super::CellError;

/// Which way cells flow: part of every nonce, so the two directions never
/// share a keystream even under one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Forward = 0,
    Reply = 1,
}

/// Nonce domain bit of the per-hop filler keystream.
const FILLER_DOMAIN: u8 = 0x80;
/// Nonce domain bit of a reply relay's keystream layer ([`StreamLayer`]).
const STREAM_DOMAIN: u8 = 0x20;

/// ChaCha20 block length: a reply relay's keystream is addressed in blocks.
const BLOCK_LEN: usize = 64;
/// AES block length: the GCM keystream is addressed in blocks.
const AES_BLOCK_LEN: usize = 16;
/// GCM's counter block of a message's first enciphered byte.
const GCM_FIRST_DATA_BLOCK: usize = 2;

/// The ring key of `key`, or the cell error ring's refusal is.
fn gcm_key(key: &[u8; KEY_LEN]) -> Result<GcmKey, CellError> {
    GcmKey::new(key).ok_or(CellError::Aead)
}

/// A layer key with its ciphers, for sealing or for opening.
pub(crate) struct LayerCipher {
    aead: GcmKey,
    stream: CipherCtx,
    direction: Direction,
    sealing: bool,
}

impl LayerCipher {
    /// A layer that seals (adds) cells.
    pub(crate) fn sealing(key: &[u8; KEY_LEN], direction: Direction) -> Result<Self, CellError> {
        Self::new(key, direction, true)
    }

    /// A layer that opens (verifies and removes) cells.
    pub(crate) fn opening(key: &[u8; KEY_LEN], direction: Direction) -> Result<Self, CellError> {
        Self::new(key, direction, false)
    }

    fn new(key: &[u8; KEY_LEN], direction: Direction, sealing: bool) -> Result<Self, CellError> {
        let mut stream = CipherCtx::new()?;
        stream.encrypt_init(Some(crypto::aes_256_ctr()), Some(key), Some(&[0u8; 16]))?;
        Ok(LayerCipher {
            aead: gcm_key(key)?,
            stream,
            direction,
            sealing,
        })
    }

    fn nonce(&self, counter: u64, domain: u8) -> [u8; NONCE_LEN] {
        nonce(counter, self.direction, domain)
    }

    /// Enciphers `cell[TAG_LEN..]` in place and writes its tag in
    /// `cell[..TAG_LEN]`.
    pub(crate) fn seal_in_place(&mut self, counter: u64, cell: &mut [u8]) -> Result<(), CellError> {
        debug_assert!(self.sealing);
        let nonce = self.nonce(counter, 0);
        let (tag, body) = split_tag(cell)?;
        tag.copy_from_slice(&self.aead.seal(&nonce, &[], body).ok_or(CellError::Aead)?);
        Ok(())
    }

    /// Checks the tag in `cell[..TAG_LEN]` and deciphers `cell[TAG_LEN..]`
    /// in place; on failure the cell content is unspecified.
    pub(crate) fn open_in_place(&mut self, counter: u64, cell: &mut [u8]) -> Result<(), CellError> {
        debug_assert!(!self.sealing);
        let nonce = self.nonce(counter, 0);
        let (tag, body) = split_tag(cell)?;
        let tag: &[u8; TAG_LEN] = (&*tag).try_into().map_err(|_| CellError::Aead)?;
        if self.aead.open(&nonce, &[], body, tag) {
            Ok(())
        } else {
            Err(CellError::Tampered { cell: counter })
        }
    }

    /// XORs `buf` with the AEAD keystream of cell `counter`, starting at
    /// byte `offset` of the enciphered part (what sealing XORs there).
    pub(crate) fn apply_keystream(
        &mut self,
        counter: u64,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), CellError> {
        let too_far = || CellError::Size {
            len: offset,
            expected: u32::MAX as usize,
        };
        let block = GCM_FIRST_DATA_BLOCK + offset / AES_BLOCK_LEN;
        // GCM's count is 32 bits (openssl's CTR would carry past them):
        // the whole buffer's blocks must fit.
        let end_block = block + buf.len().div_ceil(AES_BLOCK_LEN);
        u32::try_from(end_block).map_err(|_| too_far())?;
        let block = u32::try_from(block).map_err(|_| too_far())?;
        let nonce = self.nonce(counter, 0);
        let mut iv = [0u8; 16];
        iv[..NONCE_LEN].copy_from_slice(&nonce);
        iv[NONCE_LEN..].copy_from_slice(&block.to_be_bytes());
        xor_iv(&mut self.stream, &iv, offset % AES_BLOCK_LEN, buf)
    }

    /// Writes into `out` the filler this layer's hop appends to the entry
    /// area of cell `counter`: keystream nobody but the key holders can
    /// tell from a real entry.
    pub(crate) fn filler(&mut self, counter: u64, out: &mut [u8]) -> Result<(), CellError> {
        out.fill(0);
        let mut iv = [0u8; 16];
        iv[..NONCE_LEN].copy_from_slice(&self.nonce(counter, FILLER_DOMAIN));
        xor_iv(&mut self.stream, &iv, 0, out)
    }
}

/// `cell` as its tag and the rest; a cell shorter than a tag is a size
/// error (layouts never make one).
fn split_tag(cell: &mut [u8]) -> Result<(&mut [u8], &mut [u8]), CellError> {
    if cell.len() < TAG_LEN {
        return Err(CellError::Size {
            len: cell.len(),
            expected: TAG_LEN,
        });
    }
    Ok(cell.split_at_mut(TAG_LEN))
}

/// A reply relay's layer: a bare ChaCha20 keystream, no tag (the link
/// entries and the exit's tag do the checking, see `reply.rs`). XOR is its
/// own inverse, so the relay and the sender use the same object.
pub(crate) struct StreamLayer {
    stream: CipherCtx,
    direction: Direction,
}

impl StreamLayer {
    /// The keystream layer of `key` in `direction`.
    pub(crate) fn new(key: &[u8; KEY_LEN], direction: Direction) -> Result<Self, CellError> {
        let mut stream = CipherCtx::new()?;
        stream.encrypt_init(Some(crypto::chacha20()), Some(key), Some(&[0u8; 16]))?;
        Ok(StreamLayer { stream, direction })
    }

    /// XORs `buf` with this layer's keystream for cell `counter` (adds or
    /// removes the layer).
    pub(crate) fn apply(&mut self, counter: u64, buf: &mut [u8]) -> Result<(), CellError> {
        let nonce = nonce(counter, self.direction, STREAM_DOMAIN);
        xor_stream(&mut self.stream, 0, &nonce, 0, buf)
    }
}

fn nonce(counter: u64, direction: Direction, domain: u8) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    n[..8].copy_from_slice(&counter.to_le_bytes());
    n[8] = direction as u8 | domain;
    n
}

/// XORs `buf` with the ChaCha20 keystream of `stream`'s key under `nonce`,
/// from byte `skip` of block `block`.
fn xor_stream(
    stream: &mut CipherCtx,
    block: u32,
    nonce: &[u8; NONCE_LEN],
    skip: usize,
    buf: &mut [u8],
) -> Result<(), CellError> {
    // openssl's ChaCha20 IV: 32-bit little-endian block counter, then the
    // 96-bit nonce.
    let mut iv = [0u8; 16];
    iv[..4].copy_from_slice(&block.to_le_bytes());
    iv[4..].copy_from_slice(nonce);
    xor_iv(stream, &iv, skip, buf)
}

/// XORs `buf` with the keystream of `stream` (a keyed ChaCha20 or
/// AES-256-CTR context) from `iv`, `skip` bytes (less than a block) in.
fn xor_iv(
    stream: &mut CipherCtx,
    iv: &[u8; 16],
    skip: usize,
    buf: &mut [u8],
) -> Result<(), CellError> {
    if buf.is_empty() {
        return Ok(());
    }
    stream.encrypt_init(None, None, Some(iv))?;
    if skip > 0 {
        let mut scratch = [0u8; BLOCK_LEN];
        stream.cipher_update_inplace(&mut scratch[..skip], skip)?;
    }
    let len = buf.len();
    stream.cipher_update_inplace(buf, len)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystream_matches_what_sealing_xors_at_any_offset() {
        let key = [9u8; KEY_LEN];
        let mut sealer = LayerCipher::sealing(&key, Direction::Forward).unwrap();
        let mut cell = vec![0u8; TAG_LEN + 1000];
        sealer.seal_in_place(5, &mut cell).unwrap();
        for offset in [0, 1, 15, 16, 17, 63, 64, 65, 200, 999] {
            let mut ks = vec![0u8; 1000 - offset];
            sealer.apply_keystream(5, offset, &mut ks).unwrap();
            assert_eq!(&ks[..], &cell[TAG_LEN + offset..], "offset {offset}");
        }
    }

    #[test]
    fn open_refuses_another_counter_and_a_flipped_tag() {
        let key = [1u8; KEY_LEN];
        let mut s = LayerCipher::sealing(&key, Direction::Reply).unwrap();
        let mut o = LayerCipher::opening(&key, Direction::Reply).unwrap();
        let mut cell = vec![7u8; 100];
        s.seal_in_place(0, &mut cell).unwrap();
        let sealed = cell.clone();
        assert!(matches!(
            o.open_in_place(1, &mut cell),
            Err(CellError::Tampered { cell: 1 })
        ));
        let mut cell = sealed.clone();
        cell[3] ^= 1;
        assert!(o.open_in_place(0, &mut cell).is_err());
        let mut cell = sealed;
        o.open_in_place(0, &mut cell).unwrap();
        assert!(cell[TAG_LEN..].iter().all(|b| *b == 7));
    }

    /// A buffer shorter than a tag is refused as a size error, sealing or
    /// opening, never a panic.
    #[test]
    fn a_cell_shorter_than_a_tag_is_a_size_error() {
        let key = [6u8; KEY_LEN];
        let mut s = LayerCipher::sealing(&key, Direction::Forward).unwrap();
        let mut o = LayerCipher::opening(&key, Direction::Forward).unwrap();
        for len in [0, 1, TAG_LEN - 1] {
            let mut cell = vec![0u8; len];
            assert!(matches!(
                s.seal_in_place(0, &mut cell),
                Err(CellError::Size { .. })
            ));
            assert!(matches!(
                o.open_in_place(0, &mut cell),
                Err(CellError::Size { .. })
            ));
        }
        // A bare tag (no body) seals and opens.
        let mut cell = vec![0u8; TAG_LEN];
        s.seal_in_place(0, &mut cell).unwrap();
        o.open_in_place(0, &mut cell).unwrap();
    }

    #[test]
    fn directions_and_filler_use_distinct_keystreams() {
        let key = [2u8; KEY_LEN];
        let mut f = LayerCipher::sealing(&key, Direction::Forward).unwrap();
        let mut r = LayerCipher::sealing(&key, Direction::Reply).unwrap();
        let (mut a, mut b, mut c) = ([0u8; 32], [0u8; 32], [0u8; 32]);
        f.apply_keystream(0, 0, &mut a).unwrap();
        r.apply_keystream(0, 0, &mut b).unwrap();
        f.filler(0, &mut c).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
