//! Reading frames from a stream that carries nothing else: read ahead,
//! return frames in place.

use std::io::Read;

use mydht_base::{Error, ErrorKind, ErrorLevel, MsgEnc, Result};
use serde::de::DeserializeOwned;

use super::{clamp_max_len, decode_frame, io_error, retry, truncated, LEN_PREFIX};
use crate::shadow::{DEFAULT_MAX_CHUNK, SESSION_TAG_LEN};

/// The smallest step the buffer grows by.
const MIN_GROWTH: usize = 4 << 10;

/// What the buffer grows to for frames smaller than it, and keeps between
/// frames: eight reads' room, so the partial frame at its end moves to the
/// front about once every eight reads.
const READ_AHEAD: usize = 8 * READ_ROOM;

/// Free room wanted before a read: a default shadow chunk with its tag and
/// the next chunk's header, so the shadow opens it straight in this buffer
/// instead of copying it from its own.
const READ_ROOM: usize = DEFAULT_MAX_CHUNK + SESSION_TAG_LEN + LEN_PREFIX;

/// Accumulates frames from a `Read` across `WouldBlock`s, reading as much
/// as the stream gives (up to its buffer) rather than one frame at a time;
/// a frame is returned as a slice of that buffer.
///
/// For a stream that carries only frames, such as an authenticated
/// connection's shadow: bytes after the current frame are read and kept for
/// the next call, so nothing else (an attachment) can follow a frame, and
/// [`FrameReader`](super::FrameReader) is the reader to use then. Over a
/// shadow this saves a copy per byte: each chunk is opened straight in this
/// buffer, where the frames are then decoded.
///
/// Bounds are [`FrameReader`](super::FrameReader)'s: a length prefix over
/// the maximum is refused before anything is allocated for it, and the
/// buffer grows only while at least half of it holds received bytes, to at
/// most the frame maximum plus the room of one read; it keeps at most about
/// 512 KiB between frames. Memory is taken on the first read, and a buffer
/// grown past 4 KiB is given back when the stream has nothing more
/// (`WouldBlock`) right after a small frame, with nothing of the next one
/// held: a connection whose bulk transfer is over, or that only ever
/// carried small messages, holds at most 4 KiB here while idle; one
/// carrying large frames keeps its buffer.
///
/// ```
/// use mydht::frame::{BufferedFrameReader, FrameWriter};
///
/// let mut writer = FrameWriter::new(1024);
/// writer.push_frame(b"hello").unwrap();
/// writer.push_frame(b"world").unwrap();
/// let mut wire = Vec::new();
/// writer.write_to(&mut wire).unwrap();
///
/// let mut reader = BufferedFrameReader::new(1024);
/// let mut stream = &wire[..];
/// assert_eq!(reader.read_frame(&mut stream).unwrap(), Some(&b"hello"[..]));
/// // Already read with the first one.
/// assert_eq!(reader.read_frame(&mut stream).unwrap(), Some(&b"world"[..]));
/// assert_eq!(reader.read_frame(&mut stream).unwrap(), None);
/// ```
#[derive(Debug)]
pub struct BufferedFrameReader {
    max_len: usize,
    /// Bytes received are `buf[start..end]`; the rest is room.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Length (prefix included) of the frame returned last, consumed at
    /// the next call: the caller borrowed it until then.
    returned: usize,
    /// The frame returned last was small (at most [`MIN_GROWTH`] bytes).
    small: bool,
    failed: Option<Error>,
}

impl BufferedFrameReader {
    /// A reader of frames of at most `max_len` bytes (clamped to `u32::MAX`).
    pub fn new(max_len: usize) -> Self {
        BufferedFrameReader {
            max_len: clamp_max_len(max_len),
            buf: Vec::new(),
            start: 0,
            end: 0,
            returned: 0,
            small: true,
            failed: None,
        }
    }

