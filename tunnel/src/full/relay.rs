//! A relay's outgoing side of one onion: the next header, then the cells
//! transformed one at a time (peeled for a query, wrapped for a reply).

use std::io::{self, Read, Write};

use readwrite_comp::ExtRead;

use crate::cell::{CellProxy, TransformCell};
use crate::header::ProcessedHeader;

/// A relay's outgoing side: the next header, then transformed cells.
pub(super) struct Relay<T> {
    pub(super) next_address: Vec<u8>,
    next: Vec<u8>,
    next_pos: usize,
    pub(super) proxy: CellProxy<T>,
}

impl<T: TransformCell> Relay<T> {
    pub(super) fn new(processed: ProcessedHeader, next: Vec<u8>, transform: T) -> Self {
        Relay {
            next_address: processed.address,
            next,
            next_pos: 0,
            proxy: CellProxy::new(transform),
        }
    }

    pub(super) fn read_from(&mut self, r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
        if self.next_pos < self.next.len() {
            let n = buf.len().min(self.next.len() - self.next_pos);
            buf[..n].copy_from_slice(&self.next[self.next_pos..self.next_pos + n]);
            self.next_pos += n;
            return Ok(n);
        }
        self.proxy.read_from(r, buf)
    }

    pub(super) fn pump(&mut self, r: &mut dyn Read, w: &mut dyn Write) -> io::Result<()> {
        while self.next_pos < self.next.len() {
            match w.write(&self.next[self.next_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.next_pos += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.proxy.pump(r, w)
    }
}
