//! [`ChunkR`]: reads sealed chunks back into a message.

use super::mode::{decode_header, Layout};
use super::{ChunkCipher, ChunkMode, CHUNK_HEADER_LEN};
use crate::ExtRead;
use std::fmt;
use std::io::{self, Read};

/// The reading side of the chunk framing (see the [module docs](crate::chunk)).
///
/// Each chunk is read whole into a buffer of one chunk, opened there in
/// place, then handed out; in variable mode, when the caller's buffer holds
/// a whole chunk, the chunk is read and opened directly in it instead (the
/// bytes past the count returned may then be overwritten, by the chunk's tag
/// and the next header). On an error the content of the caller's buffer is
/// unspecified.
///
/// It asks the inner stream for the bytes of the current chunk and, in
/// variable mode when that chunk is not the message's last, for the next
/// chunk's header in the same call (one read per chunk instead of two). So
/// it never reads past the end of a message: what follows stays in the inner
/// stream. It never waits for that next header either: a chunk is opened
/// and handed out as soon as its own bytes are in.
///
/// The chunk buffer is taken as chunks need it: a chunk read straight into
/// the caller's buffer leaves only its tag and the next header in it, and
/// one read through it grows it to that chunk's size. When the inner stream
/// has nothing more (`WouldBlock`) between two chunks, a buffer grown past
/// 4 KiB is given back: an idle connection holds little. A reader told that
/// its stream is pumped ([`ExtRead::keep_buffers`]) keeps it instead (at
/// most one chunk and the next header, what it holds anyway while a chunk
/// arrives), so a stream that blocks between every two chunks does not
/// free and grow (and zero) its buffer for each one.
///
/// A chunk that does not open, or whose length is over the configured
/// maximum (checked before its data is read), is `InvalidData`, after which
/// the reader stays failed. The inner stream ending inside a message is
/// `UnexpectedEof`.
pub struct ChunkR<C> {
    cipher: C,
    layout: Layout,
    /// One chunk as on the wire, then room for the next chunk's header;
    /// grown as chunks need.
    buf: Vec<u8>,
    state: State,
    next_index: u64,
    /// Set once a chunk failed to open: nothing after it can be trusted.
    failed: bool,
    /// The buffer is kept when the stream blocks ([`ExtRead::keep_buffers`]).
    keep: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Variable mode: `got` bytes of the chunk header read.
    Header { got: usize },
    /// `got` bytes of the chunk (header included) read out of `need`; in
    /// variable mode a chunk that is not the last may have `got` up to
    /// `need + CHUNK_HEADER_LEN` (the next header read ahead).
    Body { got: usize, need: usize, last: bool },
    /// Opened data `buf[pos..end]` not yet handed out, then `ahead` bytes of
    /// the next chunk's header at `buf[end_of_chunk..]`.
    Deliver {
        pos: usize,
        end: usize,
        last: bool,
        ahead: Ahead,
    },
    /// The message's last chunk is handed out; `read_end` resets.
    End,
}

/// Bytes a reader keeps when the stream blocks between two chunks; a larger
/// buffer is given back then.
const RETAINED: usize = 4 << 10;

/// Bytes of the next chunk's header read with the current chunk: `len` of
/// them at `buf[at..]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ahead {
    at: usize,
    len: usize,
}

impl<C: ChunkCipher> ChunkR<C> {
    /// A chunk reader opening with `cipher`; `mode` must be the writer's.
    /// `InvalidInput` on the same configurations [`ChunkW::new`](crate::ChunkW::new) refuses.
    pub fn new(cipher: C, mode: ChunkMode) -> io::Result<Self> {
        let layout = Layout::new(mode, cipher.tag_len())?;
        Ok(ChunkR {
            cipher,
            buf: Vec::new(),
            state: Self::first_state(&layout),
            layout,
            next_index: 0,
            failed: false,
            keep: false,
        })
    }

    /// The cipher.
    pub fn cipher(&self) -> &C {
        &self.cipher
    }

    /// Index of the next chunk expected (chunks opened so far).
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// Bytes of buffer the reader holds now.
    pub fn buffer_len(&self) -> usize {
        self.buf.len()
    }

