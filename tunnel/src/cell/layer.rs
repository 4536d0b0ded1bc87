//! One layer's ciphers: ChaCha20-Poly1305 over a whole cell, plus the raw
//! ChaCha20 keystream the sender and the reply opener need to predict what
//! hops will add or drop.
//!
//! Contexts are created once per layer and re-keyed with a new nonce per
//! cell, so a cell costs no allocation.

use openssl::cipher_ctx::CipherCtx;

use crate::crypto::{self, KEY_LEN, NONCE_LEN, TAG_LEN};

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

/// ChaCha20 block length: the keystream is addressed in blocks.
const BLOCK_LEN: usize = 64;

/// A layer key with its cipher contexts, for sealing or for opening.
pub(crate) struct LayerCipher {
    aead: CipherCtx,
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
        let zero_nonce = [0u8; NONCE_LEN];
        let mut aead = CipherCtx::new()?;
        if sealing {
            aead.encrypt_init(
                Some(crypto::chacha20_poly1305()),
                Some(key),
                Some(&zero_nonce),
            )?;
        } else {
            aead.decrypt_init(
                Some(crypto::chacha20_poly1305()),
                Some(key),
                Some(&zero_nonce),
            )?;
        }
        let mut stream = CipherCtx::new()?;
        stream.encrypt_init(Some(crypto::chacha20()), Some(key), Some(&[0u8; 16]))?;
        Ok(LayerCipher {
            aead,
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
        self.aead.encrypt_init(None, None, Some(&nonce))?;
        let (tag, body) = cell.split_at_mut(TAG_LEN);
        let len = body.len();
        self.aead.cipher_update_inplace(body, len)?;
        self.aead.cipher_final(&mut [])?;
        self.aead.tag(tag)?;
        Ok(())
    }

    /// Checks the tag in `cell[..TAG_LEN]` and deciphers `cell[TAG_LEN..]`
    /// in place; on failure the cell content is unspecified.
    pub(crate) fn open_in_place(&mut self, counter: u64, cell: &mut [u8]) -> Result<(), CellError> {
        debug_assert!(!self.sealing);
        let nonce = self.nonce(counter, 0);
        self.aead.decrypt_init(None, None, Some(&nonce))?;
        let (tag, body) = cell.split_at_mut(TAG_LEN);
        let len = body.len();
        self.aead.cipher_update_inplace(body, len)?;
        self.aead.set_tag(tag)?;
        // A failed final is exactly a tag mismatch.
        self.aead
            .cipher_final(&mut [])
            .map_err(|_| CellError::Tampered { cell: counter })?;
        Ok(())
    }

    /// XORs `buf` with the AEAD keystream of cell `counter`, starting at
    /// byte `offset` of the enciphered part (what sealing XORs there).
    pub(crate) fn apply_keystream(
        &mut self,
        counter: u64,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), CellError> {
        // ChaCha20-Poly1305 enciphers from block 1 (block 0 makes the
        // Poly1305 key).
        let block = 1 + offset / BLOCK_LEN;
        let block = u32::try_from(block).map_err(|_| CellError::Size {
            len: offset,
            expected: u32::MAX as usize,
        })?;
        let nonce = self.nonce(counter, 0);
        xor_stream(&mut self.stream, block, &nonce, offset % BLOCK_LEN, buf)
    }

    /// Writes into `out` the filler this layer's hop appends to the entry
    /// area of cell `counter`: keystream nobody but the key holders can
    /// tell from a real entry.
    pub(crate) fn filler(&mut self, counter: u64, out: &mut [u8]) -> Result<(), CellError> {
        out.fill(0);
        let nonce = self.nonce(counter, FILLER_DOMAIN);
        xor_stream(&mut self.stream, 0, &nonce, 0, out)
    }
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
    if buf.is_empty() {
        return Ok(());
    }
    // openssl's ChaCha20 IV: 32-bit little-endian block counter, then the
    // 96-bit nonce.
    let mut iv = [0u8; 16];
    iv[..4].copy_from_slice(&block.to_le_bytes());
    iv[4..].copy_from_slice(nonce);
    stream.encrypt_init(None, None, Some(&iv))?;
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
        for offset in [0, 1, 63, 64, 65, 200, 999] {
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
