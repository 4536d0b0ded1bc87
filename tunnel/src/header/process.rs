//! A hop's side: read its own layer of a header, prepare the next header.

use super::layout::HeaderLayout;
use super::slot::{HopKind, Slot};
use super::HeaderError;
use crate::crypto::{
    chacha20_xor, derive_hop_keys, verify_mac, HopKeys, X25519Secret, KEY_LEN, NONCE_LEN,
    PUBLIC_KEY_LEN, TAG_LEN,
};

/// What a hop learned from its layer of a header.
#[derive(Debug)]
pub struct ProcessedHeader {
    /// What to do with the onion.
    pub kind: HopKind,
    /// For a relay, the next hop's opaque address; for an exit, the opaque
    /// exit information the sender put there.
    pub address: Vec<u8>,
    /// This hop's keys for the content and the way back.
    pub keys: HopKeys,
    /// For a reply relay, the link key of the next reply hop: this hop seals
    /// its outgoing cells' link entries under it. Random bytes otherwise.
    pub next_link_key: [u8; KEY_LEN],
}

/// Processes headers for one hop, reusing one bounded work buffer (the size
/// of a routing block plus a slot) so processing allocates nothing large.
#[derive(Debug)]
pub struct HeaderProcessor {
    layout: HeaderLayout,
    work: Vec<u8>,
}

impl HeaderProcessor {
    /// A processor for headers of `layout`.
    pub fn new(layout: HeaderLayout) -> Self {
        HeaderProcessor {
            work: vec![0u8; layout.routing_len() + layout.slot_len()],
            layout,
        }
    }

    /// The layout this processor reads.
    pub fn layout(&self) -> &HeaderLayout {
        &self.layout
    }

    /// Reads this hop's layer of `header` with its static `secret`. For a
    /// relay, writes the header for the next hop into `next` (both are
    /// `layout.header_len()` bytes); for an exit `next` is left as is.
    ///
    /// One X25519 derivation, one HKDF, one MAC check and one ChaCha20 pass
    /// over the routing block.
    pub fn process(
        &mut self,
        secret: &X25519Secret,
        header: &[u8],
        next: &mut [u8],
    ) -> Result<ProcessedHeader, HeaderError> {
        let l = &self.layout;
        let header_len = l.header_len();
        if header.len() != header_len {
            return Err(HeaderError::BadLength(header.len()));
        }
        if next.len() != header_len {
            return Err(HeaderError::BadLength(next.len()));
        }
        let routing_len = l.routing_len();
        let slot_len = l.slot_len();
        let (eph, rest) = header.split_at(PUBLIC_KEY_LEN);
        let (routing, tag) = rest.split_at(routing_len);
        let mut eph_key = [0u8; PUBLIC_KEY_LEN];
        eph_key.copy_from_slice(eph);
        let mut tag_bytes = [0u8; TAG_LEN];
        tag_bytes.copy_from_slice(tag);

        let shared = secret.diffie_hellman(&eph_key)?;
        let keys = derive_hop_keys(&shared, &eph_key)?;
        if !verify_mac(&keys.header_mac_key, routing, &tag_bytes)? {
            return Err(HeaderError::BadMac);
        }

        self.work[..routing_len].copy_from_slice(routing);
        self.work[routing_len..].fill(0);
        chacha20_xor(&keys.header_stream_key, &[0u8; NONCE_LEN], &mut self.work)?;
        let slot = Slot::decode(l, &self.work[..slot_len])?;
        let kind = slot.kind;
        let address = slot.address.to_vec();
        let next_link_key = slot.next_link_key;
        if !kind.is_exit() {
            next[..PUBLIC_KEY_LEN].copy_from_slice(&slot.next_public);
            next[PUBLIC_KEY_LEN..PUBLIC_KEY_LEN + routing_len]
                .copy_from_slice(&self.work[slot_len..]);
            next[PUBLIC_KEY_LEN + routing_len..].copy_from_slice(&slot.next_mac);
        }
        Ok(ProcessedHeader {
            kind,
            address,
            keys,
            next_link_key,
        })
    }
}
