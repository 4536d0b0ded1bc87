//! Sizes of the fixed header block, derived from a [`TunnelConfig`].

use crate::config::{ConfigError, TunnelConfig};
use crate::crypto::{KEY_LEN, PUBLIC_KEY_LEN, TAG_LEN};

/// Bytes of a slot before the address: the kind byte and the address length.
const SLOT_PREFIX_LEN: usize = 2;

/// Byte sizes of a header: `[ephemeral public 32][routing block][MAC 16]`,
/// the routing block being `max_layers` slots of equal size.
///
/// Every hop of every route built with the same config sees exactly
/// [`HeaderLayout::header_len`] bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderLayout {
    layers: usize,
    max_address_len: usize,
}

impl HeaderLayout {
    /// The layout of headers for `config`.
    pub fn new(config: &TunnelConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(HeaderLayout {
            layers: config.max_layers(),
            max_address_len: config.max_address_len,
        })
    }

    /// Maximum number of layers (relays plus exit) a header can carry.
    pub fn max_layers(&self) -> usize {
        self.layers
    }

    /// Maximum length of the address carried in a slot.
    pub fn max_address_len(&self) -> usize {
        self.max_address_len
    }

    /// Length of one slot: kind, address length, address, next ephemeral
    /// public key, next MAC, next link key.
    pub fn slot_len(&self) -> usize {
        SLOT_PREFIX_LEN + self.max_address_len + PUBLIC_KEY_LEN + TAG_LEN + KEY_LEN
    }

    /// Length of the routing block (all slots).
    pub fn routing_len(&self) -> usize {
        self.layers * self.slot_len()
    }

    /// Length of a whole header on the wire.
    pub fn header_len(&self) -> usize {
        PUBLIC_KEY_LEN + self.routing_len() + TAG_LEN
    }

    /// Offset of the address length byte in a slot.
    pub(crate) fn address_len_offset(&self) -> usize {
        1
    }

    /// Offset of the address in a slot.
    pub(crate) fn address_offset(&self) -> usize {
        SLOT_PREFIX_LEN
    }

    /// Offset of the next ephemeral public key in a slot.
    pub(crate) fn next_public_offset(&self) -> usize {
        SLOT_PREFIX_LEN + self.max_address_len
    }

    /// Offset of the next MAC in a slot.
    pub(crate) fn next_mac_offset(&self) -> usize {
        self.next_public_offset() + PUBLIC_KEY_LEN
    }

    /// Offset of the next link key in a slot.
    pub(crate) fn next_link_key_offset(&self) -> usize {
        self.next_mac_offset() + TAG_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_header_is_under_5_kib() {
        let l = HeaderLayout::new(&TunnelConfig::default()).unwrap();
        assert_eq!(l.slot_len(), 146);
        assert_eq!(l.header_len(), 32 + 33 * 146 + 16);
        assert!(l.header_len() < 5 * 1024);
    }
}
