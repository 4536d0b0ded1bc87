//! The reply direction: the exit's single-layer [`ReplyCellSealer`], a reply
//! relay's [`ReplyCellWrapper`] (adds one layer) and the sender's
//! [`ReplyCellOpener`] (removes them all).
//!
//! A reply relay shifts the slots one entry right, dropping the last one,
//! puts its own entry in front and seals the whole cell under its reply key,
//! its tag also covering the dropped slot: the cell keeps its length. Every
//! dropped slot derives from keys the sender holds, so the sender recomputes
//! it to check the tags, and a change to any byte a relay received is
//! caught.
//! Relays cannot check the exit's layer (they share no key with the exit);
//! the sender checks every layer, including the exit's end flag.

use crate::crypto::{KEY_LEN, TAG_LEN};

use super::layer::{Direction, LayerCipher};
use super::onion::{check_cell, next_counter};
use super::ENTRY_LEN;
use super::{CellEnd, CellError, CellInfo, CellLayout, OpenCell, SealCell, TransformCell};

/// The exit's side of a reply: one layer under the reply key the sender
/// gave it.
pub struct ReplyCellSealer {
    layout: CellLayout,
    layer: LayerCipher,
    counter: u64,
}

impl ReplyCellSealer {
    /// An exit replying under `reply_key`.
    pub fn new(layout: CellLayout, reply_key: &[u8; KEY_LEN]) -> Result<Self, CellError> {
        Ok(ReplyCellSealer {
            layout,
            layer: LayerCipher::sealing(reply_key, Direction::Reply)?,
            counter: 0,
        })
    }
}

impl SealCell for ReplyCellSealer {
    fn layout(&self) -> &CellLayout {
        &self.layout
    }

    fn seal(&mut self, cell: &mut [u8], len: usize, last: bool) -> Result<(), CellError> {
        check_cell(&self.layout, cell)?;
        if len > self.layout.data_capacity() {
            return Err(CellError::Size {
                len,
                expected: self.layout.data_capacity(),
            });
        }
        let next = next_counter(self.counter)?;
        let entries = self.layout.entries_len();
        let info = CellInfo {
            last,
            data_len: len,
        };
        cell[TAG_LEN..ENTRY_LEN].copy_from_slice(&info.encode());
        // Zero slots: enciphered they look random to relays, and the sender
        // can recompute them.
        cell[ENTRY_LEN..entries].fill(0);
        cell[entries + len..].fill(0);
        self.layer.seal_in_place(self.counter, cell)?;
        self.counter = next;
        Ok(())
    }
}

/// A reply relay's side: adds its layer to every cell.
pub struct ReplyCellWrapper {
    layout: CellLayout,
    layer: LayerCipher,
    counter: u64,
}

impl ReplyCellWrapper {
    /// A reply relay with the reply-layer key `reply_key` (given to it by
    /// the reply header).
    pub fn new(layout: CellLayout, reply_key: &[u8; KEY_LEN]) -> Result<Self, CellError> {
        Ok(ReplyCellWrapper {
            layout,
            layer: LayerCipher::sealing(reply_key, Direction::Reply)?,
            counter: 0,
        })
    }
}

impl TransformCell for ReplyCellWrapper {
    fn layout(&self) -> &CellLayout {
        &self.layout
    }

    fn transform(&mut self, cell: &mut [u8]) -> Result<CellEnd, CellError> {
        check_cell(&self.layout, cell)?;
        let next = next_counter(self.counter)?;
        let entries = self.layout.entries_len();
        // The dropped slot is authenticated (not sent): the sender
        // recomputes it, so a change to it is still caught.
        let mut dropped = [0u8; ENTRY_LEN];
        dropped.copy_from_slice(&cell[entries - ENTRY_LEN..entries]);
        cell.copy_within(0..entries - ENTRY_LEN, ENTRY_LEN);
        // A relay cannot read the exit's end flag: its own info stays empty.
        cell[TAG_LEN..ENTRY_LEN].copy_from_slice(&CellInfo::default().encode());
        self.layer
            .seal_in_place_with(self.counter, &dropped, cell)?;
        self.counter = next;
        Ok(CellEnd::Unknown)
    }
}

