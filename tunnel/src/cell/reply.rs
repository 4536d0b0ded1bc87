//! The reply direction: the exit's single-layer [`ReplyCellSealer`], a reply
//! relay's [`ReplyCellWrapper`] (adds one layer) and the sender's
//! [`ReplyCellOpener`] (removes them all).
//!
//! A reply cell is `[link entry][entries][data]` ([`CellLayout::reply`]).
//! Every hop checks the link entry the previous hop sealed for it (see
//! `link.rs`): a changed byte or a cut, even at a cell
//! boundary, is refused by the hop that receives it.
//!
//! Behind the link entry, a reply relay shifts the slots one entry right,
//! dropping the last one, puts its own entry in front and seals the rest of
//! the cell under its reply key, its tag also covering the dropped slot:
//! the cell keeps its length. Every dropped slot derives from keys the
//! sender holds, so the sender recomputes it and checks every layer, the
//! exit's included.

use crate::crypto::{KEY_LEN, TAG_LEN};

use super::layer::{Direction, LayerCipher};
use super::link::LinkCipher;
use super::onion::{check_cell, next_counter};
use super::{CellEnd, CellError, CellInfo, CellLayout, OpenCell, SealCell, TransformCell};
use super::{ENTRY_LEN, LINK_ENTRY_LEN};

/// The exit's side of a reply: one layer under the reply key the sender
/// gave it, and the link entry for the first reply hop.
pub struct ReplyCellSealer {
    layout: CellLayout,
    layer: LayerCipher,
    link: LinkCipher,
    counter: u64,
}

