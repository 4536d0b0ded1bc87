//! [`CellReader`]: sealed cells in, payload bytes out, as an `ExtRead`
//! layer.

use std::io::{self, Read};

use readwrite_comp::ExtRead;

use super::{CellError, OpenCell};

/// Where a cell stream is in its message.
#[derive(Clone, Debug)]
pub(crate) enum StreamState {
    /// Cells of the message still to come.
    Body,
    /// The last cell was taken; its bytes may still be served.
    Last,
    /// A cell failed: the stream is unusable, every call repeats the error.
    Failed(CellError),
}

/// Reads exactly one cell into `cell`, resuming at `*have`. Reads no byte
/// past the cell, so what follows the message stays in `r`. `Ok(false)`
/// means `r` ended exactly at a cell boundary.
pub(crate) fn fill_cell(r: &mut dyn Read, cell: &mut [u8], have: &mut usize) -> io::Result<bool> {
    while *have < cell.len() {
        match r.read(&mut cell[*have..]) {
            Ok(0) if *have == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => *have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    *have = 0;
    Ok(true)
}

/// Checks and opens cells with an [`OpenCell`] (the exit's, or the sender's
/// reply opener) and serves their payload.
///
/// Holds one cell. A stream that ends before the last cell, or inside a
/// cell, is `CellError::Truncated`; a cell that does not verify is
/// `CellError::Tampered`; an empty cell before the last (which
/// [`CellWriter`](super::CellWriter) never seals) is `CellError::BadInfo`;
/// each comes inside the `io::Error` and leaves the reader failed.
/// Resumable after `WouldBlock`.
pub struct CellReader<O> {
    opener: O,
    cell: Vec<u8>,
    /// Bytes of the current cell read so far.
    have: usize,
    /// Payload of the opened cell not yet served.
    data: std::ops::Range<usize>,
    state: StreamState,
    /// Index of the next cell, for errors.
    cells: u64,
}

impl<O: OpenCell> CellReader<O> {
    /// A reader opening with `opener`.
    pub fn new(opener: O) -> Self {
        let cell = vec![0; opener.layout().cell_size()];
        CellReader {
            opener,
            cell,
            have: 0,
            data: 0..0,
            state: StreamState::Body,
            cells: 0,
        }
    }

    fn fail(&mut self, e: CellError) -> io::Error {
        self.state = StreamState::Failed(e.clone());
        e.into()
    }

    /// Reads and opens the next cell. Call only in `Body` with no data left.
    fn next_cell(&mut self, r: &mut dyn Read) -> io::Result<()> {
        let complete = match fill_cell(r, &mut self.cell, &mut self.have) {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => false,
            Err(e) => return Err(e),
        };
        if !complete {
            let cell = self.cells;
            return Err(self.fail(CellError::Truncated { cell }));
        }
        self.cells += 1;
        match self.opener.open(&mut self.cell) {
            // The writer never seals an empty cell but the last: a stream
            // of them would cost this reader an AEAD open each for nothing.
            Ok(info) if info.data_len == 0 && !info.last => {
                let cell = self.cells - 1;
                Err(self.fail(CellError::BadInfo { cell }))
            }
            Ok(info) => {
                self.data = self.opener.layout().data_range(info.data_len);
                if info.last {
                    self.state = StreamState::Last;
                }
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }
}

impl<O: OpenCell> ExtRead for CellReader<O> {
    /// Cells have no header of their own (the tunnel header precedes them).
    fn read_header(&mut self, _r: &mut dyn Read) -> io::Result<()> {
        Ok(())
    }

    fn read_from(&mut self, r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.data.is_empty() {
                let n = buf.len().min(self.data.len());
                buf[..n].copy_from_slice(&self.cell[self.data.start..self.data.start + n]);
                self.data.start += n;
                return Ok(n);
            }
            match &self.state {
                StreamState::Failed(e) => return Err(e.clone().into()),
                StreamState::Last => return Ok(0),
                StreamState::Body => self.next_cell(r)?,
            }
        }
    }

    fn read_end(&mut self, r: &mut dyn Read) -> io::Result<()> {
        loop {
            self.data = 0..0;
            match &self.state {
                StreamState::Failed(e) => return Err(e.clone().into()),
                StreamState::Last => {
                    self.state = StreamState::Body;
                    return Ok(());
                }
                StreamState::Body => self.next_cell(r)?,
            }
        }
    }
}
