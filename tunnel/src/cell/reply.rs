//! The reply direction: the exit's single-layer [`ReplyCellSealer`], a reply
//! relay's [`ReplyCellWrapper`] (adds one layer) and the sender's
//! [`ReplyCellOpener`] (removes them all).
//!
//! A reply cell is `[link entry][entries][data]` ([`CellLayout::reply`]).
//! Every hop checks the link entry the previous hop sealed for it (see
//! `link.rs`): a changed byte or a cut, even at a cell
//! boundary, is refused by the hop that receives it.
//!
//! Only the exit's layer has a tag (the first entry). A reply relay's layer
//! is a bare ChaCha20 keystream over everything behind the link entry, the
//! exit's entry included: its own tag would detect nothing more, since the
//! link entries catch any change on a link and the exit's tag, which the
//! sender checks after removing every layer, catches any change a
//! dishonest relay makes and hides under a re-sealed link entry (the
//! keystream layers carry a flipped bit through unchanged). The entry area
//! keeps its size (the query layout's), its slots behind the exit's entry
//! unused: zeros under the exit's layer, so random to every relay.

use crate::crypto::{KEY_LEN, TAG_LEN};

use super::layer::{Direction, LayerCipher, StreamLayer};
use super::link::LinkCipher;
use super::onion::{check_cell, check_seal, next_counter};
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
        check_seal(&self.layout, cell, len)?;
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

/// A reply relay's side: checks the incoming link entry, adds its layer (a
/// keystream, no tag), seals the outgoing link entry.
pub struct ReplyCellWrapper {
    layout: CellLayout,
    layer: StreamLayer,
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
            layer: StreamLayer::new(reply_key, Direction::Reply)?,
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
        self.layer.apply(c, &mut cell[LINK_ENTRY_LEN..])?;
        self.link_out.seal(c, cell, last)?;
        self.counter = next;
        Ok(if last { CellEnd::Last } else { CellEnd::More })
    }
}

/// The sender's side of a reply: checks the last link entry, removes every
/// reply relay's keystream, then checks and opens the exit's layer.
pub struct ReplyCellOpener {
    layout: CellLayout,
    link: LinkCipher,
    exit: LayerCipher,
    /// Reply relays' layers; their order does not matter (XORs commute).
    relays: Vec<StreamLayer>,
    counter: u64,
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
            .map(|k| StreamLayer::new(k, Direction::Reply))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ReplyCellOpener {
            layout: layout.reply(),
            link: LinkCipher::opening(link_key)?,
            exit: LayerCipher::opening(exit_key, Direction::Reply)?,
            relays,
            counter: 0,
        })
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
        let last = self.link.open(c, cell)?;
        let layered = &mut cell[LINK_ENTRY_LEN..];
        for relay in &mut self.relays {
            relay.apply(c, layered)?;
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
    fn a_relay_re_enciphers_everything_behind_the_link_entry() {
        // The exit's tag and entries included: nothing of what the relay
        // received is visible in what it sends, so the two links' cells
        // cannot be matched.
        let (mut exit, mut relay, _) = route();
        let mut cell = vec![0u8; CELL];
        exit.seal(&mut cell, 0, true).unwrap();
        let received = cell.clone();
        assert_eq!(relay.transform(&mut cell).unwrap(), CellEnd::Last);
        let mut keystream = vec![0u8; CELL - LINK_ENTRY_LEN];
        StreamLayer::new(&[2u8; KEY_LEN], Direction::Reply)
            .unwrap()
            .apply(0, &mut keystream)
            .unwrap();
        for (i, k) in keystream.iter().enumerate() {
            let at = LINK_ENTRY_LEN + i;
            assert_eq!(received[at] ^ cell[at], *k, "byte {at}");
        }
        let same = (LINK_ENTRY_LEN..CELL)
            .filter(|&i| received[i] == cell[i])
            .count();
        assert!(same < 8, "{same} bytes unchanged");
    }

    #[test]
    fn the_sender_refuses_a_relay_that_lies_about_the_end() {
        assert!(matches!(
            dishonest(|_| {}, true),
            Err(CellError::BadInfo { cell: 0 })
        ));
    }
}
