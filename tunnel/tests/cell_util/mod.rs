//! What the cell tests share: layouts, keys, in-memory streams that block
//! and split on a schedule, and whole-route drivers.
#![allow(dead_code)] // each test file uses its own part

use std::io::{self, Read, Write};

use readwrite_comp::{ExtRead, ExtWrite};
use tunnel::cell::{
    CellError, CellLayout, CellOpener, CellPeeler, CellProxy, CellReader, CellSealer, CellWriter,
    ReplyCellOpener, ReplyCellSealer, ReplyCellWrapper, TransformCell,
};

/// `n` distinct keys derived from `seed`.
pub fn keys(n: usize, seed: u8) -> Vec<[u8; 32]> {
    (0..n)
        .map(|i| {
            let mut k = [seed; 32];
            k[..8].copy_from_slice(&(i as u64).to_le_bytes());
            k
        })
        .collect()
}

/// A payload whose bytes depend on their position.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

/// How a flaky stream answers each call, in turn and cyclically:
/// `Some(k)` moves at most `k` bytes (k ≥ 1), `None` is `WouldBlock`.
pub type Schedule = Vec<Option<usize>>;

/// Reads from a byte slice following a [`Schedule`].
pub struct FlakyReader<'a> {
    data: &'a [u8],
    schedule: Schedule,
    step: usize,
}

impl<'a> FlakyReader<'a> {
    /// A reader over `data`; an empty schedule reads freely.
    pub fn new(data: &'a [u8], schedule: Schedule) -> Self {
        FlakyReader {
            data,
            schedule,
            step: 0,
        }
    }
}

impl Read for FlakyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let limit = if self.schedule.is_empty() {
            usize::MAX
        } else {
            let s = self.schedule[self.step % self.schedule.len()];
            self.step += 1;
            match s {
                None => return Err(io::ErrorKind::WouldBlock.into()),
                Some(k) => k.max(1),
            }
        };
        let n = buf.len().min(self.data.len()).min(limit);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Appends to a vector following a [`Schedule`].
pub struct FlakyWriter {
    pub data: Vec<u8>,
    schedule: Schedule,
    step: usize,
}

impl FlakyWriter {
    /// An empty writer; an empty schedule writes freely.
    pub fn new(schedule: Schedule) -> Self {
        FlakyWriter {
            data: Vec::new(),
            schedule,
            step: 0,
        }
    }
}

impl Write for FlakyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let limit = if self.schedule.is_empty() {
            usize::MAX
        } else {
            let s = self.schedule[self.step % self.schedule.len()];
            self.step += 1;
            match s {
                None => return Err(io::ErrorKind::WouldBlock.into()),
                Some(k) => k.max(1),
            }
        };
        let n = buf.len().min(limit);
        self.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Repeats `f` while it returns `WouldBlock` (the resumability contract:
/// the same call again), with a bound so a livelock fails the test.
pub fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    for _ in 0..1_000_000 {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            r => return r,
        }
    }
    panic!("no progress after a million WouldBlock");
}

/// How a test drives the streams: write sizes and schedules.
#[derive(Clone, Debug, Default)]
pub struct Splits {
    /// Sizes of the payload writes, cyclically (empty: one write).
    pub writes: Vec<usize>,
    /// Sizes of the payload reads at the end, cyclically (empty: 4096).
    pub reads: Vec<usize>,
    /// Schedule of every stream written to.
    pub write_schedule: Schedule,
    /// Schedule of every stream read from.
    pub read_schedule: Schedule,
    /// Relays are read through `ExtRead` (as when stacked under other
    /// layers) instead of pumped.
    pub relay_by_read: bool,
}

/// Writes `data` as one message through `writer` into a stream.
pub fn write_message<W: ExtWrite>(writer: &mut W, data: &[u8], splits: &Splits) -> Vec<u8> {
    let mut out = FlakyWriter::new(splits.write_schedule.clone());
    retry(|| writer.write_header(&mut out)).unwrap();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let want = match splits.writes.len() {
            0 => rest.len(),
            n => splits.writes[i % n].clamp(1, rest.len()),
        };
        i += 1;
        let n = retry(|| writer.write_into(&mut out, &rest[..want])).unwrap();
        assert!(n > 0 && n <= want);
        rest = &rest[n..];
    }
    retry(|| writer.write_end(&mut out)).unwrap();
    out.data
}

