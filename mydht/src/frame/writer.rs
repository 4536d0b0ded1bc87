//! Writing frames: encode into a buffer, then write it out as the stream
//! allows.

use std::io::{self, Write};

use mydht_base::{Error, ErrorKind, ErrorLevel, MsgEnc, Result};
use readwrite_comp::{CompW, ExtWrite};
use serde::Serialize;

use super::{clamp_max_len, io_error, retry, LEN_PREFIX, RETAINED_CAPACITY};

/// Encodes messages into frames and writes them to a `Write`, resumable on
/// `WouldBlock` (it keeps its position).
///
/// Frames pushed while earlier ones are still pending are written in one
/// go; a push is refused while [`max_len`](Self::max_len) bytes or more are
/// pending, so the buffer holds at most two frames.
///
/// ```
/// use mydht::frame::{FrameReader, FrameWriter};
/// use mydht::msgenc::Bincode;
///
/// let enc = Bincode::new();
/// let mut writer = FrameWriter::new(1024);
/// writer.push_msg(&enc, &("ping", 7u32)).unwrap();
/// let mut wire = Vec::new();
/// writer.write_to(&mut wire).unwrap();
/// assert_eq!(writer.pending(), 0);
///
/// let mut reader = FrameReader::new(1024);
/// let msg: Option<(String, u32)> = reader.read_msg(&enc, &mut &wire[..]).unwrap();
/// assert_eq!(msg, Some(("ping".to_string(), 7)));
/// ```
#[derive(Debug)]
pub struct FrameWriter {
    max_len: usize,
    /// Frames not yet fully written, from `written` on.
    buf: Vec<u8>,
    written: usize,
    failed: Option<Error>,
}

impl FrameWriter {
    /// A writer of frames of at most `max_len` bytes (clamped to `u32::MAX`).
    pub fn new(max_len: usize) -> Self {
        FrameWriter {
            max_len: clamp_max_len(max_len),
            buf: Vec::new(),
            written: 0,
            failed: None,
        }
    }

    /// The maximum frame length.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Bytes pushed and not yet written.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.written
    }

    /// Encodes `m` with `enc` into a new frame, written by the next
    /// [`write_to`](Self::write_to).
    ///
    /// Errors, all with level `Ignore` (nothing was queued, the stream is
    /// still in sync): the encoder's `Encode` error, `TooLarge` for a
    /// message that encodes over the maximum, `ChannelFull` while
    /// `max_len` bytes or more are pending (write them first).
    pub fn push_msg<M: Serialize, E: MsgEnc>(&mut self, enc: &E, m: &M) -> Result<()> {
        let start = self.begin_frame()?;
        if let Err(e) = enc.encode(m, &mut self.buf) {
            self.buf.truncate(start);
            return Err(e);
        }
        self.end_frame(start)
    }

    /// Encodes `m` with `enc` straight through `stream`'s layer, which
    /// seals the bytes where they land and holds what the stream does not
    /// take now ([`CompW::hold`]): a big message is not copied into this
    /// writer's buffer first. Frames pushed before go first. A layer that
    /// cannot hold gets the frame as [`push_msg`](Self::push_msg) queues it.
    ///
    /// Never returns `WouldBlock`: the caller bounds what the layer holds
    /// (write it out with [`CompW::write_held`] or a flush while
    /// [`CompW::held`] is large), so it holds at most that and one frame.
    ///
    /// Errors: as [`push_msg`](Self::push_msg) (level `Ignore`, nothing
    /// written) when the message does not encode or is over the maximum,
    /// both found before anything is written; an error of the layer or the
    /// stream, or an encoding that differs from its announced length, has
    /// level `ShutDown` (a frame may be cut) and is returned again by later
    /// calls.
    pub fn push_msg_into<M: Serialize, E: MsgEnc, W: Write, L: ExtWrite>(
        &mut self,
        enc: &E,
        m: &M,
        stream: &mut CompW<W, L>,
    ) -> Result<()> {
        if !stream.layer().can_hold() {
            return self.push_msg(enc, m);
        }
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let len = enc.encoded_len(m)?;
        self.check_len(len)?;
        if self.pending() > 0 {
            let res = stream.hold(&self.buf[self.written..]);
            if let Err(e) = res {
                return Err(self.fail(e));
            }
            self.buf.clear();
            self.written = 0;
        }
        // `len <= max_len <= u32::MAX`: the cast is exact.
        if let Err(e) = stream.hold(&(len as u32).to_be_bytes()) {
            return Err(self.fail(e));
        }
        let mut sink = Held { stream, written: 0 };
        let res = enc.encode_to(m, &mut sink);
        let written = sink.written;
        match res {
            Ok(()) if written == len => Ok(()),
            Ok(()) => Err(self.fail_with(Error::new(
                ErrorKind::Encode,
                ErrorLevel::ShutDown,
                format!("message encoded to {written} bytes, announced {len}"),
            ))),
            Err(e) => Err(self.fail_with(e.with_level(ErrorLevel::ShutDown))),
        }
    }

    /// Queues `bytes` as a new frame; errors as [`push_msg`](Self::push_msg).
    pub fn push_frame(&mut self, bytes: &[u8]) -> Result<()> {
        let start = self.begin_frame()?;
        self.buf.extend_from_slice(bytes);
        self.end_frame(start)
    }

    /// Writes what is pending, then flushes `w`; `Ok` once all of it is
    /// written.
    ///
    /// Errors: `Io(WouldBlock)` (level `Ignore`: call again when the stream
    /// is writable, nothing is lost); any other error of the stream, or
    /// `Io(WriteZero)`, has level `ShutDown` (a frame may be cut in the
    /// middle) and is returned again by later calls.
    pub fn write_to<W: Write>(&mut self, w: &mut W) -> Result<()> {
        self.write_unflushed(w)?;
        if let Err(e) = retry(|| w.flush()) {
            return Err(self.fail(e));
        }
        Ok(())
    }

    /// As [`write_to`](Self::write_to) without the flush: a stream that
    /// buffers (a shadow layer) may keep a tail back. Used while more frames
    /// follow at once, so a shadow's chunks stay full; end with `write_to`.
    pub fn write_unflushed<W: Write>(&mut self, w: &mut W) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        while self.written < self.buf.len() {
            match retry(|| w.write(&self.buf[self.written..])) {
                Ok(0) => {
                    return Err(self.fail(io::Error::from(io::ErrorKind::WriteZero)));
                }
                Ok(n) => self.written += n,
                Err(e) => return Err(self.fail(e)),
            }
        }
        self.buf.clear();
        self.written = 0;
        if self.buf.capacity() > RETAINED_CAPACITY {
            self.buf.shrink_to(RETAINED_CAPACITY);
        }
        Ok(())
    }

    /// Makes room for a frame and writes a placeholder prefix; returns where
    /// the frame starts.
    fn begin_frame(&mut self) -> Result<usize> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.pending() >= self.max_len {
            return Err(Error::new(
                ErrorKind::ChannelFull,
                ErrorLevel::Ignore,
                format!("{} frame bytes pending: write them first", self.pending()),
            ));
        }
        self.buf.drain(..self.written);
        self.written = 0;
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; LEN_PREFIX]);
        Ok(start)
    }

    /// Checks the frame's length and fills in its prefix.
    fn end_frame(&mut self, start: usize) -> Result<()> {
        let len = self.buf.len() - start - LEN_PREFIX;
        if let Err(e) = self.check_len(len) {
            self.buf.truncate(start);
            return Err(e);
        }
        // `len <= max_len <= u32::MAX`: the cast is exact.
        self.buf[start..start + LEN_PREFIX].copy_from_slice(&(len as u32).to_be_bytes());
        Ok(())
    }

    /// `TooLarge` (level `Ignore`) for a frame body over the maximum.
    fn check_len(&self, len: usize) -> Result<()> {
        if len > self.max_len {
            return Err(Error::new(
                ErrorKind::TooLarge,
                ErrorLevel::Ignore,
                format!(
                    "message of {len} bytes over the frame maximum {}",
                    self.max_len
                ),
            ));
        }
        Ok(())
    }

    fn fail(&mut self, e: io::Error) -> Error {
        let e = io_error(e);
        if e.is_would_block() {
            return e;
        }
        self.fail_with(e)
    }

    fn fail_with(&mut self, e: Error) -> Error {
        self.failed = Some(e.clone());
        e
    }
}

