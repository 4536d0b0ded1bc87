//! The query direction: the sender's multi-layer [`CellSealer`], a relay's
//! [`CellPeeler`] (removes one layer) and the exit's [`CellOpener`].
//!
//! Relay `j` receives `X_j = [tag][enc(info ‖ slots 1.. ‖ data)]`. It checks
//! the tag over everything after it, deciphers in place, shifts the slots
//! one entry left and appends its filler, so `X_{j+1}` has the same length
//! and its entry again comes first. The sender knows every filler, so it can
//! compute the tags of the trailing slots the relays will fill in
//! (Sphinx-style filler, applied to content cells).

use crate::crypto::{KEY_LEN, TAG_LEN};

use super::layer::{Direction, LayerCipher};
use super::{CellEnd, CellError, CellInfo, CellLayout, OpenCell, SealCell, TransformCell};
use super::{ENTRY_LEN, INFO_LEN};

/// Next cell counter, refusing to wrap (a wrapped counter reuses nonces).
pub(crate) fn next_counter(counter: u64) -> Result<u64, CellError> {
    counter.checked_add(1).ok_or(CellError::CounterExhausted)
}

/// Checks `cell` has the layout's length.
pub(crate) fn check_cell(layout: &CellLayout, cell: &[u8]) -> Result<(), CellError> {
    if cell.len() != layout.cell_size() {
        return Err(CellError::Size {
            len: cell.len(),
            expected: layout.cell_size(),
        });
    }
    Ok(())
}

/// What every sealer checks first: a whole cell, and a payload that fits
/// its data area.
pub(crate) fn check_seal(layout: &CellLayout, cell: &[u8], len: usize) -> Result<(), CellError> {
    check_cell(layout, cell)?;
    if len > layout.data_capacity() {
        return Err(CellError::Size {
            len,
            expected: layout.data_capacity(),
        });
    }
    Ok(())
}

/// The sender's side: wraps a payload in one layer per hop of the route.
pub struct CellSealer {
    layout: CellLayout,
    /// Relays in route order, then the exit.
    layers: Vec<LayerCipher>,
    /// Keystream under a key only the sender knows, for the unused slots the
    /// exit sees: they must not reveal the route length to the exit.
    pad: LayerCipher,
    counter: u64,
    /// Trailing slots the relays' fillers will have built, per cell.
    trail: Vec<u8>,
}

impl CellSealer {
    /// A sealer for a route whose hops have `content_keys`, relays in route
    /// order and the exit last (one key: straight to the exit).
    pub fn new(layout: CellLayout, content_keys: &[[u8; KEY_LEN]]) -> Result<Self, CellError> {
        if content_keys.is_empty() || content_keys.len() > layout.max_layers() {
            return Err(CellError::LayerCount {
                layers: content_keys.len(),
                max: layout.max_layers(),
            });
        }
        let layers = content_keys
            .iter()
            .map(|k| LayerCipher::sealing(k, Direction::Forward))
            .collect::<Result<Vec<_>, _>>()?;
        let mut pad_key = [0u8; KEY_LEN];
        openssl::rand::rand_bytes(&mut pad_key)?;
        Ok(CellSealer {
            layout,
            layers,
            pad: LayerCipher::sealing(&pad_key, Direction::Forward)?,
            counter: 0,
            trail: Vec::with_capacity((layout.max_layers() - 1) * ENTRY_LEN),
        })
    }

    /// Computes into `trail` the trailing slots of the exit's cell: what
    /// relays `0..n-1` append, as the exit receives it.
    fn build_trail(&mut self) -> Result<(), CellError> {
        let l = self.layout.max_layers();
        let c = self.counter;
        self.trail.clear();
        for j in 0..self.layers.len() - 1 {
            // `trail` holds the last `j` slots of relay j's cell; relay j
            // deciphers them (shifted one slot left) and appends its filler.
            let offset = (l - j) * ENTRY_LEN - TAG_LEN;
            self.layers[j].apply_keystream(c, offset, &mut self.trail)?;
            let start = self.trail.len();
            self.trail.resize(start + ENTRY_LEN, 0);
            self.layers[j].filler(c, &mut self.trail[start..])?;
        }
        Ok(())
    }
}

impl SealCell for CellSealer {
    fn layout(&self) -> &CellLayout {
        &self.layout
    }