/// Runs one relay over a whole incoming stream.
pub fn relay<T: TransformCell>(
    proxy: &mut CellProxy<T>,
    input: &[u8],
    splits: &Splits,
) -> io::Result<Vec<u8>> {
    if splits.relay_by_read {
        return read_message(proxy, input, splits);
    }
    let mut r = FlakyReader::new(input, splits.read_schedule.clone());
    let mut w = FlakyWriter::new(splits.write_schedule.clone());
    retry(|| proxy.pump(&mut r, &mut w))?;
    Ok(w.data)
}

/// Reads one whole message through `reader`.
pub fn read_message<R: ExtRead>(
    reader: &mut R,
    input: &[u8],
    splits: &Splits,
) -> io::Result<Vec<u8>> {
    let mut r = FlakyReader::new(input, splits.read_schedule.clone());
    retry(|| reader.read_header(&mut r))?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8192];
    let mut i = 0;
    loop {
        let want = match splits.reads.len() {
            0 => 4096,
            n => splits.reads[i % n].clamp(1, buf.len()),
        };
        i += 1;
        let n = retry(|| reader.read_from(&mut r, &mut buf[..want]))?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    retry(|| reader.read_end(&mut r))?;
    Ok(out)
}

/// The cell error inside an io error, for asserts.
pub fn cell_error(e: &io::Error) -> CellError {
    CellError::from_io(e)
        .unwrap_or_else(|| panic!("not a cell error: {e}"))
        .clone()
}

/// A query route: the sender's writer, one proxy per relay, the exit reader.
pub struct QueryRoute {
    pub writer: CellWriter<CellSealer>,
    pub relays: Vec<CellProxy<CellPeeler>>,
    pub exit: CellReader<CellOpener>,
}

impl QueryRoute {
    /// A route of `relays` relays and an exit.
    pub fn new(layout: CellLayout, relays: usize, seed: u8) -> Self {
        let k = keys(relays + 1, seed);
        QueryRoute {
            writer: CellWriter::new(CellSealer::new(layout, &k).unwrap()),
            relays: k[..relays]
                .iter()
                .map(|key| CellProxy::new(CellPeeler::new(layout, key).unwrap()))
                .collect(),
            exit: CellReader::new(CellOpener::new(layout, &k[relays]).unwrap()),
        }
    }

    /// Sends `data` through every hop; returns what each hop received
    /// (relays then exit) and what the exit read.
    pub fn run(&mut self, data: &[u8], splits: &Splits) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut frames = vec![write_message(&mut self.writer, data, splits)];
        for proxy in &mut self.relays {
            let next = relay(proxy, frames.last().unwrap(), splits).unwrap();
            frames.push(next);
        }
        let got = read_message(&mut self.exit, frames.last().unwrap(), splits).unwrap();
        (frames, got)
    }
}

/// A reply route: the exit's writer, one proxy per reply relay, the
/// sender's reader.
pub struct ReplyRoute {
    pub writer: CellWriter<ReplyCellSealer>,
    pub relays: Vec<CellProxy<ReplyCellWrapper>>,
    pub sender: CellReader<ReplyCellOpener>,
}

impl ReplyRoute {
    /// A reply route of `relays` relays back to the sender.
    pub fn new(layout: CellLayout, relays: usize, seed: u8) -> Self {
        let k = keys(relays + 1, seed);
        let (exit_key, relay_keys) = k.split_first().unwrap();
        // Link `i` goes into reply hop `i` (the last one into the sender).
        let links = keys(relays + 1, seed.wrapping_add(128));
        ReplyRoute {
            writer: CellWriter::new(ReplyCellSealer::new(layout, exit_key, &links[0]).unwrap()),
            relays: relay_keys
                .iter()
                .enumerate()
                .map(|(i, key)| {
                    let wrapper =
                        ReplyCellWrapper::new(layout, key, &links[i], &links[i + 1]).unwrap();
                    CellProxy::new(wrapper)
                })
                .collect(),
            sender: CellReader::new(
                ReplyCellOpener::new(layout, exit_key, relay_keys, &links[relays]).unwrap(),
            ),
        }
    }

    /// Sends `data` back through every relay; returns what each relay and
    /// the sender received and what the sender read.
    pub fn run(&mut self, data: &[u8], splits: &Splits) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut frames = vec![write_message(&mut self.writer, data, splits)];
        for proxy in &mut self.relays {
            let next = relay(proxy, frames.last().unwrap(), splits).unwrap();
            frames.push(next);
        }
        let got = read_message(&mut self.sender, frames.last().unwrap(), splits).unwrap();
        (frames, got)
    }
}