    /// Grows the buffer to at least `end` bytes.
    fn reserve(&mut self, end: usize) {
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
    }

    /// The stream blocked: between two chunks (nothing of a chunk's body
    /// held), a buffer grown past [`RETAINED`] is given back, unless it is
    /// kept ([`ExtRead::keep_buffers`]).
    fn blocked(&mut self) {
        if !self.keep {
            self.give_back();
        }
    }

    /// Between two chunks, gives back a buffer grown past [`RETAINED`].
    fn give_back(&mut self) {
        let between = match self.state {
            State::Header { .. } | State::End => true,
            State::Body { got, .. } => got == 0,
            State::Deliver { .. } => false,
        };
        if between && self.buf.len() > RETAINED {
            self.buf.truncate(RETAINED);
            self.buf.shrink_to_fit();
        }
    }

    fn first_state(layout: &Layout) -> State {
        match layout.cell {
            None => State::Header { got: 0 },
            Some(cell_size) => State::Body {
                got: 0,
                need: cell_size,
                last: false,
            },
        }
    }

    /// How far reads for a chunk of `need` bytes may go: past its end only
    /// for the next header, and only when there is a next chunk (variable
    /// mode, not the last; a cell's last flag is sealed, so unknown).
    fn read_limit(&self, need: usize, last: bool) -> usize {
        if last || self.layout.cell.is_some() {
            need
        } else {
            need + CHUNK_HEADER_LEN
        }
    }