/// What an encoder writes to in [`FrameWriter::push_msg_into`]: the
/// stream's layer, holding; counts the bytes.
struct Held<'a, W: Write, L: ExtWrite> {
    stream: &'a mut CompW<W, L>,
    written: usize,
}

impl<W: Write, L: ExtWrite> Write for Held<'_, W, L> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.hold(buf)?;
        self.written += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use readwrite_comp::chunk::CHUNK_HEADER_LEN;
    use readwrite_comp::{ChunkMode, ChunkR, ChunkW, CompR, CompW, NoCipher};

    use super::*;
    use crate::frame::FrameReader;

    const MODE: ChunkMode = ChunkMode::Variable { max_chunk: 64 };

    /// Unflushed writes leave a shadow's partial chunk open for the frames
    /// that follow (only full chunks reach the wire); `write_to` then
    /// pushes the rest out, and every frame reads back.
    #[test]
    fn unflushed_writes_keep_chunks_full() {
        let mut stream = CompW::new(Vec::new(), ChunkW::new(NoCipher, MODE).expect("chunks"));
        let mut writer = FrameWriter::new(1024);
        let frames: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 50]).collect();
        for f in &frames[..7] {
            writer.push_frame(f).expect("push");
            writer.write_unflushed(&mut stream).expect("write");
        }
        let full_chunk = CHUNK_HEADER_LEN + 64;
        // 7 frames of 54 bytes: five full chunks and 58 bytes; the chunk
        // writer sends its sealed chunks four at a time, the rest is kept.
        assert_eq!(stream.get_ref().len(), 4 * full_chunk);
        for f in &frames[7..] {
            writer.push_frame(f).expect("push");
        }
        writer.write_to(&mut stream).expect("write and flush");
        // 540 bytes: eight full chunks and a last one of 28.
        assert_eq!(
            stream.get_ref().len(),
            8 * full_chunk + CHUNK_HEADER_LEN + 28
        );

        let wire = stream.into_inner();
        let mut r = CompR::new(&wire[..], ChunkR::new(NoCipher, MODE).expect("chunks"));
        let mut reader = FrameReader::new(1024);
        for f in &frames {
            assert_eq!(reader.read_frame(&mut r).expect("read"), Some(&f[..]));
        }
        assert!(r.get_ref().is_empty(), "every byte on the wire read");
    }
}
