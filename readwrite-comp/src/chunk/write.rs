//! [`ChunkW`]: cuts a message into sealed chunks.

use super::mode::{encode_header, Layout};
use super::{ChunkCipher, ChunkMode, CHUNK_HEADER_LEN};
use crate::ExtWrite;
use std::fmt;
use std::io::{self, Write};
use std::ops::Range;

/// The writing side of the chunk framing (see the [module docs](crate::chunk)).
///
/// Data is copied once into a chunk buffer, sealed there in place when the
/// chunk is full (and more data comes), on [`flush_into`](ExtWrite::flush_into),
/// or on [`write_end`](ExtWrite::write_end), which seals the last chunk; in
/// variable mode a write that fills the chunk with data to spare has the
/// chunk's rest sealed from the caller's buffer into the chunk buffer
/// instead ([`ChunkCipher::seal_from`]). The header step writes nothing.
///
/// The buffer has room for one chunk, and grows once to four when a write
/// goes on past a sealed chunk: sealed chunks then wait while the next ones
/// fill, and all four go to the inner stream in one write (a quarter of the
/// writes of a bulk transfer). A flush or the end of a message writes out
/// everything.
///
/// That room is taken as bytes come: the buffer starts empty and grows
/// (doubling) to what the chunks written so far needed, so a stream of
/// small messages keeps a buffer of about its largest message. A flush
/// that sealed no full chunk and less than a quarter of the buffer since
/// the flush before (small messages: a bulk transfer, if any, is over)
/// gives a buffer larger than 4 KiB back, down to 4 KiB: an idle connection
/// holds little, a busy one keeps its buffer.
///
/// It can [hold](ExtWrite::hold_into): then when the inner stream blocks,
/// sealed chunks stay in a buffer grown by one chunk at a time (bounded by
/// what the caller holds), and it shrinks back to four chunks once they are
/// written out. A big write is still sealed from the caller's buffer, so an
/// encoder writing through it puts a message's bytes where they are
/// sealed, without a copy of the whole encoding first.
///
/// ```
/// use readwrite_comp::{ChunkMode, ChunkW, CompW, NoCipher};
/// use std::io::Write;
///
/// let cells = ChunkW::new(NoCipher, ChunkMode::Fixed { cell_size: 64 })?;
/// let mut w = CompW::new(Vec::new(), cells);
/// w.write_all(&[7; 100])?;
/// w.write_end()?;
/// assert_eq!(w.get_ref().len(), 2 * 64);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ChunkW<C> {
    cipher: C,
    layout: Layout,
    /// Chunks laid out as header, data, then tag (fixed mode: padding
    /// before the tag); grown as they need, within `room`.
    buf: Vec<u8>,
    /// Bytes the chunks may take: one chunk, or [`SLOTS`] once grown (more
    /// while holding for a blocked stream).
    room: usize,
    /// Where the chunk being filled starts; `at + layout.buffer_len()` is
    /// within `room`, and sealed bytes (`out`) end at or before it.
    at: usize,
    /// Data bytes waiting at `at` for the next seal.
    filled: usize,
    /// Sealed bytes of `buf` not yet taken by the inner stream.
    out: Range<usize>,
    /// Wire bytes sealed since the last flush, and whether a full chunk
    /// was among them: the stream is busy, the flush keeps the buffer.
    round: usize,
    busy: bool,
    next_index: u64,
    /// The last chunk of the message is sealed (it may still be in `out`).
    ending: bool,
    /// A seal failed: the chunk buffer no longer holds clean data.
    broken: bool,
    /// Inside [`hold_into`](ExtWrite::hold_into): a blocked inner stream
    /// grows the buffer instead of stopping the write.
    holding: bool,
}

/// Chunks the writer's buffer holds once grown. Over loopback TCP, a
/// sender writing four 64 KiB chunks per call spends 10–15% less CPU per
/// byte than with two (fewer calls, pushes and wake-ups of the reader),
/// which is what bounds a bulk transfer between two nodes; the price is
/// 256 KiB of buffer for a connection that streamed past a chunk.
const SLOTS: usize = 4;

/// The smallest buffer allocated: room for a few small messages.
const MIN_BUF: usize = 512;

/// Bytes a writer keeps after a flush of small messages; a larger buffer
/// (grown by a bulk transfer) is given back then.
const RETAINED: usize = 4 << 10;