    fn check(&self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunk reader unusable after an invalid chunk",
            ));
        }
        Ok(())
    }

    fn invalid(&mut self, msg: &'static str) -> io::Error {
        self.failed = true;
        io::Error::new(io::ErrorKind::InvalidData, msg)
    }

    /// Reads into `buf[*got..limit]` until at least `need` bytes are in;
    /// never asks for more than `limit`, never waits for more than `need`.
    fn fill(
        buf: &mut [u8],
        got: &mut usize,
        need: usize,
        limit: usize,
        r: &mut dyn Read,
    ) -> io::Result<()> {
        while *got < need {
            match r.read(&mut buf[*got..limit]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "stream ended inside a chunked message",
                    ))
                }
                Ok(n) => *got += n,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads and opens the next chunk: on success the state is `Deliver`.
    fn next_chunk(&mut self, r: &mut dyn Read) -> io::Result<()> {
        if let State::Header { .. } = self.state {
            self.read_chunk_header(r)?;
        }
        if let State::Body { .. } = self.state {
            self.read_chunk_body(r)?;
        }
        Ok(())
    }

    /// Variable mode: reads the chunk header and checks its length.
    fn read_chunk_header(&mut self, r: &mut dyn Read) -> io::Result<()> {
        let State::Header { mut got } = self.state else {
            return Ok(());
        };
        self.reserve(CHUNK_HEADER_LEN);
        let res = Self::fill(
            &mut self.buf,
            &mut got,
            CHUNK_HEADER_LEN,
            CHUNK_HEADER_LEN,
            r,
        );
        self.state = State::Header { got };
        res?;
        let mut h = [0; CHUNK_HEADER_LEN];
        h.copy_from_slice(&self.buf[..CHUNK_HEADER_LEN]);
        let (len, last) = decode_header(h);
        if len > self.layout.capacity {
            return Err(self.invalid("chunk length over the maximum"));
        }
        self.state = State::Body {
            got,
            need: CHUNK_HEADER_LEN + len + self.layout.tag_len,
            last,
        };
        Ok(())
    }

    /// Reads the rest of the chunk into the chunk buffer and opens it there.
    fn read_chunk_body(&mut self, r: &mut dyn Read) -> io::Result<()> {
        let State::Body {
            mut got,
            need,
            last,
        } = self.state
        else {
            return Ok(());
        };
        let limit = self.read_limit(need, last);
        self.reserve(limit);
        let res = Self::fill(&mut self.buf, &mut got, need, limit, r);
        self.state = State::Body { got, need, last };
        res?;
        self.open(need, last, got - need)
    }

    /// Variable-mode fast path, when `out` holds the whole data of the chunk
    /// whose header was just read: the data is read and opened in `out`,
    /// saving the copy through the chunk buffer. The tag and the next header
    /// are read in the same call when `out` has room for them past the data
    /// (then moved to the chunk buffer), else by a second one; in the chunk
    /// buffer they sit right after the header (so it stays small). If the
    /// inner stream stops inside the chunk, what was read moves into the
    /// chunk buffer, laid out as the buffered path reads a chunk (the caller
    /// may come back with another buffer), and that path resumes from
    /// there.
    fn read_direct(
        &mut self,
        r: &mut dyn Read,
        out: &mut [u8],
        need: usize,
        last: bool,
    ) -> io::Result<usize> {
        let tag_len = self.layout.tag_len;
        let len = need - CHUNK_HEADER_LEN - tag_len;
        let limit = self.read_limit(need, last);
        // `out` and the chunk buffer minus its header have one layout:
        // data, tag, next header.
        let wide = out.len() >= limit - CHUNK_HEADER_LEN;
        // The tag and the next header at `buf[CHUNK_HEADER_LEN..tail_end]`.
        let tail_limit = limit - len;
        self.reserve(tail_limit);
        let mut got = 0;
        let mut res = if wide {
            Self::fill(out, &mut got, len + tag_len, limit - CHUNK_HEADER_LEN, r)
        } else {
            Self::fill(out, &mut got, len, len, r)
        };
        let mut tail_end = CHUNK_HEADER_LEN;
        if got > len {
            tail_end += got - len;
            self.buf[CHUNK_HEADER_LEN..tail_end].copy_from_slice(&out[len..got]);
        }
        if res.is_ok() && !wide {
            let need = CHUNK_HEADER_LEN + tag_len;
            res = Self::fill(&mut self.buf, &mut tail_end, need, tail_limit, r);
        }
        if let Err(e) = res {
            self.reserve(limit);
            let data = got.min(len);
            let got = if data < len {
                CHUNK_HEADER_LEN + data
            } else {
                // The tag's first bytes go behind the data.
                let tail = tail_end - CHUNK_HEADER_LEN;
                let at = CHUNK_HEADER_LEN + len;
                self.buf.copy_within(CHUNK_HEADER_LEN..tail_end, at);
                at + tail
            };
            self.buf[CHUNK_HEADER_LEN..CHUNK_HEADER_LEN + data].copy_from_slice(&out[..data]);
            self.state = State::Body { got, need, last };
            return Err(e);
        }
        let data = &mut out[..len];
        let index = self.next_index;
        let (header, rest) = self.buf.split_at(CHUNK_HEADER_LEN);
        let opened = self
            .cipher
            .open(index, last, header, data, &rest[..tag_len]);
        if opened.is_err() {
            return Err(self.invalid("chunk failed to open"));
        }
        self.next_index = index
            .checked_add(1)
            .ok_or_else(|| self.invalid("chunk index exhausted"))?;
        let at = CHUNK_HEADER_LEN + tag_len;
        self.after_chunk(
            last,
            Ahead {
                at,
                len: tail_end - at,
            },
        );
        Ok(len)
    }

    /// Opens the chunk read whole into `buf[..need]`; `ahead` bytes of the
    /// next header follow it.
    fn open(&mut self, need: usize, last: bool, ahead: usize) -> io::Result<()> {
        let index = self.next_index;
        let tag_len = self.layout.tag_len;
        let (body, tag) = self.buf[..need].split_at_mut(need - tag_len);
        let opened = match self.layout.cell {
            None => {
                let (header, data) = body.split_at_mut(CHUNK_HEADER_LEN);
                self.cipher.open(index, last, header, data, tag)
            }
            Some(_) => self.cipher.open(index, false, &[], body, tag),
        };
        if opened.is_err() {
            return Err(self.invalid("chunk failed to open"));
        }
        let (len, last) = match self.layout.cell {
            None => (need - CHUNK_HEADER_LEN - tag_len, last),
            Some(_) => {
                let mut h = [0; CHUNK_HEADER_LEN];
                h.copy_from_slice(&self.buf[..CHUNK_HEADER_LEN]);
                let (len, last) = decode_header(h);
                if len > self.layout.capacity {
                    return Err(self.invalid("cell length over its capacity"));
                }
                (len, last)
            }
        };
        self.next_index = index
            .checked_add(1)
            .ok_or_else(|| self.invalid("chunk index exhausted"))?;
        self.state = State::Deliver {
            pos: CHUNK_HEADER_LEN,
            end: CHUNK_HEADER_LEN + len,
            last,
            ahead: Ahead {
                at: need,
                len: ahead,
            },
        };
        Ok(())
    }

    /// Moves past a fully handed-out chunk; the next header's bytes read
    /// ahead move to the front of the buffer.
    fn after_chunk(&mut self, last: bool, ahead: Ahead) {
        self.state = if last {
            State::End
        } else if self.layout.cell.is_none() {
            self.buf.copy_within(ahead.at..ahead.at + ahead.len, 0);
            State::Header { got: ahead.len }
        } else {
            Self::first_state(&self.layout)
        };
    }
}