    fn seal(&mut self, cell: &mut [u8], len: usize, last: bool) -> Result<(), CellError> {
        check_seal(&self.layout, cell, len)?;
        let next = next_counter(self.counter)?;
        let c = self.counter;
        let l = self.layout.max_layers();
        let n = self.layers.len();
        let entries = self.layout.entries_len();
        self.build_trail()?;

        // The exit's plaintext, in place: info, unused slots, trail, data.
        let exit_info = CellInfo {
            last,
            data_len: len,
        };
        cell[TAG_LEN..ENTRY_LEN].copy_from_slice(&exit_info.encode());
        let trail_start = (l - n + 1) * ENTRY_LEN;
        let free = &mut cell[ENTRY_LEN..trail_start];
        free.fill(0);
        self.pad.apply_keystream(c, 0, free)?;
        // The exit's tag must cover the trail exactly as relays will have
        // made it, so its plaintext there is trail ⊕ exit keystream.
        cell[trail_start..entries].copy_from_slice(&self.trail);
        self.layers[n - 1].apply_keystream(
            c,
            trail_start - TAG_LEN,
            &mut cell[trail_start..entries],
        )?;
        cell[entries + len..].fill(0);
        self.layers[n - 1].seal_in_place(c, cell)?;

        // Each relay, innermost first: its entry goes in front, the last
        // slot (its own filler, recomputed by the relay) falls off.
        let relay_info = CellInfo { last, data_len: 0 }.encode();
        for layer in self.layers[..n - 1].iter_mut().rev() {
            cell.copy_within(0..entries - ENTRY_LEN, ENTRY_LEN);
            cell[TAG_LEN..TAG_LEN + INFO_LEN].copy_from_slice(&relay_info);
            layer.seal_in_place(c, cell)?;
        }
        self.counter = next;
        Ok(())
    }
}

/// A relay's side of the query direction: checks and removes its layer.
pub struct CellPeeler {
    layout: CellLayout,
    layer: LayerCipher,
    counter: u64,
}

impl CellPeeler {
    /// A relay whose layer key (`HopKeys::content_key`) is `content_key`.
    pub fn new(layout: CellLayout, content_key: &[u8; KEY_LEN]) -> Result<Self, CellError> {
        Ok(CellPeeler {
            layout,
            layer: LayerCipher::opening(content_key, Direction::Forward)?,
            counter: 0,
        })
    }
}

impl TransformCell for CellPeeler {
    fn layout(&self) -> &CellLayout {
        &self.layout
    }

    fn transform(&mut self, cell: &mut [u8]) -> Result<CellEnd, CellError> {
        check_cell(&self.layout, cell)?;
        let next = next_counter(self.counter)?;
        let c = self.counter;
        let entries = self.layout.entries_len();
        self.layer.open_in_place(c, cell)?;
        let info = CellInfo::decode(&cell[TAG_LEN..ENTRY_LEN], self.layout.data_capacity(), c)?;
        cell.copy_within(ENTRY_LEN..entries, 0);
        self.layer
            .filler(c, &mut cell[entries - ENTRY_LEN..entries])?;
        self.counter = next;
        Ok(if info.last {
            CellEnd::Last
        } else {
            CellEnd::More
        })
    }
}

/// The exit's side of the query direction: checks the last layer and finds
/// the payload.
pub struct CellOpener {
    layout: CellLayout,
    layer: LayerCipher,
    counter: u64,
}

impl CellOpener {
    /// The exit whose layer key (`HopKeys::content_key`) is `content_key`.
    pub fn new(layout: CellLayout, content_key: &[u8; KEY_LEN]) -> Result<Self, CellError> {
        Ok(CellOpener {
            layout,
            layer: LayerCipher::opening(content_key, Direction::Forward)?,
            counter: 0,
        })
    }
}

impl OpenCell for CellOpener {
    fn layout(&self) -> &CellLayout {
        &self.layout
    }

    fn open(&mut self, cell: &mut [u8]) -> Result<CellInfo, CellError> {
        check_cell(&self.layout, cell)?;
        let next = next_counter(self.counter)?;
        let c = self.counter;
        self.layer.open_in_place(c, cell)?;
        let info = CellInfo::decode(&cell[TAG_LEN..ENTRY_LEN], self.layout.data_capacity(), c)?;
        self.counter = next;
        Ok(info)
    }
}