impl<C: ChunkCipher> ChunkW<C> {
    /// A chunk writer sealing with `cipher`; `InvalidInput` if `mode` has no
    /// room for data next to the header and `cipher`'s tag, or is larger than
    /// [`MAX_CHUNK_LEN`](crate::chunk::MAX_CHUNK_LEN).
    pub fn new(cipher: C, mode: ChunkMode) -> io::Result<Self> {
        let layout = Layout::new(mode, cipher.tag_len())?;
        Ok(ChunkW {
            cipher,
            buf: Vec::new(),
            room: layout.buffer_len(),
            layout,
            at: 0,
            filled: 0,
            out: 0..0,
            round: 0,
            busy: false,
            next_index: 0,
            ending: false,
            broken: false,
            holding: false,
        })
    }

    /// The cipher.
    pub fn cipher(&self) -> &C {
        &self.cipher
    }

    /// Index the next sealed chunk will get (chunks sealed so far).
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// Bytes of buffer the writer holds now.
    pub fn buffer_len(&self) -> usize {
        self.buf.len()
    }

    /// Grows the buffer to at least `end` bytes (within `room`): doubling,
    /// so a chunk filled by small writes is moved a few times at most.
    fn reserve(&mut self, end: usize) {
        if self.buf.len() < end {
            let len = end.max((self.buf.len() * 2).max(MIN_BUF).min(self.room));
            self.buf.resize(len, 0);
        }
    }

    /// After a flush that wrote everything out: a buffer grown past
    /// [`RETAINED`] is given back unless the round since the last flush
    /// sealed a full chunk or a quarter of the buffer.
    fn after_flush(&mut self) {
        let round = std::mem::take(&mut self.round);
        let busy = std::mem::take(&mut self.busy) || round >= self.buf.len() / 4;
        if !busy && self.buf.len() > RETAINED && self.out.is_empty() {
            self.buf.truncate(RETAINED);
            self.buf.shrink_to_fit();
        }
    }

