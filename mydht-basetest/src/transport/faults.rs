//! Fault injection for the in-memory transport: what a real network does to
//! a stream that well-behaved loopback tests never show.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

/// Rewrites bytes on their way to the peer: called with the stream offset of
/// the first byte and the bytes about to be written.
///
/// A short write hands the unwritten rest to the hook again on the next
/// call, at the same offsets: a hook must depend on the offset only.
pub type TamperHook = Arc<dyn Fn(u64, &mut [u8]) + Send + Sync>;

/// The faults the streams of one [`MemTransport`](super::MemTransport) show.
///
/// Read faults apply to its read halves, write faults (including the tamper
/// hook and the cut) to its write halves. Offsets count the bytes of one
/// stream from 0. The default is no fault.
///
/// ```
/// use mydht_basetest::transport::Faults;
///
/// let faults = Faults::default()
///     .short_reads(3)
///     .would_block_on_write_at(10)
///     .flip_byte(42, 0x01);
/// # let _ = faults;
/// ```
#[derive(Clone, Default)]
pub struct Faults {
    pub(crate) max_read: Option<usize>,
    pub(crate) max_write: Option<usize>,
    pub(crate) read_would_block_at: BTreeSet<u64>,
    pub(crate) write_would_block_at: BTreeSet<u64>,
    pub(crate) cut_after_written: Option<u64>,
    pub(crate) tamper: Option<TamperHook>,
}

impl Faults {
    /// Every read returns at most `max` bytes (at least 1).
    pub fn short_reads(mut self, max: usize) -> Self {
        self.max_read = Some(max.max(1));
        self
    }

    /// Every write takes at most `max` bytes (at least 1).
    pub fn short_writes(mut self, max: usize) -> Self {
        self.max_write = Some(max.max(1));
        self
    }

    /// A read stops just before byte `offset`, and the next read returns
    /// `WouldBlock` once (with a readiness event, so a polled reader is
    /// resumed).
    pub fn would_block_on_read_at(mut self, offset: u64) -> Self {
        self.read_would_block_at.insert(offset);
        self
    }

    /// A write stops just before byte `offset`, and the next write returns
    /// `WouldBlock` once (with a readiness event).
    pub fn would_block_on_write_at(mut self, offset: u64) -> Self {
        self.write_would_block_at.insert(offset);
        self
    }

    /// The connection drops once `bytes` were written: the peer reads them,
    /// then both sides get `ConnectionReset`.
    pub fn cut_after(mut self, bytes: u64) -> Self {
        self.cut_after_written = Some(bytes);
        self
    }

    /// Rewrites written bytes with `hook` (replaces any previous hook).
    pub fn tamper(mut self, hook: TamperHook) -> Self {
        self.tamper = Some(hook);
        self
    }

    /// XORs the written byte at `offset` with `mask` (replaces any previous
    /// hook).
    pub fn flip_byte(self, offset: u64, mask: u8) -> Self {
        self.tamper(Arc::new(move |start, bytes: &mut [u8]| {
            if let Some(i) = offset.checked_sub(start) {
                if let Some(byte) = usize::try_from(i).ok().and_then(|i| bytes.get_mut(i)) {
                    *byte ^= mask;
                }
            }
        }))
    }
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("max_read", &self.max_read)
            .field("max_write", &self.max_write)
            .field("read_would_block_at", &self.read_would_block_at)
            .field("write_would_block_at", &self.write_would_block_at)
            .field("cut_after_written", &self.cut_after_written)
            .field("tamper", &self.tamper.is_some())
            .finish()
    }
}

/// Where one stream stands in its faults.
#[derive(Debug)]
pub(crate) struct FaultState {
    /// Bytes read or written so far.
    pub(crate) offset: u64,
    max: Option<usize>,
    would_block_at: BTreeSet<u64>,
}

/// What the next call of a stream may do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Return an injected `WouldBlock`.
    WouldBlock,
    /// Move at most this many bytes.
    Move(usize),
}

impl FaultState {
    /// The state of a read half.
    pub(crate) fn reading(faults: &Faults) -> Self {
        FaultState {
            offset: 0,
            max: faults.max_read,
            would_block_at: faults.read_would_block_at.clone(),
        }
    }

    /// The state of a write half.
    pub(crate) fn writing(faults: &Faults) -> Self {
        FaultState {
            offset: 0,
            max: faults.max_write,
            would_block_at: faults.write_would_block_at.clone(),
        }
    }

    /// The next call, asked for `len` bytes (`len > 0`), with `limit` an
    /// extra bound from the offset (the cut).
    pub(crate) fn step(&mut self, len: usize, limit: Option<u64>) -> Step {
        if self.would_block_at.remove(&self.offset) {
            return Step::WouldBlock;
        }
        let mut n = len;
        if let Some(max) = self.max {
            n = n.min(max);
        }
        let next_stop = self.would_block_at.range(self.offset..).next().copied();
        for stop in next_stop.into_iter().chain(limit) {
            let room = stop.saturating_sub(self.offset);
            n = n.min(usize::try_from(room).unwrap_or(usize::MAX));
        }
        Step::Move(n)
    }
}