/// The sender's side of a reply: checks and removes the layers of every
/// reply relay, then the exit's.
pub struct ReplyCellOpener {
    layout: CellLayout,
    exit: LayerCipher,
    /// Reply relays from the exit towards the sender.
    relays: Vec<LayerCipher>,
    counter: u64,
    /// Per cell: the slots the relays dropped, in relay order.
    dropped: Vec<u8>,
    trail: Vec<u8>,
}

impl ReplyCellOpener {
    /// The sender's opener for a reply sealed under `exit_key` then wrapped
    /// by relays with `relay_keys`, in order from the exit to the sender.
    pub fn new(
        layout: CellLayout,
        exit_key: &[u8; KEY_LEN],
        relay_keys: &[[u8; KEY_LEN]],
    ) -> Result<Self, CellError> {
        if relay_keys.len() >= layout.max_layers() {
            return Err(CellError::LayerCount {
                layers: relay_keys.len() + 1,
                max: layout.max_layers(),
            });
        }
        let relays = relay_keys
            .iter()
            .map(|k| LayerCipher::opening(k, Direction::Reply))
            .collect::<Result<Vec<_>, _>>()?;
        let m = relays.len();
        Ok(ReplyCellOpener {
            layout,
            exit: LayerCipher::opening(exit_key, Direction::Reply)?,
            relays,
            counter: 0,
            dropped: vec![0; m * ENTRY_LEN],
            trail: vec![0; m * ENTRY_LEN],
        })
    }

    /// Recomputes the slot each relay dropped from cell `counter`.
    fn build_dropped(&mut self) -> Result<(), CellError> {
        let l = self.layout.max_layers();
        let m = self.relays.len();
        let c = self.counter;
        // The last `m` slots of the exit's cell: its zero slots enciphered.
        self.trail.fill(0);
        self.exit
            .apply_keystream(c, (l - m) * ENTRY_LEN - TAG_LEN, &mut self.trail)?;
        for j in 0..m {
            // `trail` holds the last `m - j` slots of what relay j received;
            // it drops the last and enciphers the rest one slot further on.
            let keep = (m - j - 1) * ENTRY_LEN;
            self.dropped[j * ENTRY_LEN..(j + 1) * ENTRY_LEN]
                .copy_from_slice(&self.trail[keep..keep + ENTRY_LEN]);
            let offset = (l - m + j + 1) * ENTRY_LEN - TAG_LEN;
            self.relays[j].apply_keystream(c, offset, &mut self.trail[..keep])?;
        }
        Ok(())
    }
}

impl OpenCell for ReplyCellOpener {
    fn layout(&self) -> &CellLayout {
        &self.layout
    }

    fn open(&mut self, cell: &mut [u8]) -> Result<CellInfo, CellError> {
        check_cell(&self.layout, cell)?;
        let next = next_counter(self.counter)?;
        let c = self.counter;
        let entries = self.layout.entries_len();
        self.build_dropped()?;
        for j in (0..self.relays.len()).rev() {
            let dropped = &self.dropped[j * ENTRY_LEN..(j + 1) * ENTRY_LEN];
            self.relays[j].open_in_place_with(c, dropped, cell)?;
            cell.copy_within(ENTRY_LEN..entries, 0);
            cell[entries - ENTRY_LEN..entries].copy_from_slice(dropped);
        }
        self.exit.open_in_place(c, cell)?;
        let info = CellInfo::decode(&cell[TAG_LEN..ENTRY_LEN], self.layout.data_capacity(), c)?;
        self.counter = next;
        Ok(info)
    }
}
