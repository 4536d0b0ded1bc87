//! [`CellProxy`]: a relay's cell stream, one cell of buffer, from the
//! previous hop to the next.

use std::io::{self, Read, Write};

use readwrite_comp::ExtRead;

use super::reader::{fill_cell, StreamState};
use super::{CellEnd, CellError, TransformCell};

/// Moves cells of one message from the previous hop to the next through a
/// [`TransformCell`] ([`CellPeeler`](super::CellPeeler) or
/// [`ReplyCellWrapper`](super::ReplyCellWrapper)), holding one cell.
///
/// Use [`pump`](CellProxy::pump) to stream straight into the next hop's
/// writer, or read transformed cell bytes through `ExtRead` to stack other
/// layers on the outgoing side. A cell that does not verify is
/// `CellError::Tampered`; a stream cut inside a cell or before the last cell
/// is `CellError::Truncated`. Nothing of a bad cell is
/// ever forwarded. Resumable after `WouldBlock`.
pub struct CellProxy<T> {
    transform: T,
    cell: Vec<u8>,
    /// Bytes of the incoming cell read so far.
    have: usize,
    /// Transformed bytes not yet handed on.
    out: std::ops::Range<usize>,
    state: StreamState,
    /// Cells transformed, for errors and statistics.
    cells: u64,
}

impl<T: TransformCell> CellProxy<T> {
    /// A proxy transforming with `transform`.
    pub fn new(transform: T) -> Self {
        let cell = vec![0; transform.layout().cell_size()];
        CellProxy {
            transform,
            cell,
            have: 0,
            out: 0..0,
            state: StreamState::Body,
            cells: 0,
        }
    }

    /// Cells transformed since creation.
    pub fn cells(&self) -> u64 {
        self.cells
    }

    fn fail(&mut self, e: CellError) -> io::Error {
        self.state = StreamState::Failed(e.clone());
        e.into()
    }

    /// Makes the next transformed cell ready in `out`, or moves to `Last`
    /// when the incoming stream ends cleanly. Call in `Body` with `out`
    /// empty.
    fn next_cell(&mut self, r: &mut dyn Read) -> io::Result<()> {
        let complete = match fill_cell(r, &mut self.cell, &mut self.have) {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                let cell = self.cells;
                return Err(self.fail(CellError::Truncated { cell }));
            }
            Err(e) => return Err(e),
        };
        if !complete {
            // Only a cell flagged last ends the message cleanly.
            let cell = self.cells;
            return Err(self.fail(CellError::Truncated { cell }));
        }
        match self.transform.transform(&mut self.cell) {
            Ok(end) => {
                self.cells += 1;
                self.out = 0..self.cell.len();
                if end == CellEnd::Last {
                    self.state = StreamState::Last;
                }
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Streams the rest of the message from `r` to `w`; `Ok` once the last
    /// cell is written (not flushed). On `WouldBlock` from either side,
    /// call again.
    pub fn pump(&mut self, r: &mut dyn Read, w: &mut dyn Write) -> io::Result<()> {
        loop {
            while !self.out.is_empty() {
                match w.write(&self.cell[self.out.clone()]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => self.out.start += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            match &self.state {
                StreamState::Failed(e) => return Err(e.clone().into()),
                StreamState::Last => {
                    self.reset();
                    return Ok(());
                }
                StreamState::Body => self.next_cell(r)?,
            }
        }
    }

    /// Ready for the next message on the same keys.
    fn reset(&mut self) {
        self.state = StreamState::Body;
    }
}

impl<T: TransformCell> ExtRead for CellProxy<T> {
    /// Cells have no header of their own (the tunnel header precedes them).
    fn read_header(&mut self, _r: &mut dyn Read) -> io::Result<()> {
        Ok(())
    }

    /// Reads transformed cell bytes; `Ok(0)` after the last cell.
    fn read_from(&mut self, r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.out.is_empty() {
                let n = buf.len().min(self.out.len());
                buf[..n].copy_from_slice(&self.cell[self.out.start..self.out.start + n]);
                self.out.start += n;
                return Ok(n);
            }
            match &self.state {
                StreamState::Failed(e) => return Err(e.clone().into()),
                StreamState::Last => return Ok(0),
                StreamState::Body => self.next_cell(r)?,
            }
        }
    }

    /// Discards the rest of the message (still checking every cell).
    fn read_end(&mut self, r: &mut dyn Read) -> io::Result<()> {
        loop {
            self.out = 0..0;
            match &self.state {
                StreamState::Failed(e) => return Err(e.clone().into()),
                StreamState::Last => {
                    self.reset();
                    return Ok(());
                }
                StreamState::Body => self.next_cell(r)?,
            }
        }
    }
}