impl<C: ChunkCipher> ExtRead for ChunkR<C> {
    fn read_header(&mut self, _: &mut dyn Read) -> io::Result<()> {
        self.check()
    }

    fn read_from(&mut self, r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
        let res = self.read_chunks(r, buf);
        if matches!(&res, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.blocked();
        }
        res
    }

    fn read_end(&mut self, r: &mut dyn Read) -> io::Result<()> {
        self.check()?;
        loop {
            match self.state {
                State::End => {
                    self.state = Self::first_state(&self.layout);
                    return Ok(());
                }
                // Unread data of the message is dropped.
                State::Deliver { last, ahead, .. } => self.after_chunk(last, ahead),
                State::Header { .. } | State::Body { .. } => self.next_chunk(r)?,
            }
        }
    }

    fn keep_buffers(&mut self, keep: bool) {
        self.keep = keep;
        if !keep {
            self.give_back();
        }
    }
}

impl<C: ChunkCipher> ChunkR<C> {
    /// [`ExtRead::read_from`] but for the buffer given back on a block.
    fn read_chunks(&mut self, r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.check()?;
        loop {
            match self.state {
                State::Deliver {
                    pos,
                    end,
                    last,
                    ahead,
                } if pos < end => {
                    let n = buf.len().min(end - pos);
                    buf[..n].copy_from_slice(&self.buf[pos..pos + n]);
                    self.state = State::Deliver {
                        pos: pos + n,
                        end,
                        last,
                        ahead,
                    };
                    if pos + n == end {
                        self.after_chunk(last, ahead);
                    }
                    return Ok(n);
                }
                // An empty chunk: only the last one is sent, but any is valid.
                State::Deliver { last, ahead, .. } => self.after_chunk(last, ahead),
                State::End => return Ok(0),
                State::Header { .. } => self.read_chunk_header(r)?,
                State::Body { got, need, last } => {
                    let len = need - CHUNK_HEADER_LEN - self.layout.tag_len;
                    let fresh = got == CHUNK_HEADER_LEN && self.layout.cell.is_none();
                    if fresh && len > 0 && len <= buf.len() {
                        return self.read_direct(r, buf, need, last);
                    }
                    self.read_chunk_body(r)?
                }
            }
        }
    }
}

