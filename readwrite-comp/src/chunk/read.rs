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
/// a whole chunk, the chunk is read and opened directly in it instead. On an
/// error the content of the caller's buffer is unspecified. It asks the inner stream for exactly the bytes of
/// the current chunk, so it never reads past the end of a message: what
/// follows stays in the inner stream. A chunk that does not open, or whose
/// length is over the configured maximum (checked before its data is read),
/// is `InvalidData`, after which the reader stays failed. The inner stream
/// ending inside a message is `UnexpectedEof`.
pub struct ChunkR<C> {
    cipher: C,
    layout: Layout,
    /// One chunk, as on the wire.
    buf: Vec<u8>,
    state: State,
    next_index: u64,
    /// Set once a chunk failed to open: nothing after it can be trusted.
    failed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Variable mode: `got` bytes of the chunk header read.
    Header { got: usize },
    /// `got` bytes of the chunk (header included) read out of `need`.
    Body { got: usize, need: usize, last: bool },
    /// Opened data `buf[pos..end]` not yet handed out.
    Deliver { pos: usize, end: usize, last: bool },
    /// The message's last chunk is handed out; `read_end` resets.
    End,
}

impl<C: ChunkCipher> ChunkR<C> {
    /// A chunk reader opening with `cipher`; `mode` must be the writer's.
    /// `InvalidInput` on the same configurations [`ChunkW::new`](crate::ChunkW::new) refuses.
    pub fn new(cipher: C, mode: ChunkMode) -> io::Result<Self> {
        let layout = Layout::new(mode, cipher.tag_len())?;
        Ok(ChunkR {
            cipher,
            buf: vec![0; layout.buffer_len()],
            state: Self::first_state(&layout),
            layout,
            next_index: 0,
            failed: false,
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

    /// Reads into `buf[*got..need]` until full; never asks for more.
    fn fill(buf: &mut [u8], got: &mut usize, need: usize, r: &mut dyn Read) -> io::Result<()> {
        while *got < need {
            match r.read(&mut buf[*got..need]) {
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
        let res = Self::fill(&mut self.buf, &mut got, CHUNK_HEADER_LEN, r);
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
        let res = Self::fill(&mut self.buf, &mut got, need, r);
        self.state = State::Body { got, need, last };
        res?;
        self.open(need, last)
    }

    /// Variable-mode fast path, when `out` holds the whole data of the chunk
    /// whose header was just read: the data is read and opened in `out`,
    /// saving the copy through the chunk buffer. If the inner stream stops
    /// inside the chunk, what was read moves into the chunk buffer (the
    /// caller may come back with another buffer) and the buffered path
    /// resumes from there.
    fn read_direct(
        &mut self,
        r: &mut dyn Read,
        out: &mut [u8],
        need: usize,
        last: bool,
    ) -> io::Result<usize> {
        let tag_len = self.layout.tag_len;
        let len = need - CHUNK_HEADER_LEN - tag_len;
        let data = &mut out[..len];
        let mut got = 0;
        let mut tag_got = CHUNK_HEADER_LEN + len;
        let mut res = Self::fill(data, &mut got, len, r);
        if res.is_ok() {
            res = Self::fill(&mut self.buf, &mut tag_got, need, r);
        }
        if let Err(e) = res {
            self.buf[CHUNK_HEADER_LEN..CHUNK_HEADER_LEN + got].copy_from_slice(&data[..got]);
            let got = if got < len {
                CHUNK_HEADER_LEN + got
            } else {
                tag_got
            };
            self.state = State::Body { got, need, last };
            return Err(e);
        }
        let index = self.next_index;
        let (header, rest) = self.buf.split_at(CHUNK_HEADER_LEN);
        let opened = self
            .cipher
            .open(index, last, header, data, &rest[len..len + tag_len]);
        if opened.is_err() {
            return Err(self.invalid("chunk failed to open"));
        }
        self.next_index = index
            .checked_add(1)
            .ok_or_else(|| self.invalid("chunk index exhausted"))?;
        self.after_chunk(last);
        Ok(len)
    }

    /// Opens the chunk read whole into `buf[..need]`.
    fn open(&mut self, need: usize, last: bool) -> io::Result<()> {
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
        };
        Ok(())
    }

    /// Moves past a fully handed-out chunk.
    fn after_chunk(&mut self, last: bool) {
        self.state = if last {
            State::End
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
        if buf.is_empty() {
            return Ok(0);
        }
        self.check()?;
        loop {
            match self.state {
                State::Deliver { pos, end, last } if pos < end => {
                    let n = buf.len().min(end - pos);
                    buf[..n].copy_from_slice(&self.buf[pos..pos + n]);
                    self.state = State::Deliver {
                        pos: pos + n,
                        end,
                        last,
                    };
                    if pos + n == end {
                        self.after_chunk(last);
                    }
                    return Ok(n);
                }
                // An empty chunk: only the last one is sent, but any is valid.
                State::Deliver { last, .. } => self.after_chunk(last),
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

    fn read_end(&mut self, r: &mut dyn Read) -> io::Result<()> {
        self.check()?;
        loop {
            match self.state {
                State::End => {
                    self.state = Self::first_state(&self.layout);
                    return Ok(());
                }
                // Unread data of the message is dropped.
                State::Deliver { last, .. } => self.after_chunk(last),
                State::Header { .. } | State::Body { .. } => self.next_chunk(r)?,
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
