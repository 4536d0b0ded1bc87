//! The limiter: marks the end of a message of unknown length inside a
//! continuous byte stream.

use crate::{ChunkMode, ChunkR, ChunkW, ExtRead, ExtWrite, NoCipher};
use std::io::{self, Read, Write};

/// Writes a message as length-prefixed chunks of at most `max_chunk` bytes
/// with an end marker: the chunk framing with [`NoCipher`].
///
/// Overhead: 4 bytes per chunk, plus one empty end chunk only when the
/// message is empty.
///
/// ```
/// use readwrite_comp::{CompW, LimiterW};
/// use std::io::Write;
///
/// let mut w = CompW::new(Vec::new(), LimiterW::new(1024)?);
/// w.write_all(b"first")?;
/// w.write_end()?;
/// w.write_all(b"second")?;
/// w.write_end()?;
/// assert_eq!(w.get_ref().len(), 4 + 5 + 4 + 6);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct LimiterW(ChunkW<NoCipher>);

impl LimiterW {
    /// A limiter cutting messages in chunks of at most `max_chunk` bytes
    /// (`InvalidInput` unless in `1..=MAX_CHUNK_LEN`).
    pub fn new(max_chunk: usize) -> io::Result<Self> {
        ChunkW::new(NoCipher, ChunkMode::Variable { max_chunk }).map(LimiterW)
    }
}

impl ExtWrite for LimiterW {
    fn write_header(&mut self, w: &mut dyn Write) -> io::Result<()> {
        self.0.write_header(w)
    }
    fn write_into(&mut self, w: &mut dyn Write, buf: &[u8]) -> io::Result<usize> {
        self.0.write_into(w, buf)
    }
    fn flush_into(&mut self, w: &mut dyn Write) -> io::Result<()> {
        self.0.flush_into(w)
    }
    fn write_end(&mut self, w: &mut dyn Write) -> io::Result<()> {
        self.0.write_end(w)
    }
}

/// Reads a message written by [`LimiterW`], stopping exactly at its end:
/// the bytes that follow in the inner stream are never read.
///
/// ```
/// use readwrite_comp::{CompR, CompW, LimiterR, LimiterW};
/// use std::io::{Read, Write};
///
/// let mut w = CompW::new(Vec::new(), LimiterW::new(1024)?);
/// w.write_all(b"hello")?;
/// w.write_end()?;
/// let mut wire = w.into_inner();
/// wire.extend_from_slice(b"next");
///
/// let mut r = CompR::new(&wire[..], LimiterR::new(1024)?);
/// let mut msg = Vec::new();
/// r.read_to_end(&mut msg)?; // Ok(0) at the end of the message
/// r.read_end()?;
/// assert_eq!(msg, b"hello");
/// assert_eq!(r.into_inner(), b"next");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct LimiterR(ChunkR<NoCipher>);

impl LimiterR {
    /// A limiter reader refusing chunks longer than `max_chunk` (before
    /// reading them); `InvalidInput` unless in `1..=MAX_CHUNK_LEN`.
    pub fn new(max_chunk: usize) -> io::Result<Self> {
        ChunkR::new(NoCipher, ChunkMode::Variable { max_chunk }).map(LimiterR)
    }
}

impl ExtRead for LimiterR {
    fn read_header(&mut self, r: &mut dyn Read) -> io::Result<()> {
        self.0.read_header(r)
    }
    fn read_from(&mut self, r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_from(r, buf)
    }
    fn read_end(&mut self, r: &mut dyn Read) -> io::Result<()> {
        self.0.read_end(r)
    }
}
