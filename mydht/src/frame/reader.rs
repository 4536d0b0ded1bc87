//! Reading frames: a length prefix, then that many bytes.

use std::io::{self, Read};

use mydht_base::{Error, ErrorKind, ErrorLevel, MsgEnc, Result};
use serde::de::DeserializeOwned;

use super::{
    clamp_max_len, decode_frame, io_error, retry, truncated, LEN_PREFIX, RETAINED_CAPACITY,
};

/// The smallest step the body buffer grows by.
const MIN_GROWTH: usize = 4 << 10;

#[derive(Debug)]
enum State {
    /// Reading the length prefix; `read` bytes of it are in.
    Prefix { read: usize },
    /// Reading a body of `len` bytes.
    Body { len: usize },
    /// A whole frame was returned; the next call starts the next frame.
    Done,
    /// The stream is out of sync.
    Failed(Error),
}

/// Accumulates one frame at a time from a `Read`, across `WouldBlock`s.
///
/// It never reads past the end of the current frame, so an attachment (or
/// anything else) may follow a frame on the same stream. Put it over a
/// buffered stream (a shadow layer is one): it reads the prefix and the body
/// with separate calls.
///
/// ```
/// use mydht::frame::{FrameReader, FrameWriter};
///
/// let mut writer = FrameWriter::new(1024);
/// writer.push_frame(b"hello").unwrap();
/// let mut wire = Vec::new();
/// writer.write_to(&mut wire).unwrap();
///
/// let mut reader = FrameReader::new(1024);
/// let mut stream = &wire[..];
/// assert_eq!(reader.read_frame(&mut stream).unwrap(), Some(&b"hello"[..]));
/// // The stream ended cleanly, between two frames.
/// assert_eq!(reader.read_frame(&mut stream).unwrap(), None);
/// ```
#[derive(Debug)]
pub struct FrameReader {
    max_len: usize,
    state: State,
    prefix: [u8; LEN_PREFIX],
    /// Grows as bytes arrive (never to a claimed length up front); kept
    /// between frames up to `RETAINED_CAPACITY`.
    body: Vec<u8>,
    /// Bytes of this frame received into `body` (the rest is room).
    filled: usize,
}

impl FrameReader {
    /// A reader of frames of at most `max_len` bytes (clamped to `u32::MAX`).
    pub fn new(max_len: usize) -> Self {
        FrameReader {
            max_len: clamp_max_len(max_len),
            state: State::Prefix { read: 0 },
            prefix: [0; LEN_PREFIX],
            body: Vec::new(),
            filled: 0,
        }
    }

    /// The maximum frame length.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// True when a frame has started and is not complete yet.
    pub fn in_frame(&self) -> bool {
        match self.state {
            State::Prefix { read } => read > 0,
            State::Body { .. } => true,
            State::Done | State::Failed(_) => false,
        }
    }

    /// Reads until a whole frame is in and returns its body, or `None` when
    /// the stream ended cleanly between two frames.
    ///
    /// Errors: `Io(WouldBlock)` (level `Ignore`: call again when the stream
    /// is readable, nothing is lost); `TooLarge` for a length prefix over
    /// the maximum, `Io(UnexpectedEof)` for a truncated frame, or the
    /// stream's own error, all with level `ShutDown`.
    pub fn read_frame<R: Read>(&mut self, r: &mut R) -> Result<Option<&[u8]>> {
        loop {
            match self.state {
                State::Failed(ref e) => return Err(e.clone()),
                State::Done => self.start_next(),
                State::Prefix { read } => {
                    let n = match retry(|| r.read(&mut self.prefix[read..])) {
                        Ok(n) => n,
                        Err(e) => return Err(self.fail_io(e)),
                    };
                    if n == 0 {
                        if read == 0 {
                            return Ok(None);
                        }
                        return Err(
                            self.fail(truncated("frame length", (LEN_PREFIX - read) as u64))
                        );
                    }
                    if read + n < LEN_PREFIX {
                        self.state = State::Prefix { read: read + n };
                        continue;
                    }
                    let len = u32::from_be_bytes(self.prefix) as usize;
                    if len > self.max_len {
                        return Err(self.fail(Error::new(
                            ErrorKind::TooLarge,
                            ErrorLevel::ShutDown,
                            format!("frame of {len} bytes over the maximum {}", self.max_len),
                        )));
                    }
                    self.state = State::Body { len };
                }
                State::Body { len } => {
                    if self.filled == len {
                        self.state = State::Done;
                        return Ok(Some(&self.body[..len]));
                    }
                    if self.filled == self.body.len() {
                        // Double what we hold, at most up to the frame's end:
                        // memory stays within twice the bytes received.
                        let step = self.filled.max(MIN_GROWTH).min(len - self.filled);
                        self.body.resize(self.filled + step, 0);
                    }
                    // Room kept from an earlier frame may go past this one.
                    let end = len.min(self.body.len());
                    let n = match retry(|| r.read(&mut self.body[self.filled..end])) {
                        Ok(n) => n,
                        Err(e) => return Err(self.fail_io(e)),
                    };
                    if n == 0 {
                        return Err(self.fail(truncated("frame", (len - self.filled) as u64)));
                    }
                    self.filled += n;
                }
            }
        }
    }

    /// Reads one frame and decodes it as an `M` with `enc`; `None` when the
    /// stream ended cleanly between two frames.
    ///
    /// Errors: those of [`read_frame`](Self::read_frame), and the encoder's
    /// `Decode` error with level `ShutDown` (a peer that sends a frame we
    /// cannot decode is not followed any further).
    pub fn read_msg<M: DeserializeOwned, E: MsgEnc, R: Read>(
        &mut self,
        enc: &E,
        r: &mut R,
    ) -> Result<Option<M>> {
        decode_frame(enc, self.read_frame(r)?)
    }

    fn start_next(&mut self) {
        // The room stays initialised for the next frame: no zeroing again.
        self.body.truncate(RETAINED_CAPACITY);
        if self.body.capacity() > RETAINED_CAPACITY {
            self.body.shrink_to(RETAINED_CAPACITY);
        }
        self.filled = 0;
        self.state = State::Prefix { read: 0 };
    }

    fn fail_io(&mut self, e: io::Error) -> Error {
        let e = io_error(e);
        if e.is_would_block() {
            e
        } else {
            self.fail(e)
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        self.state = State::Failed(e.clone());
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameWriter;

    /// The room kept from a big frame must not let the next, smaller frame
    /// read into what follows it on the stream (an attachment, say).
    #[test]
    fn kept_room_stops_at_the_frame_end() {
        let mut writer = FrameWriter::new(1 << 20);
        writer.push_frame(&[9; 100 << 10]).expect("big");
        writer.push_frame(b"abc").expect("small");
        let mut wire = Vec::new();
        writer.write_to(&mut wire).expect("write");
        wire.extend_from_slice(b"tail");

        let mut reader = FrameReader::new(1 << 20);
        let mut stream = &wire[..];
        let big = reader.read_frame(&mut stream).expect("read").expect("big");
        assert_eq!(big.len(), 100 << 10);
        let small = reader.read_frame(&mut stream).expect("read");
        assert_eq!(small, Some(&b"abc"[..]));
        assert_eq!(stream, b"tail");
    }
}