impl<C> fmt::Debug for ChunkR<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkR")
            .field("capacity", &self.layout.capacity)
            .field("cell", &self.layout.cell)
            .field("state", &self.state)
            .field("next_index", &self.next_index)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ChecksumCipher, FaultPlan, FaultyReader};
    use crate::{ChunkW, CompR, CompW};
    use std::io::Write;

    const MODE: ChunkMode = ChunkMode::Variable { max_chunk: 64 };

    fn cipher() -> ChecksumCipher {
        ChecksumCipher::new(5)
    }

    /// Counts the calls that reach the inner stream.
    struct Counting<R> {
        inner: R,
        calls: usize,
    }

    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            self.inner.read(buf)
        }
    }

    /// One message of `chunks` full chunks and a short last one.
    fn wire(chunks: usize) -> (Vec<u8>, Vec<u8>) {
        let message: Vec<u8> = (0..64 * chunks + 10).map(|i| i as u8).collect();
        let mut w = CompW::new(Vec::new(), ChunkW::new(cipher(), MODE).expect("writer"));
        w.write_all(&message).expect("write");
        w.write_end().expect("end");
        (message, w.into_inner())
    }

    /// Each chunk's header comes with the chunk before it: one inner read
    /// per chunk (plus the first header) through the chunk buffer, or
    /// straight into a caller's buffer with room for the tag and the next
    /// header past the data; two (data, then tag and next header) into a
    /// buffer that holds just the data.
    #[test]
    fn next_header_is_read_with_the_chunk() {
        let (message, wire) = wire(3);
        let counting = Counting {
            inner: &wire[..],
            calls: 0,
        };
        let mut r = CompR::new(counting, ChunkR::new(cipher(), MODE).expect("reader"));
        let mut got = Vec::new();
        let mut small = [0; 16];
        loop {
            let n = r.read(&mut small).expect("read");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&small[..n]);
        }
        assert_eq!(got, message);
        // The short last chunk fits `small`: read straight into it.
        assert_eq!(r.get_ref().calls, 1 + 3 + 2);

        let counting = Counting {
            inner: &wire[..],
            calls: 0,
        };
        let mut r = CompR::new(counting, ChunkR::new(cipher(), MODE).expect("reader"));
        let mut big = vec![0; 64];
        for part in message.chunks(64) {
            assert_eq!(r.read(&mut big).expect("read"), part.len());
            assert_eq!(&big[..part.len()], part);
        }
        // The short last chunk and its tag fit: one call.
        assert_eq!(r.get_ref().calls, 1 + 3 * 2 + 1);

        // Room past the data: tag and next header come in the same call.
        let counting = Counting {
            inner: &wire[..],
            calls: 0,
        };
        let mut r = CompR::new(counting, ChunkR::new(cipher(), MODE).expect("reader"));
        let mut wide = vec![0; 100];
        for part in message.chunks(64) {
            assert_eq!(r.read(&mut wide).expect("read"), part.len());
            assert_eq!(&wide[..part.len()], part);
        }
        assert_eq!(r.get_ref().calls, 1 + 4);
    }

    /// A whole chunk is handed out even if the next header has not come
    /// yet: the reader never waits for bytes it only reads ahead.
    #[test]
    fn a_chunk_is_handed_out_before_the_next_header_arrives() {
        let (message, wire) = wire(1);
        let first_chunk_end = (CHUNK_HEADER_LEN + 64 + cipher().tag_len()) as u64;
        for size in [16, 64] {
            let plan = FaultPlan::new().block_at([first_chunk_end]);
            let stream = FaultyReader::new(&wire[..], plan);
            let mut r = CompR::new(stream, ChunkR::new(cipher(), MODE).expect("reader"));
            let mut buf = vec![0; size];
            let mut got = Vec::new();
            while got.len() < 64 {
                let n = r.read(&mut buf).expect("the first chunk is all in");
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, message[..64]);
            let e = r.read(&mut buf).expect_err("the stream blocks");
            assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
            let n = r.read(&mut buf).expect("resumed");
            assert_eq!(buf[..n], message[64..]);
        }
    }

    /// The chunk buffer holds a tag and a header while chunks go straight
    /// into the caller's buffer, grows to a chunk read through it, and is
    /// given back when the stream blocks between two chunks.
    #[test]
    fn chunk_buffer_is_taken_as_needed_and_given_back_between_chunks() {
        const BIG: ChunkMode = ChunkMode::Variable {
            max_chunk: 64 << 10,
        };
        let message: Vec<u8> = (0..3 * (64 << 10)).map(|i| (i % 251) as u8).collect();
        let mut w = CompW::new(Vec::new(), ChunkW::new(cipher(), BIG).expect("writer"));
        for part in message.chunks(64 << 10) {
            w.write_all(part).expect("write");
            w.flush().expect("flush");
        }
        let chunk_wire = (w.get_ref().len() / 3) as u64;
        w.write_end().expect("end");
        let wire = w.into_inner();
        let plan = FaultPlan::new().block_at([chunk_wire, 2 * chunk_wire]);
        let stream = FaultyReader::new(&wire[..], plan);
        let mut r = CompR::new(stream, ChunkR::new(cipher(), BIG).expect("reader"));
        assert_eq!(r.layer().buffer_len(), 0);
        // Straight into a buffer that holds the chunk.
        let mut big = vec![0; 64 << 10];
        assert_eq!(r.read(&mut big).expect("direct"), 64 << 10);
        assert_eq!(big, message[..64 << 10]);
        assert!(r.layer().buffer_len() <= 2 * CHUNK_HEADER_LEN + cipher().tag_len());
        let e = r.read(&mut big).expect_err("blocks between chunks");
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        // Through the chunk buffer, 1 KiB at a time.
        let mut got = Vec::new();
        let mut small = [0; 1024];
        while got.len() < 64 << 10 {
            let n = r.read(&mut small).expect("buffered");
            got.extend_from_slice(&small[..n]);
        }
        assert_eq!(got, message[64 << 10..2 * (64 << 10)]);
        assert!(r.layer().buffer_len() > 64 << 10);
        let e = r.read(&mut small).expect_err("blocks between chunks");
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(r.layer().buffer_len(), RETAINED);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).expect("the last chunk");
        assert_eq!(rest, message[2 * (64 << 10)..]);
    }

    /// A reader told its stream is pumped keeps its chunk buffer when the
    /// stream blocks between chunks (the same buffer, not one grown
    /// again), and gives it back once told so.
    #[test]
    fn a_pumped_reader_keeps_its_chunk_buffer_between_chunks() {
        const BIG: ChunkMode = ChunkMode::Variable {
            max_chunk: 64 << 10,
        };
        let message: Vec<u8> = (0..3 * (64 << 10)).map(|i| (i % 251) as u8).collect();
        let mut w = CompW::new(Vec::new(), ChunkW::new(cipher(), BIG).expect("writer"));
        for part in message.chunks(64 << 10) {
            w.write_all(part).expect("write");
            w.flush().expect("flush");
        }
        let chunk_wire = (w.get_ref().len() / 3) as u64;
        w.write_end().expect("end");
        let wire = w.into_inner();
        let plan = FaultPlan::new().block_at([chunk_wire, 2 * chunk_wire]);
        let stream = FaultyReader::new(&wire[..], plan);
        let mut r = CompR::new(stream, ChunkR::new(cipher(), BIG).expect("reader"));
        r.layer_mut().keep_buffers(true);
        let mut got = Vec::new();
        let mut small = [0; 1024];
        let mut blocks = 0;
        let mut kept = None;
        while blocks < 2 {
            match r.read(&mut small) {
                Ok(n) => got.extend_from_slice(&small[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    blocks += 1;
                    let len = r.layer().buffer_len();
                    assert!(len > 64 << 10, "kept across the block: {len}");
                    assert_eq!(*kept.get_or_insert(len), len);
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, message[..2 * (64 << 10)]);
        r.layer_mut().keep_buffers(false);
        assert_eq!(r.layer().buffer_len(), RETAINED);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).expect("the last chunk");
        assert_eq!(rest, message[2 * (64 << 10)..]);
    }

    /// Reading straight into the caller's buffer resumes after a block at
    /// any byte of the wire, whether the caller comes back with the same
    /// buffer, a wide one, or one too small for a chunk.
    #[test]
    fn direct_reads_resume_after_a_block_at_any_byte() {
        let (message, wire) = wire(3);
        for at in 0..wire.len() as u64 {
            for sizes in [[100, 100], [100, 16], [64, 100]] {
                let plan = FaultPlan::new().block_at([at]);
                let stream = FaultyReader::new(&wire[..], plan);
                let mut r = CompR::new(stream, ChunkR::new(cipher(), MODE).expect("reader"));
                let mut got = Vec::new();
                let mut blocked = false;
                loop {
                    let mut buf = vec![0; sizes[usize::from(blocked)]];
                    match r.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => blocked = true,
                        Err(e) => panic!("block at {at}, buffers {sizes:?}: {e}"),
                    }
                }
                assert_eq!(got, message, "block at {at}, buffers {sizes:?}");
                assert_eq!(r.get_ref().position(), wire.len() as u64);
            }
        }
    }
}
