//! Where each part of a cell sits: the same byte positions at every hop.
//!
//! A query cell is `[entry area: max_layers × ENTRY_LEN][data area]`. An
//! entry is `[GCM tag 16][cell info 4]`. The hop that owns a layer
//! always finds its entry first; its tag covers the whole rest of the cell,
//! so a changed byte anywhere is caught by the very next hop.
//!
//! A reply cell ([`CellLayout::reply`]) has the same size and one more
//! entry in front, the link entry (see `link.rs`):
//! `[link entry][entry area][data area]`; only the exit's entry (the first)
//! is used, the others are padding under its layer (see `reply.rs`).

use crate::config::TunnelConfig;
use crate::crypto::TAG_LEN;

use super::CellError;

/// Length of the enciphered [`CellInfo`] of an entry.
pub const INFO_LEN: usize = 4;
/// Length of one hop's entry: its tag then its cell info.
pub const ENTRY_LEN: usize = TAG_LEN + INFO_LEN;
/// Length of the link entry in front of a reply cell: the same
/// `[tag][info]` format as a layer's entry.
pub const LINK_ENTRY_LEN: usize = ENTRY_LEN;
/// Largest accepted cell: bounds what a peer can make a hop buffer, and keeps
/// the data length within the 24 bits of [`CellInfo`].
pub const MAX_CELL_SIZE: usize = 1 << 20;

/// Flag bit of [`CellInfo`]: this cell ends the message.
const FLAG_LAST: u8 = 1;

/// The fixed geometry of cells for one tunnel configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellLayout {
    cell_size: usize,
    max_layers: usize,
    /// Bytes in front of the entry area: 0 (query) or one link entry
    /// (reply).
    link_len: usize,
}

impl CellLayout {
    /// The layout of `config`: its cell size, and room for one entry per
    /// layer (every relay plus the exit).
    pub fn new(config: &TunnelConfig) -> Result<Self, CellError> {
        Self::with_sizes(config.cell_size, config.max_layers())
    }

    /// A query layout of `cell_size` bytes with room for `max_layers`
    /// entries; the data area must keep at least one byte in both
    /// directions (the reply layout also holds a link entry).
    pub fn with_sizes(cell_size: usize, max_layers: usize) -> Result<Self, CellError> {
        let entries = max_layers
            .checked_add(1)
            .and_then(|e| e.checked_mul(ENTRY_LEN));
        match entries {
            Some(e) if max_layers > 0 && e < cell_size && cell_size <= MAX_CELL_SIZE => {
                Ok(CellLayout {
                    cell_size,
                    max_layers,
                    link_len: 0,
                })
            }
            _ => Err(CellError::Layout {
                cell_size,
                max_layers,
            }),
        }
    }

    /// Bytes of one cell on the wire, at every hop.
    pub fn cell_size(&self) -> usize {
        self.cell_size
    }

    /// Most layers (hops plus exit) a cell can carry.
    pub fn max_layers(&self) -> usize {
        self.max_layers
    }

    /// The layout of reply cells of the same size and layers: one link
    /// entry ([`LINK_ENTRY_LEN`] bytes) in front, so that many fewer
    /// payload bytes.
    pub fn reply(&self) -> CellLayout {
        CellLayout {
            link_len: LINK_ENTRY_LEN,
            ..*self
        }
    }

    /// Bytes of the link entry in front of the entry area: 0 for query
    /// cells.
    pub fn link_len(&self) -> usize {
        self.link_len
    }

    /// Payload bytes one cell carries.
    pub fn data_capacity(&self) -> usize {
        self.cell_size - self.link_len - self.entries_len()
    }

    /// Where the payload of a cell carrying `len` bytes sits in the cell.
    pub fn data_range(&self, len: usize) -> std::ops::Range<usize> {
        let start = self.link_len + self.entries_len();
        start..start + len
    }

    /// Length of the entry area (all slots).
    pub(crate) fn entries_len(&self) -> usize {
        self.max_layers * ENTRY_LEN
    }

    /// Number of whole cells a payload of `len` bytes takes (an empty
    /// payload still takes one cell, which carries the end).
    pub fn cells_for(&self, len: u64) -> u64 {
        len.div_ceil(self.data_capacity() as u64).max(1)
    }
}

/// What a layer's entry says about its cell, readable by that layer's hop
/// only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CellInfo {
    /// The cell ends the message: every hop learns it, so a stream cut
    /// anywhere before it is detected at the next hop.
    pub last: bool,
    /// Payload bytes in the data area (meaningful for the exit; relays see 0).
    pub data_len: usize,
}

impl CellInfo {
    /// Wire form: `[flags][data length, 24-bit little endian]`.
    pub(crate) fn encode(&self) -> [u8; INFO_LEN] {
        let len = (self.data_len as u32).to_le_bytes();
        let flags = if self.last { FLAG_LAST } else { 0 };
        [flags, len[0], len[1], len[2]]
    }

    /// Reads an info, refusing unknown flags and a length beyond `capacity`.
    /// The info was authenticated already, so a bad one is a sender bug or
    /// a wrong layout, still never trusted.
    pub(crate) fn decode(bytes: &[u8], capacity: usize, cell: u64) -> Result<Self, CellError> {
        let flags = bytes[0];
        let data_len = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], 0]) as usize;
        if flags & !FLAG_LAST != 0 || data_len > capacity {
            return Err(CellError::BadInfo { cell });
        }
        Ok(CellInfo {
            last: flags & FLAG_LAST != 0,
            data_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_layout_leaves_most_of_the_cell_for_data() {
        let l = CellLayout::new(&TunnelConfig::default()).unwrap();
        assert_eq!(l.cell_size(), 16 * 1024);
        assert_eq!(l.data_capacity(), 16 * 1024 - 33 * ENTRY_LEN);
        let l = CellLayout::new(&TunnelConfig::with_max_hops(128)).unwrap();
        assert_eq!(l.max_layers(), 129);
    }

    #[test]
    fn layouts_without_room_for_data_are_refused() {
        assert!(CellLayout::with_sizes(2 * ENTRY_LEN, 1).is_err());
        let l = CellLayout::with_sizes(2 * ENTRY_LEN + 1, 1).unwrap();
        assert_eq!(l.data_capacity(), ENTRY_LEN + 1);
        assert_eq!(l.reply().data_capacity(), 1);
        assert_eq!(l.reply().data_range(1), 2 * ENTRY_LEN..2 * ENTRY_LEN + 1);
        assert!(CellLayout::with_sizes(100, 0).is_err());
        assert!(CellLayout::with_sizes(MAX_CELL_SIZE + 1, 1).is_err());
        assert!(CellLayout::with_sizes(1000, usize::MAX).is_err());
    }

    #[test]
    fn info_round_trips_and_refuses_unknown_flags() {
        let i = CellInfo {
            last: true,
            data_len: 70000,
        };
        assert_eq!(CellInfo::decode(&i.encode(), 70000, 0).unwrap(), i);
        assert!(CellInfo::decode(&i.encode(), 69999, 0).is_err());
        let mut b = i.encode();
        b[0] |= 2;
        assert!(CellInfo::decode(&b, 70000, 0).is_err());
    }

    #[test]
    fn cells_for_counts_an_empty_payload_as_one_cell() {
        let l = CellLayout::with_sizes(100, 1).unwrap();
        let cap = l.data_capacity() as u64;
        assert_eq!(l.cells_for(0), 1);
        assert_eq!(l.cells_for(cap), 1);
        assert_eq!(l.cells_for(cap + 1), 2);
    }
}