    fn check(&self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other("chunk writer unusable after a seal error"));
        }
        Ok(())
    }

    /// Writes out every sealed byte; the buffer is then free.
    fn drain(&mut self, w: &mut dyn Write) -> io::Result<()> {
        while !self.out.is_empty() {
            match w.write(&self.buf[self.out.clone()]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out.start += n,
                Err(e) => return Err(e),
            }
        }
        self.out = 0..0;
        let slots = SLOTS * self.layout.buffer_len();
        if self.filled > 0 && self.room > slots {
            // The chunk being filled moves to the front (at most a chunk's
            // copy, once per time the stream blocked while holding).
            let end = self.at + CHUNK_HEADER_LEN + self.filled;
            self.buf.copy_within(self.at..end, 0);
        }
        if self.filled == 0 || self.room > slots {
            self.at = 0;
        }
        if self.room > slots {
            // Grown while holding for a blocked stream: back to four chunks.
            self.room = slots;
            if self.buf.len() > slots {
                self.buf.truncate(slots);
                self.buf.shrink_to(slots);
            }
        }
        // Once the last chunk is out the message is over.
        self.ending = false;
        Ok(())
    }

    /// Before a new chunk starts filling: places it after the sealed bytes,
    /// or writes them out first when a whole chunk no longer fits there.
    fn make_room(&mut self, w: &mut dyn Write) -> io::Result<()> {
        if self.filled > 0 {
            return Ok(());
        }
        let chunk = self.layout.buffer_len();
        if self.out.end + chunk > self.room {
            if !self.out.is_empty() && self.room < SLOTS * chunk {
                // Grown once, by a stream written more than a chunk at a
                // time; one written in small messages never pays for it.
                self.room = SLOTS * chunk;
            } else {
                match self.drain(w) {
                    Ok(()) => {}
                    // Holding: the chunk goes after those the stream did
                    // not take, in a buffer grown for it.
                    Err(e) if self.holding && is_retry(&e) => {
                        self.room = self.out.end + chunk;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        self.at = self.out.end;
        Ok(())
    }

    /// Seals the `filled` data bytes as one chunk and queues it in `out`.
    fn seal(&mut self, last: bool) -> io::Result<()> {
        let index = self.next_index;
        let next = index
            .checked_add(1)
            .ok_or_else(|| io::Error::other("chunk index exhausted"))?;
        let len = self.filled;
        let tag_len = self.layout.tag_len;
        let wire_len = self.layout.cell.unwrap_or(CHUNK_HEADER_LEN + len + tag_len);
        self.reserve(self.at + wire_len);
        let chunk = &mut self.buf[self.at..self.at + wire_len];
        chunk[..CHUNK_HEADER_LEN].copy_from_slice(&encode_header(len, last));
        let sealed = match self.layout.cell {
            None => {
                let (header, rest) = chunk.split_at_mut(CHUNK_HEADER_LEN);
                let (data, rest) = rest.split_at_mut(len);
                let tag = &mut rest[..tag_len];
                self.cipher.seal(index, last, header, data, tag)
            }
            Some(cell_size) => {
                let (body, tag) = chunk.split_at_mut(cell_size - tag_len);
                body[CHUNK_HEADER_LEN + len..].fill(0);
                self.cipher.seal(index, false, &[], body, tag)
            }
        };
        if let Err(e) = sealed {
            self.broken = true;
            return Err(e);
        }
        self.next_index = next;
        self.busy |= len == self.layout.capacity;
        self.filled = 0;
        self.queue(wire_len);
        Ok(())
    }

    /// Adds the chunk just sealed at `at` to `out`.
    fn queue(&mut self, wire_len: usize) {
        self.round += wire_len;
        if self.out.is_empty() {
            self.out = self.at..self.at;
        }
        self.out.end = self.at + wire_len;
        self.at = self.out.end;
    }
}

impl<C: ChunkCipher> ChunkW<C> {
    /// Variable mode: seals the `filled` bytes buffered and `data` after
    /// them (together one full chunk, not the last), `data` out of place
    /// into the chunk buffer, and queues the chunk in `out`.
    fn seal_from(&mut self, data: &[u8]) -> io::Result<()> {
        let index = self.next_index;
        let next = index
            .checked_add(1)
            .ok_or_else(|| io::Error::other("chunk index exhausted"))?;
        let len = self.filled + data.len();
        let tag_len = self.layout.tag_len;
        let wire_len = CHUNK_HEADER_LEN + len + tag_len;
        self.reserve(self.at + wire_len);
        let chunk = &mut self.buf[self.at..self.at + wire_len];
        chunk[..CHUNK_HEADER_LEN].copy_from_slice(&encode_header(len, false));
        let (header, rest) = chunk.split_at_mut(CHUNK_HEADER_LEN);
        let (dst, rest) = rest.split_at_mut(len);
        if let Err(e) = self
            .cipher
            .seal_from(index, false, header, data, dst, &mut rest[..tag_len])
        {
            self.broken = true;
            return Err(e);
        }
        self.next_index = next;
        self.busy = true;
        self.filled = 0;
        self.queue(wire_len);
        Ok(())
    }
}

impl<C: ChunkCipher> ExtWrite for ChunkW<C> {
    fn write_header(&mut self, _: &mut dyn Write) -> io::Result<()> {
        self.check()
    }

    fn write_into(&mut self, w: &mut dyn Write, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.check()?;
        if self.filled == self.layout.capacity {
            // Sealed only now that more data follows, so the last chunk of a
            // message is never an extra empty one.
            self.seal(false)?;
        }
        // A write that blocks here has taken nothing: the same call resumes.
        self.make_room(w)?;
        let room = self.layout.capacity - self.filled;
        if self.layout.cell.is_none() && buf.len() > room {
            // The chunk fills up and more data follows: its rest is sealed
            // straight from the caller's buffer, saving the copy into the
            // chunk buffer.
            self.seal_from(&buf[..room])?;
            return Ok(room);
        }
        let at = self.at + CHUNK_HEADER_LEN + self.filled;
        let n = buf.len().min(room);
        self.reserve(at + n);
        self.buf[at..at + n].copy_from_slice(&buf[..n]);
        self.filled += n;
        Ok(n)
    }

    /// Seals the data buffered so far as a chunk (in fixed-cell mode, a
    /// padded cell) and writes out every sealed chunk, then flushes `w`.
    fn flush_into(&mut self, w: &mut dyn Write) -> io::Result<()> {
        self.check()?;
        if self.filled > 0 {
            self.seal(false)?;
        }
        self.drain(w)?;
        self.after_flush();
        w.flush()
    }

    fn write_end(&mut self, w: &mut dyn Write) -> io::Result<()> {
        self.check()?;
        if !self.ending {
            self.make_room(w)?;
            self.seal(true)?;
            self.ending = true;
        }
        self.drain(w)?;
        self.after_flush();
        Ok(())
    }

    fn can_hold(&self) -> bool {
        true
    }

    fn hold_into(&mut self, w: &mut dyn Write, mut buf: &[u8]) -> io::Result<()> {
        self.holding = true;
        let res = loop {
            if buf.is_empty() {
                break Ok(());
            }
            match self.write_into(w, buf) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = &buf[n..],
                Err(e) => break Err(e),
            }
        };
        self.holding = false;
        res
    }

    fn held(&self) -> usize {
        self.out.len()
    }

    /// Not between a [`write_end`](ExtWrite::write_end) that returned
    /// `WouldBlock` and its repeat (the message would then seem ended).
    fn write_held_into(&mut self, w: &mut dyn Write) -> io::Result<()> {
        self.check()?;
        self.drain(w)
    }
}

fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

impl<C> fmt::Debug for ChunkW<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkW")
            .field("capacity", &self.layout.capacity)
            .field("cell", &self.layout.cell)
            .field("filled", &self.filled)
            .field("pending", &self.out.len())
            .field("next_index", &self.next_index)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChunkR, CompR, CompW};
    use std::io::Read;

    /// XORs data with the chunk index; the tag is the data's byte sum. Only
    /// in-place sealing: `seal_from` is the trait's default.
    struct Xor;

    impl ChunkCipher for Xor {
        fn tag_len(&self) -> usize {
            1
        }
        fn seal(
            &mut self,
            i: u64,
            _: bool,
            _: &[u8],
            d: &mut [u8],
            t: &mut [u8],
        ) -> io::Result<()> {
            t[0] = d.iter().fold(0u8, |a, b| a.wrapping_add(*b));
            d.iter_mut().for_each(|b| *b ^= i as u8 + 1);
            Ok(())
        }
        fn open(&mut self, i: u64, _: bool, _: &[u8], d: &mut [u8], t: &[u8]) -> io::Result<()> {
            d.iter_mut().for_each(|b| *b ^= i as u8 + 1);
            let sum = d.iter().fold(0u8, |a, b| a.wrapping_add(*b));
            if sum == t[0] {
                Ok(())
            } else {
                Err(io::ErrorKind::InvalidData.into())
            }
        }
    }

    const MODE: ChunkMode = ChunkMode::Variable { max_chunk: 64 };

    fn wire(message: &[u8], step: usize) -> Vec<u8> {
        let mut w = CompW::new(Vec::new(), ChunkW::new(Xor, MODE).expect("writer"));
        for part in message.chunks(step) {
            w.write_all(part).expect("write");
        }
        w.write_end().expect("end");
        w.into_inner()
    }

    /// A write of several whole chunks (sealed from the caller's buffer),
    /// also after a short write left a chunk half full, gives the bytes
    /// small writes (sealed in place) give, and reads back.
    #[test]
    fn whole_chunks_sealed_from_the_callers_buffer_match() {
        let message: Vec<u8> = (0..64 * 3 + 10).map(|i| i as u8).collect();
        let direct = wire(&message, message.len());
        // One byte at a time: every chunk sealed in place.
        assert_eq!(direct, wire(&message, 1));
        let mut w = CompW::new(Vec::new(), ChunkW::new(Xor, MODE).expect("writer"));
        w.write_all(&message[..10]).expect("write");
        w.write_all(&message[10..]).expect("write");
        w.write_end().expect("end");
        assert_eq!(w.into_inner(), direct);
        let mut r = CompR::new(&direct[..], ChunkR::new(Xor, MODE).expect("reader"));
        let mut got = Vec::new();
        r.read_to_end(&mut got).expect("read");
        assert_eq!(got, message);
    }

    /// Messages that fit a chunk keep the buffer's room at one chunk; a
    /// write past a sealed chunk grows it once to `SLOTS`.
    #[test]
    fn buffer_grows_only_for_writes_past_a_chunk() {
        let mut w = CompW::new(Vec::new(), ChunkW::new(Xor, MODE).expect("writer"));
        let one = w.layer().layout.buffer_len();
        for _ in 0..10 {
            w.write_all(&[1; 64]).expect("write");
            w.write_end().expect("end");
            w.write_all(&[2; 30]).expect("write");
            w.flush().expect("flush");
        }
        assert_eq!(w.layer().room, one);
        assert_eq!(w.layer().buffer_len(), one);
        w.write_all(&[3; 64 * 5]).expect("write");
        assert_eq!(w.layer().room, SLOTS * one);
        assert_eq!(w.layer().buffer_len(), SLOTS * one);
    }

    /// The buffer is taken as messages need it: small messages keep a small
    /// one; a bulk transfer grows it and keeps it while its flushes seal
    /// full chunks; the first flush of small messages after it gives it
    /// back. The bytes on the wire do not depend on it.
    #[test]
    fn buffer_follows_the_messages_and_is_given_back_after_a_bulk() {
        const BIG: ChunkMode = ChunkMode::Variable {
            max_chunk: 64 << 10,
        };
        let new = || CompW::new(Vec::new(), ChunkW::new(Xor, BIG).expect("writer"));
        let mut w = new();
        assert_eq!(w.layer().buffer_len(), 0, "nothing before the first write");
        for i in 0..50u8 {
            w.write_all(&[i; 100]).expect("write");
            w.flush().expect("flush");
        }
        assert_eq!(w.layer().buffer_len(), MIN_BUF);
        let bulk = vec![9; 300 << 10];
        for _ in 0..3 {
            w.write_all(&bulk).expect("write");
            w.flush().expect("flush");
            assert_eq!(
                w.layer().buffer_len(),
                SLOTS * w.layer().layout.buffer_len()
            );
        }
        w.write_all(&[1; 100]).expect("write");
        w.flush().expect("flush");
        assert_eq!(w.layer().buffer_len(), RETAINED);
        // The same messages through a writer that never gave anything back.
        let mut plain = new();
        for i in 0..50u8 {
            plain.write_all(&[i; 100]).expect("write");
            plain.flush().expect("flush");
        }
        for _ in 0..3 {
            plain.write_all(&bulk).expect("write");
            plain.flush().expect("flush");
        }
        plain.write_all(&[1; 100]).expect("write");
        plain.flush().expect("flush");
        assert_eq!(w.get_ref(), plain.get_ref());
    }

    /// Holding never blocks nor loses a byte, whatever offset the stream
    /// blocks at: the wire is the one plain writes give, and the buffer is
    /// back to four chunks once what it held is written out.
    #[test]
    fn holding_takes_everything_through_a_blocked_stream() {
        use crate::testing::{retry, FaultPlan, FaultyWriter};
        let message: Vec<u8> = (0..64 * 9 + 7).map(|i| (i * 7) as u8).collect();
        let parts = [3, 64 * 4 + 1, 2, 64 * 3, 5, 64 * 2];
        let expected = wire(&message, message.len());
        for at in 0..expected.len() as u64 {
            let plan = FaultPlan::new().block_at([at, at + 1, at + 70]);
            let stream = FaultyWriter::new(Vec::new(), plan);
            let mut w = CompW::new(stream, ChunkW::new(Xor, MODE).expect("writer"));
            let mut rest = &message[..];
            for n in parts {
                let (part, tail) = rest.split_at(n.min(rest.len()));
                w.hold(part).expect("holding never blocks");
                rest = tail;
            }
            assert!(rest.is_empty());
            retry(|| w.write_held()).expect("held bytes out");
            assert_eq!(w.held(), 0);
            assert!(w.layer().buffer_len() <= SLOTS * w.layer().layout.buffer_len());
            retry(|| w.write_end()).expect("end");
            assert_eq!(w.get_ref().get_ref(), &expected, "blocked at {at}");
        }
    }

    /// Without a blocked stream holding keeps the four-chunk writes: what
    /// is held stays under four sealed chunks.
    #[test]
    fn holding_through_a_free_stream_holds_at_most_four_chunks() {
        let mut w = CompW::new(Vec::new(), ChunkW::new(Xor, MODE).expect("writer"));
        let chunk = w.layer().layout.buffer_len();
        for i in 0..50u8 {
            w.hold(&[i; 100]).expect("hold");
            assert!(w.held() <= SLOTS * chunk);
        }
        assert_eq!(w.layer().room, SLOTS * chunk);
    }
}