    /// The maximum frame length.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Reads until a whole frame is in and returns its body, or `None` when
    /// the stream ended cleanly between two frames.
    ///
    /// Errors as [`FrameReader::read_frame`](super::FrameReader::read_frame):
    /// `Io(WouldBlock)` (level `Ignore`: call again when the stream is
    /// readable, nothing is lost); `TooLarge`, `Io(UnexpectedEof)` or the
    /// stream's own error, all with level `ShutDown`, and returned again by
    /// later calls.
    pub fn read_frame<R: Read>(&mut self, r: &mut R) -> Result<Option<&[u8]>> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.start += std::mem::take(&mut self.returned);
        loop {
            let held = self.end - self.start;
            let need = match self.frame_len()? {
                Some(len) if held >= LEN_PREFIX + len => {
                    self.returned = LEN_PREFIX + len;
                    self.small = self.returned <= MIN_GROWTH;
                    let body = self.start + LEN_PREFIX;
                    return Ok(Some(&self.buf[body..body + len]));
                }
                Some(len) => LEN_PREFIX + len,
                None => LEN_PREFIX,
            };
            self.make_room(need);
            let n = match retry(|| r.read(&mut self.buf[self.end..])) {
                Ok(n) => n,
                Err(e) => {
                    let e = io_error(e);
                    if e.is_would_block() {
                        self.blocked();
                    }
                    return Err(self.fail(e));
                }
            };
            if n == 0 {
                if held == 0 {
                    return Ok(None);
                }
                let what = if held < LEN_PREFIX {
                    "frame length"
                } else {
                    "frame"
                };
                return Err(self.fail(truncated(what, (need - held) as u64)));
            }
            self.end += n;
        }
    }

    /// Reads one frame and decodes it as an `M` with `enc`; `None` when the
    /// stream ended cleanly between two frames. Errors as
    /// [`FrameReader::read_msg`](super::FrameReader::read_msg).
    pub fn read_msg<M: DeserializeOwned, E: MsgEnc, R: Read>(
        &mut self,
        enc: &E,
        r: &mut R,
    ) -> Result<Option<M>> {
        decode_frame(enc, self.read_frame(r)?)
    }

    /// Consumes the frame returned last and hands over the bytes read
    /// after it: what follows that frame on the stream and was already
    /// read (a stream announced by the frame, for example). The reader is
    /// left empty; [`put_back`](Self::put_back) returns what its taker did
    /// not use.
    pub fn take_read_ahead(&mut self) -> Vec<u8> {
        self.start += std::mem::take(&mut self.returned);
        let ahead = self.buf[self.start..self.end].to_vec();
        self.start = 0;
        self.end = 0;
        ahead
    }

    /// Puts bytes back in front of what the reader holds: the unused part
    /// of what [`take_read_ahead`](Self::take_read_ahead) gave, read before
    /// anything else the stream gives.
    pub fn put_back(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.start += std::mem::take(&mut self.returned);
        let held = self.end - self.start;
        let mut buf = Vec::with_capacity((bytes.len() + held).max(self.buf.len()));
        buf.extend_from_slice(bytes);
        buf.extend_from_slice(&self.buf[self.start..self.end]);
        self.end = buf.len();
        self.start = 0;
        buf.resize(buf.capacity(), 0);
        self.buf = buf;
    }

    /// The length of the frame at `start`, once its prefix is in; checked
    /// against the maximum before anything is read or allocated for it.
    fn frame_len(&mut self) -> Result<Option<usize>> {
        if self.end - self.start < LEN_PREFIX {
            return Ok(None);
        }
        let mut prefix = [0; LEN_PREFIX];
        prefix.copy_from_slice(&self.buf[self.start..self.start + LEN_PREFIX]);
        let len = u32::from_be_bytes(prefix) as usize;
        if len > self.max_len {
            return Err(self.fail(Error::new(
                ErrorKind::TooLarge,
                ErrorLevel::ShutDown,
                format!("frame of {len} bytes over the maximum {}", self.max_len),
            )));
        }
        Ok(Some(len))
    }

    /// Makes room to read more of a frame of `need` bytes (prefix included)
    /// starting at `start`.
    fn make_room(&mut self, need: usize) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > READ_AHEAD {
                // Room grown for a big frame is released after it.
                self.buf.truncate(READ_AHEAD);
                self.buf.shrink_to(READ_AHEAD);
            }
        }
        let fits =
            |len: usize, start: usize, end: usize| len - end >= READ_ROOM && start + need <= len;
        if fits(self.buf.len(), self.start, self.end) {
            return;
        }
        // Grow while at least half full of received bytes (a peer pays in
        // sent bytes for the memory it makes us hold), up to the read-ahead
        // size or what this frame needs: a large buffer moves its partial
        // frame to the front rarely.
        let cap = READ_AHEAD.max(need + READ_ROOM);
        let len = self.buf.len();
        if len < cap && self.end >= len / 2 {
            let grown = (len * 2).max(MIN_GROWTH).min(cap);
            self.buf.resize(grown, 0);
            if fits(grown, self.start, self.end) {
                return;
            }
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// The stream has nothing more now: after a small frame, with nothing
    /// of the next held, a buffer grown past [`MIN_GROWTH`] is given back.
    fn blocked(&mut self) {
        if self.small && self.start == self.end && self.buf.len() > MIN_GROWTH {
            self.start = 0;
            self.end = 0;
            self.buf.truncate(MIN_GROWTH);
            self.buf.shrink_to_fit();
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        if !e.is_would_block() {
            self.failed = Some(e.clone());
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use readwrite_comp::testing::{FaultPlan, FaultyReader};

    use super::*;
    use crate::frame::FrameWriter;

    fn wire(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut writer = FrameWriter::new(1 << 20);
        for f in frames {
            writer.push_frame(f).expect("push");
        }
        let mut wire = Vec::new();
        writer.write_to(&mut wire).expect("write");
        wire
    }

    /// Frames of every size around the buffer's steps come back whole,
    /// whatever the stream cuts and blocks, and the buffer stays bounded.
    #[test]
    fn frames_come_back_through_cut_and_blocked_reads() {
        let sizes = [0, 1, 5000, READ_ROOM, 100 << 10, 3, 300 << 10, 7, 70 << 10];
        let frames: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|j| (i * 31 + j) as u8).collect())
            .collect();
        let wire = wire(&frames);
        for seed in 0..20 {
            let plan = FaultPlan::new().max_io(90_000).seeded(seed, 300);
            let mut stream = FaultyReader::new(&wire[..], plan);
            let mut reader = BufferedFrameReader::new(1 << 20);
            for f in &frames {
                let got = loop {
                    match reader.read_frame(&mut stream) {
                        Err(e) if e.is_would_block() => continue,
                        other => break other.expect("frame").expect("not the end").to_vec(),
                    };
                };
                assert_eq!(&got, f);
                assert!(reader.buf.len() <= READ_AHEAD.max((300 << 10) + LEN_PREFIX + READ_ROOM));
            }
            let end = loop {
                match reader.read_frame(&mut stream) {
                    Err(e) if e.is_would_block() => continue,
                    other => break other.expect("clean end").map(<[u8]>::to_vec),
                }
            };
            assert_eq!(end, None);
        }
    }

    /// The buffer grown for large frames is kept while they come, and
    /// given back when the stream blocks after a small one.
    #[test]
    fn buffer_is_given_back_when_the_stream_quiets_after_small_frames() {
        let big = vec![5; 200 << 10];
        let mut reader = BufferedFrameReader::new(1 << 20);
        assert_eq!(reader.buf.len(), 0);
        let read = |reader: &mut BufferedFrameReader, frames: &[Vec<u8>]| {
            let bytes = wire(frames);
            let plan = FaultPlan::new().block_at([bytes.len() as u64]);
            let mut stream = FaultyReader::new(&bytes[..], plan);
            for f in frames {
                assert_eq!(reader.read_frame(&mut stream).expect("frame"), Some(&f[..]));
            }
            let e = reader.read_frame(&mut stream).expect_err("blocks");
            assert!(e.is_would_block());
        };
        read(&mut reader, &[b"small".to_vec()]);
        assert_eq!(reader.buf.len(), MIN_GROWTH);
        read(&mut reader, &[big.clone(), big.clone()]);
        let grown = reader.buf.len();
        assert!(grown > 200 << 10);
        read(&mut reader, std::slice::from_ref(&big));
        assert_eq!(reader.buf.len(), grown, "kept while large frames come");
        read(&mut reader, &[big, b"small".to_vec()]);
        assert_eq!(reader.buf.len(), MIN_GROWTH);
    }

    /// An oversize prefix is refused before its body is read, and the
    /// reader stays failed.
    #[test]
    fn oversize_prefix_is_refused_up_front() {
        let mut wire = wire(&[b"ok".to_vec()]);
        wire.extend_from_slice(&1000u32.to_be_bytes());
        let mut reader = BufferedFrameReader::new(999);
        let mut stream = &wire[..];
        assert_eq!(
            reader.read_frame(&mut stream).expect("ok"),
            Some(&b"ok"[..])
        );
        let e = reader.read_frame(&mut stream).expect_err("too large");
        assert_eq!(e.kind(), ErrorKind::TooLarge);
        assert!(reader.buf.len() <= MIN_GROWTH);
        assert_eq!(
            reader.read_frame(&mut stream).expect_err("failed").kind(),
            ErrorKind::TooLarge
        );
    }

    /// A claimed length within the maximum gets memory only as its bytes
    /// arrive.
    #[test]
    fn claimed_length_is_not_allocated_up_front() {
        let mut wire = (1u32 << 30).to_be_bytes().to_vec();
        wire.extend_from_slice(&[0; 10]);
        let plan = FaultPlan::new().block_at([wire.len() as u64]);
        let mut stream = FaultyReader::new(&wire[..], plan);
        let mut reader = BufferedFrameReader::new(u32::MAX as usize);
        let e = reader.read_frame(&mut stream).expect_err("blocks");
        assert!(e.is_would_block());
        assert!(reader.buf.len() <= MIN_GROWTH);
    }

    /// Bytes after a frame are handed over whole, and bytes put back are
    /// read before the stream's next ones.
    #[test]
    fn read_ahead_is_taken_and_put_back() {
        let mut bytes = wire(&[b"head".to_vec()]);
        bytes.extend_from_slice(b"raw tail");
        let more = wire(&[b"next".to_vec()]);
        let mut reader = BufferedFrameReader::new(1024);
        let mut stream = &bytes[..];
        assert_eq!(
            reader.read_frame(&mut stream).expect("head"),
            Some(&b"head"[..])
        );
        assert_eq!(reader.take_read_ahead(), b"raw tail");
        assert_eq!(reader.take_read_ahead(), b"");
        let (frame_start, frame_end) = more.split_at(3);
        reader.put_back(frame_start);
        let mut rest = frame_end;
        assert_eq!(
            reader.read_frame(&mut rest).expect("next"),
            Some(&b"next"[..])
        );
        assert_eq!(reader.read_frame(&mut rest).expect("end"), None);
    }

    /// A stream ending inside a frame is a truncation, not a clean end.
    #[test]
    fn truncated_frame_is_unexpected_eof() {
        let wire = wire(&[vec![1; 10]]);
        for cut in 1..wire.len() {
            let mut reader = BufferedFrameReader::new(1024);
            let e = reader.read_frame(&mut &wire[..cut]).expect_err("truncated");
            assert_eq!(
                e.kind(),
                ErrorKind::Io(std::io::ErrorKind::UnexpectedEof),
                "cut at {cut}"
            );
        }
    }
}
