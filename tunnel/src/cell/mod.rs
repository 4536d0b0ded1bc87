//! Content cells: the constant-size, per-hop authenticated frames that carry
//! a tunnel's payload after its header.
//!
//! Every cell has the same length at every hop ([`CellLayout`]). Each layer
//! of a query onion puts an AES-256-GCM tag over the whole cell, so every hop
//! checks every cell it forwards: a changed, dropped, reordered or replayed
//! cell is refused at the next hop, and a per-layer end flag lets every hop
//! of the query direction tell a clean end from a cut stream. Reply cells
//! carry a link entry in front (`link.rs`), sealed per link of the reply
//! route, which gives every reply hop the same checks; there only the
//! exit's layer has a tag, the relays' layers are keystreams (`reply.rs`).
//!
//! Per-cell transforms are plain state machines ([`SealCell`],
//! [`TransformCell`], [`OpenCell`]); the stream layers [`CellWriter`],
//! [`CellProxy`] and [`CellReader`] run them over readwrite-comp's
//! `ExtWrite` / `ExtRead` with one cell of buffer each.
//!
//! ```
//! use readwrite_comp::{ExtRead, ExtWrite};
//! use tunnel::cell::{CellLayout, CellOpener, CellPeeler, CellProxy, CellReader, CellSealer, CellWriter};
//! use tunnel::TunnelConfig;
//!
//! let layout = CellLayout::new(&TunnelConfig::default())?;
//! let (relay_key, exit_key) = ([1u8; 32], [2u8; 32]); // from the header's HopKeys
//!
//! // The sender seals one layer per hop.
//! let mut writer = CellWriter::new(CellSealer::new(layout, &[relay_key, exit_key])?);
//! let mut to_relay = Vec::new();
//! writer.write_all_into(&mut to_relay, b"hello")?;
//! writer.write_end(&mut to_relay)?;
//!
//! // The relay checks and removes its layer, cell by cell.
//! let mut relay = CellProxy::new(CellPeeler::new(layout, &relay_key)?);
//! let mut to_exit = Vec::new();
//! relay.pump(&mut &to_relay[..], &mut to_exit)?;
//! assert_eq!(to_exit.len(), to_relay.len()); // same cell size at every hop
//!
//! // The exit checks the last layer and reads the payload.
//! let mut exit = CellReader::new(CellOpener::new(layout, &exit_key)?);
//! let mut buf = [0u8; 16];
//! let n = exit.read_from(&mut &to_exit[..], &mut buf)?;
//! assert_eq!(&buf[..n], b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod layer;
mod layout;
mod link;
mod onion;
mod proxy;
mod reader;
mod reply;
mod writer;

pub use error::CellError;
pub use layout::{CellInfo, CellLayout, ENTRY_LEN, INFO_LEN, LINK_ENTRY_LEN, MAX_CELL_SIZE};
pub use onion::{CellOpener, CellPeeler, CellSealer};
pub use proxy::CellProxy;
pub use reader::CellReader;
pub use reply::{ReplyCellOpener, ReplyCellSealer, ReplyCellWrapper};
pub use writer::CellWriter;

/// Builds whole cells from payload bytes: the sender's onion
/// ([`CellSealer`]) or an exit's reply ([`ReplyCellSealer`]).
pub trait SealCell {
    /// The layout of the cells this sealer makes.
    fn layout(&self) -> &CellLayout;

    /// Seals the next cell of the stream in place. The payload is already in
    /// `cell[layout.data_range(len)]`; the rest of `cell` is overwritten.
    fn seal(&mut self, cell: &mut [u8], len: usize, last: bool) -> Result<(), CellError>;
}

/// What a relay does to each cell it forwards: [`CellPeeler`] (query) or
/// [`ReplyCellWrapper`] (reply).
pub trait TransformCell {
    /// The layout of the cells this transform takes and gives.
    fn layout(&self) -> &CellLayout;

    /// Transforms the next cell of the stream in place, after checking it
    /// where this layer can.
    fn transform(&mut self, cell: &mut [u8]) -> Result<CellEnd, CellError>;
}

/// Whether a transformed cell ends its message, as its authenticated end
/// flag says (a layer's info for a query, the link entry for a reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellEnd {
    /// More cells follow: the stream ending here is a truncation.
    More,
    /// The last cell of the message.
    Last,
}

/// Checks and opens whole cells: the exit's [`CellOpener`] or the sender's
/// [`ReplyCellOpener`].
pub trait OpenCell {
    /// The layout of the cells this opener takes.
    fn layout(&self) -> &CellLayout;

    /// Checks and opens the next cell of the stream in place; the payload is
    /// then in `cell[layout.data_range(info.data_len)]`.
    fn open(&mut self, cell: &mut [u8]) -> Result<CellInfo, CellError>;
}
