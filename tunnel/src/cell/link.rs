//! Link entries: how every hop of a reply checks the cells it receives.
//!
//! A reply relay shares no key with the exit, so it cannot check the exit's
//! layer. Each link of a reply route (exit → first reply relay → … → sender)
//! has its own key instead, chosen by the sender: the receiving hop's
//! [`HopKeys::link_key`](crate::crypto::HopKeys), given to the sending hop
//! in its slot (or, for the exit, in its reply block).
//!
//! The sending end of a link puts a link entry `[tag 16][info 4]` in front
//! of each cell: AES-256-GCM under the link key, with the info enciphered
//! and the whole rest of the cell, as sent, as associated data. GCM because
//! a reply relay makes two link passes per cell (check, seal) beside its
//! keystream layer: GHASH on carry-less multiply instructions costs a few
//! times less than Poly1305 there, which brings a reply relay to a query
//! relay's speed (`docs/onion.md`, Cells; the crate's BENCHMARKS.md). Like the layers' nonces, a link's are
//! never reused: one sealer per link key (a reply header is single use),
//! its counter never wraps.
//! The receiving end checks it first, so a changed, replayed, reordered or
//! dropped cell (counter nonce) is refused by the hop that receives it, and
//! the info's last flag tells that hop a clean end from a cut at a cell
//! boundary. A relay then adds its layer and seals a fresh link entry for
//! the next link: the entry keeps its place and the cell its size.

use openssl::cipher_ctx::CipherCtx;

use crate::crypto::{self, KEY_LEN, NONCE_LEN, TAG_LEN};

use super::layer::Direction;
use super::{CellError, CellInfo, LINK_ENTRY_LEN};

/// Nonce domain bit of link entries: link keys are never layer keys, and
/// this keeps their nonces apart from the layers' and fillers' anyway.
const LINK_DOMAIN: u8 = 0x40;

/// One end of one link of a reply route: seals or checks link entries
/// (AES-256-GCM through openssl, not ring as the layers: the entry's
/// associated data is the whole cell, and ring hashes associated data a
/// block at a time, where openssl runs its wide GHASH: a reply relay made
/// 0.61 GB/s with ring's, against 2.4 GB/s with openssl's).
pub(crate) struct LinkCipher {
    ctx: CipherCtx,
}

impl LinkCipher {
    /// The sending end of the link keyed `key`.
    pub(crate) fn sealing(key: &[u8; KEY_LEN]) -> Result<Self, CellError> {
        let mut ctx = CipherCtx::new()?;
        ctx.encrypt_init(
            Some(crypto::aes_256_gcm()),
            Some(key),
            Some(&[0u8; NONCE_LEN]),
        )?;
        Ok(LinkCipher { ctx })
    }

    /// The receiving end of the link keyed `key`.
    pub(crate) fn opening(key: &[u8; KEY_LEN]) -> Result<Self, CellError> {
        let mut ctx = CipherCtx::new()?;
        ctx.decrypt_init(
            Some(crypto::aes_256_gcm()),
            Some(key),
            Some(&[0u8; NONCE_LEN]),
        )?;
        Ok(LinkCipher { ctx })
    }

    fn nonce(counter: u64) -> [u8; NONCE_LEN] {
        let mut n = [0u8; NONCE_LEN];
        n[..8].copy_from_slice(&counter.to_le_bytes());
        n[8] = Direction::Reply as u8 | LINK_DOMAIN;
        n
    }

    /// Writes the link entry of cell `counter` in `cell[..LINK_ENTRY_LEN]`,
    /// authenticating the rest of the cell as it is.
    pub(crate) fn seal(
        &mut self,
        counter: u64,
        cell: &mut [u8],
        last: bool,
    ) -> Result<(), CellError> {
        let (entry, rest) = split_entry(cell)?;
        let (tag, info) = entry.split_at_mut(TAG_LEN);
        // Relays never learn the payload length: the length field is zero.
        info.copy_from_slice(&CellInfo { last, data_len: 0 }.encode());
        self.ctx
            .encrypt_init(None, None, Some(&Self::nonce(counter)))?;
        self.ctx.cipher_update(rest, None)?;
        let len = info.len();
        self.ctx.cipher_update_inplace(info, len)?;
        self.ctx.cipher_final(&mut [])?;
        self.ctx.tag(tag)?;
        Ok(())
    }

    /// Checks the link entry of cell `counter` against the whole cell and
    /// returns its last flag. The entry is deciphered in place.
    pub(crate) fn open(&mut self, counter: u64, cell: &mut [u8]) -> Result<bool, CellError> {
        let (entry, rest) = split_entry(cell)?;
        let (tag, info) = entry.split_at_mut(TAG_LEN);
        self.ctx
            .decrypt_init(None, None, Some(&Self::nonce(counter)))?;
        self.ctx.cipher_update(rest, None)?;
        let len = info.len();
        self.ctx.cipher_update_inplace(info, len)?;
        self.ctx.set_tag(tag)?;
        // A failed final is exactly a tag mismatch.
        self.ctx
            .cipher_final(&mut [])
            .map_err(|_| CellError::Tampered { cell: counter })?;
        Ok(CellInfo::decode(info, 0, counter)?.last)
    }
}

/// `cell` as its link entry and the rest; a cell shorter than an entry is
/// a size error (layouts never make one).
fn split_entry(cell: &mut [u8]) -> Result<(&mut [u8], &mut [u8]), CellError> {
    if cell.len() < LINK_ENTRY_LEN {
        return Err(CellError::Size {
            len: cell.len(),
            expected: LINK_ENTRY_LEN,
        });
    }
    Ok(cell.split_at_mut(LINK_ENTRY_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_entry_covers_the_whole_cell_and_its_counter() {
        let key = [4u8; KEY_LEN];
        let mut s = LinkCipher::sealing(&key).unwrap();
        let mut o = LinkCipher::opening(&key).unwrap();
        let mut cell = vec![9u8; 100];
        s.seal(3, &mut cell, true).unwrap();
        let sealed = cell.clone();
        assert!(o.open(3, &mut cell.clone()).unwrap());
        assert!(matches!(
            o.open(4, &mut cell),
            Err(CellError::Tampered { cell: 4 })
        ));
        for pos in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[pos] ^= 0x01;
            assert!(o.open(3, &mut bad).is_err(), "byte {pos}");
        }
        let mut other = LinkCipher::opening(&[5u8; KEY_LEN]).unwrap();
        assert!(other.open(3, &mut sealed.clone()).is_err());
        let mut more = vec![9u8; 100];
        s.seal(5, &mut more, false).unwrap();
        assert!(!o.open(5, &mut more).unwrap());
        for len in [0, TAG_LEN, LINK_ENTRY_LEN - 1] {
            assert!(matches!(
                o.open(6, &mut vec![0u8; len]),
                Err(CellError::Size { .. })
            ));
            assert!(matches!(
                s.seal(6, &mut vec![0u8; len], false),
                Err(CellError::Size { .. })
            ));
        }
    }
}