impl ReplyCellSealer {
    /// An exit replying under `reply_key`, sealing link entries under
    /// `link_key` (the first reply hop's, from the reply block). Cells take
    /// `layout.reply()`.
    pub fn new(
        layout: CellLayout,
        reply_key: &[u8; KEY_LEN],
        link_key: &[u8; KEY_LEN],
    ) -> Result<Self, CellError> {
        Ok(ReplyCellSealer {
            layout: layout.reply(),
            layer: LayerCipher::sealing(reply_key, Direction::Reply)?,
            link: LinkCipher::sealing(link_key)?,
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
        let layered = &mut cell[LINK_ENTRY_LEN..];
        layered[TAG_LEN..ENTRY_LEN].copy_from_slice(&info.encode());
        // Zero slots: enciphered they look random to relays, and the sender
        // can recompute them.
        layered[ENTRY_LEN..entries].fill(0);
        layered[entries + len..].fill(0);
        self.layer.seal_in_place(self.counter, layered)?;
        self.link.seal(self.counter, cell, last)?;
        self.counter = next;
        Ok(())
    }
}

/// A reply relay's side: checks the incoming link entry, adds its layer,
/// seals the outgoing link entry.
pub struct ReplyCellWrapper {
    layout: CellLayout,
    layer: LayerCipher,
    link_in: LinkCipher,
    link_out: LinkCipher,
    counter: u64,
}

impl ReplyCellWrapper {
    /// A reply relay with the reply-layer key `reply_key`, checking
    /// incoming cells under `link_in` (its own `HopKeys::link_key`) and
    /// sealing outgoing ones under `link_out` (the next reply hop's, from
    /// its slot). Cells take `layout.reply()`.
    pub fn new(
        layout: CellLayout,
        reply_key: &[u8; KEY_LEN],
        link_in: &[u8; KEY_LEN],
        link_out: &[u8; KEY_LEN],
    ) -> Result<Self, CellError> {
        Ok(ReplyCellWrapper {
            layout: layout.reply(),
            layer: LayerCipher::sealing(reply_key, Direction::Reply)?,
            link_in: LinkCipher::opening(link_in)?,
            link_out: LinkCipher::sealing(link_out)?,
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
        let c = self.counter;
        let last = self.link_in.open(c, cell)?;
        let entries = self.layout.entries_len();
        let layered = &mut cell[LINK_ENTRY_LEN..];
        // The dropped slot is authenticated (not sent): the sender
        // recomputes it, so a change to it is still caught.
        let mut dropped = [0u8; ENTRY_LEN];
        dropped.copy_from_slice(&layered[entries - ENTRY_LEN..entries]);
        layered.copy_within(0..entries - ENTRY_LEN, ENTRY_LEN);
        // The end travels in the link entries; the layer's info stays empty.
        layered[TAG_LEN..ENTRY_LEN].copy_from_slice(&CellInfo::default().encode());
        self.layer.seal_in_place_with(c, &dropped, layered)?;
        self.link_out.seal(c, cell, last)?;
        self.counter = next;
        Ok(if last { CellEnd::Last } else { CellEnd::More })
    }
}

/// The sender's side of a reply: checks and removes the layers of every
/// reply relay, then the exit's.
pub struct ReplyCellOpener {
    layout: CellLayout,
    link: LinkCipher,
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
    /// by relays with `relay_keys`, in order from the exit to the sender,
    /// the last link sealed under `link_key` (the sender's own
    /// `HopKeys::link_key` in the reply header). Cells take `layout.reply()`.
    pub fn new(
        layout: CellLayout,
        exit_key: &[u8; KEY_LEN],
        relay_keys: &[[u8; KEY_LEN]],
        link_key: &[u8; KEY_LEN],
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
            layout: layout.reply(),
            link: LinkCipher::opening(link_key)?,
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
        let last = self.link.open(c, cell)?;
        self.build_dropped()?;
        let layered = &mut cell[LINK_ENTRY_LEN..];
        for j in (0..self.relays.len()).rev() {
            let dropped = &self.dropped[j * ENTRY_LEN..(j + 1) * ENTRY_LEN];
            self.relays[j].open_in_place_with(c, dropped, layered)?;
            layered.copy_within(ENTRY_LEN..entries, 0);
            layered[entries - ENTRY_LEN..entries].copy_from_slice(dropped);
        }
        self.exit.open_in_place(c, layered)?;
        let info = CellInfo::decode(&layered[TAG_LEN..ENTRY_LEN], self.layout.data_capacity(), c)?;
        // The last relay's end flag must be the exit's.
        if info.last != last {
            return Err(CellError::BadInfo { cell: c });
        }
        self.counter = next;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CELL: usize = 200;

    /// An exit, one reply relay and the sender, with distinct keys; link 0
    /// goes into the relay, link 1 into the sender.
    fn route() -> (ReplyCellSealer, ReplyCellWrapper, ReplyCellOpener) {
        let layout = CellLayout::with_sizes(CELL, 3).unwrap();
        let (exit, relay, links) = (
            [1u8; KEY_LEN],
            [2u8; KEY_LEN],
            [[3u8; KEY_LEN], [4u8; KEY_LEN]],
        );
        (
            ReplyCellSealer::new(layout, &exit, &links[0]).unwrap(),
            ReplyCellWrapper::new(layout, &relay, &links[0], &links[1]).unwrap(),
            ReplyCellOpener::new(layout, &exit, &[relay], &links[1]).unwrap(),
        )
    }

    /// What a dishonest relay sends: its honest output for one cell with
    /// `change` applied, under a valid link entry claiming `last`.
    fn dishonest(change: impl Fn(&mut [u8]), last: bool) -> Result<CellInfo, CellError> {
        let (mut exit, mut relay, mut sender) = route();
        let mut cell = vec![0u8; CELL];
        let at = exit.layout().data_range(0).start;
        cell[at..at + 5].copy_from_slice(b"reply");
        exit.seal(&mut cell, 5, false).unwrap();
        assert_eq!(relay.transform(&mut cell).unwrap(), CellEnd::More);
        change(&mut cell);
        LinkCipher::sealing(&[4u8; KEY_LEN])
            .unwrap()
            .seal(0, &mut cell, last)
            .unwrap();
        sender.open(&mut cell)
    }

    #[test]
    fn the_sender_refuses_a_relay_that_changes_a_cell_and_reseals_its_link() {
        assert!(dishonest(|_| {}, false).is_ok());
        for pos in LINK_ENTRY_LEN..CELL {
            let r = dishonest(|c| c[pos] ^= 0x08, false);
            assert!(
                matches!(r, Err(CellError::Tampered { cell: 0 })),
                "byte {pos}"
            );
        }
    }

    #[test]
    fn the_sender_refuses_a_relay_that_lies_about_the_end() {
        assert!(matches!(
            dishonest(|_| {}, true),
            Err(CellError::BadInfo { cell: 0 })
        ));
    }
}
