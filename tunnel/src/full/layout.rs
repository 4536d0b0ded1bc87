//! [`FrameLayout`]: the byte geometry of a tunnel, header and cells.

use crate::cell::CellLayout;
use crate::config::TunnelConfig;
use crate::error::TunnelError;
use crate::header::HeaderLayout;

/// The byte geometry of a tunnel: its header and its cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLayout {
    /// The fixed header.
    pub header: HeaderLayout,
    /// The content cells.
    pub cell: CellLayout,
}

impl FrameLayout {
    /// The layout of `config`.
    pub fn new(config: &TunnelConfig) -> Result<Self, TunnelError> {
        Ok(FrameLayout {
            header: HeaderLayout::new(config)?,
            cell: CellLayout::new(config)?,
        })
    }

    /// Bytes on the wire for a query whose content (reply preamble
    /// included) is `content_len` bytes: the same at every hop.
    pub fn frame_len(&self, content_len: u64) -> u64 {
        self.header.header_len() as u64
            + self.cell.cells_for(content_len) * self.cell.cell_size() as u64
    }

    /// Bytes on the wire for a reply of `payload_len` bytes: the same at
    /// every hop of the reply route (reply cells carry a link entry, so
    /// fewer payload bytes per cell; see [`CellLayout::reply`]).
    pub fn reply_frame_len(&self, payload_len: u64) -> u64 {
        self.header.header_len() as u64
            + self.cell.reply().cells_for(payload_len) * self.cell.cell_size() as u64
    }
}
