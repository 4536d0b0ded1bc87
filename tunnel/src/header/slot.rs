//! One hop's slot of the routing block: what the hop does and where to.

use super::layout::HeaderLayout;
use super::HeaderError;
use crate::crypto::{KEY_LEN, PUBLIC_KEY_LEN, TAG_LEN};

/// What a hop does with the onion, read from its slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HopKind {
    /// Forward direction, a relay: peel one content layer, forward.
    Relay,
    /// Forward direction, the receiver (Bob): read the content.
    Exit,
    /// Reply direction, a relay: add one content layer, forward.
    ReplyRelay,
    /// Reply direction, the original sender (Alice): peel every layer.
    ReplyExit,
}

impl HopKind {
    fn to_byte(self) -> u8 {
        match self {
            HopKind::Relay => 1,
            HopKind::Exit => 2,
            HopKind::ReplyRelay => 3,
            HopKind::ReplyExit => 4,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(HopKind::Relay),
            2 => Some(HopKind::Exit),
            3 => Some(HopKind::ReplyRelay),
            4 => Some(HopKind::ReplyExit),
            _ => None,
        }
    }

    /// True for the last hop of a route (nothing to forward).
    pub fn is_exit(self) -> bool {
        matches!(self, HopKind::Exit | HopKind::ReplyExit)
    }

    /// True in the reply direction (hops add layers instead of peeling).
    pub fn is_reply(self) -> bool {
        matches!(self, HopKind::ReplyRelay | HopKind::ReplyExit)
    }
}

/// A slot in clear: the hop's instructions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Slot<'a> {
    pub kind: HopKind,
    /// Next hop's address for a relay; opaque exit information for an exit.
    pub address: &'a [u8],
    pub next_public: [u8; PUBLIC_KEY_LEN],
    pub next_mac: [u8; TAG_LEN],
    /// In a reply relay's slot, the next reply hop's link key; random in
    /// every other slot, so all slots look alike.
    pub next_link_key: [u8; KEY_LEN],
}

impl<'a> Slot<'a> {
    /// Writes the slot into `out` (exactly `layout.slot_len()` bytes).
    pub fn encode(&self, layout: &HeaderLayout, out: &mut [u8]) -> Result<(), HeaderError> {
        if self.address.len() > layout.max_address_len() {
            return Err(HeaderError::AddressTooLong(self.address.len()));
        }
        out.fill(0);
        out[0] = self.kind.to_byte();
        // Fits in a byte: max_address_len is at most 255 (config checked).
        out[layout.address_len_offset()] = self.address.len() as u8;
        let a = layout.address_offset();
        out[a..a + self.address.len()].copy_from_slice(self.address);
        let p = layout.next_public_offset();
        out[p..p + PUBLIC_KEY_LEN].copy_from_slice(&self.next_public);
        let m = layout.next_mac_offset();
        out[m..m + TAG_LEN].copy_from_slice(&self.next_mac);
        let k = layout.next_link_key_offset();
        out[k..k + KEY_LEN].copy_from_slice(&self.next_link_key);
        Ok(())
    }

    /// Reads a deciphered slot; `slot` is exactly `layout.slot_len()` bytes
    /// and already authenticated, but still checked (a buggy sender).
    pub fn decode(layout: &HeaderLayout, slot: &'a [u8]) -> Result<Self, HeaderError> {
        let kind = HopKind::from_byte(slot[0]).ok_or(HeaderError::BadSlot)?;
        let len = slot[layout.address_len_offset()] as usize;
        if len > layout.max_address_len() {
            return Err(HeaderError::BadSlot);
        }
        let a = layout.address_offset();
        let mut next_public = [0u8; PUBLIC_KEY_LEN];
        let p = layout.next_public_offset();
        next_public.copy_from_slice(&slot[p..p + PUBLIC_KEY_LEN]);
        let mut next_mac = [0u8; TAG_LEN];
        let m = layout.next_mac_offset();
        next_mac.copy_from_slice(&slot[m..m + TAG_LEN]);
        let mut next_link_key = [0u8; KEY_LEN];
        let k = layout.next_link_key_offset();
        next_link_key.copy_from_slice(&slot[k..k + KEY_LEN]);
        Ok(Slot {
            kind,
            address: &slot[a..a + len],
            next_public,
            next_mac,
            next_link_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TunnelConfig;

    #[test]
    fn slot_round_trip() {
        let layout = HeaderLayout::new(&TunnelConfig::default()).unwrap();
        let slot = Slot {
            kind: HopKind::ReplyRelay,
            address: b"127.0.0.1:4000",
            next_public: [3; 32],
            next_mac: [4; 16],
            next_link_key: [5; 32],
        };
        let mut buf = vec![0u8; layout.slot_len()];
        slot.encode(&layout, &mut buf).unwrap();
        assert_eq!(Slot::decode(&layout, &buf).unwrap(), slot);
    }

    #[test]
    fn bad_kind_and_long_address_are_refused() {
        let layout = HeaderLayout::new(&TunnelConfig::default()).unwrap();
        let mut buf = vec![0u8; layout.slot_len()];
        assert_eq!(Slot::decode(&layout, &buf), Err(HeaderError::BadSlot));
        buf[0] = 1;
        buf[1] = 65;
        assert_eq!(Slot::decode(&layout, &buf), Err(HeaderError::BadSlot));
        let long = [0u8; 65];
        let slot = Slot {
            kind: HopKind::Relay,
            address: &long,
            next_public: [0; 32],
            next_mac: [0; 16],
            next_link_key: [0; 32],
        };
        assert_eq!(
            slot.encode(&layout, &mut buf),
            Err(HeaderError::AddressTooLong(65))
        );
    }
}
