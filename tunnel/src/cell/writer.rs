//! [`CellWriter`]: payload bytes in, sealed cells out, as an `ExtWrite`
//! layer.

use std::io::{self, Write};

use readwrite_comp::ExtWrite;

use super::SealCell;

/// Cuts a message of any length into cells and seals them with a
/// [`SealCell`] (the sender's onion or an exit's reply).
///
/// Holds one cell: payload accumulates in its data area, and a full cell is
/// sealed only when more payload comes or the message ends, so a payload of
/// exactly one cell is one cell on the wire. `flush_into` sends a partial
/// cell padded (one cell per flush). Resumable after `WouldBlock` as
/// readwrite-comp's contract says; the cell counter runs on across messages
/// so nonces never repeat.
pub struct CellWriter<S> {
    sealer: S,
    cell: Vec<u8>,
    /// Payload bytes in the current cell.
    fill: usize,
    /// Bytes of a sealed cell already written out, while one is pending.
    pending: Option<usize>,
    /// `write_end` sealed the last cell; it may still be pending.
    end_sealed: bool,
}

impl<S: SealCell> CellWriter<S> {
    /// A writer sealing with `sealer`.
    pub fn new(sealer: S) -> Self {
        let cell = vec![0; sealer.layout().cell_size()];
        CellWriter {
            sealer,
            cell,
            fill: 0,
            pending: None,
            end_sealed: false,
        }
    }

    /// The sealer.
    pub fn sealer(&self) -> &S {
        &self.sealer
    }

    fn seal(&mut self, last: bool) -> io::Result<()> {
        debug_assert!(self.pending.is_none());
        self.sealer.seal(&mut self.cell, self.fill, last)?;
        self.fill = 0;
        self.pending = Some(0);
        Ok(())
    }

    /// Writes out the pending sealed cell, if any.
    fn drain(&mut self, w: &mut dyn Write) -> io::Result<()> {
        while let Some(pos) = self.pending {
            match w.write(&self.cell[pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) if pos + n == self.cell.len() => self.pending = None,
                Ok(n) => self.pending = Some(pos + n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<S: SealCell> ExtWrite for CellWriter<S> {
    /// Cells have no header of their own (the tunnel header precedes them).
    fn write_header(&mut self, _w: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn write_into(&mut self, w: &mut dyn Write, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.drain(w)?;
        let capacity = self.sealer.layout().data_capacity();
        if self.fill == capacity {
            self.seal(false)?;
            self.drain(w)?;
        }
        let take = buf.len().min(capacity - self.fill);
        let at = self.sealer.layout().data_range(self.fill).end;
        self.cell[at..at + take].copy_from_slice(&buf[..take]);
        self.fill += take;
        Ok(take)
    }

    fn flush_into(&mut self, w: &mut dyn Write) -> io::Result<()> {
        self.drain(w)?;
        if self.fill > 0 && !self.end_sealed {
            self.seal(false)?;
            self.drain(w)?;
        }
        w.flush()
    }

    fn write_end(&mut self, w: &mut dyn Write) -> io::Result<()> {
        self.drain(w)?;
        if !self.end_sealed {
            self.seal(true)?;
            self.end_sealed = true;
            self.drain(w)?;
        }
        self.end_sealed = false;
        Ok(())
    }
}
