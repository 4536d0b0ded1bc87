//! Streams that cut I/O short and inject `WouldBlock` / `Interrupted`.

use std::io::{self, Read, Write};

/// Where and how a [`FaultyReader`] / [`FaultyWriter`] misbehaves.
///
/// Built up from [`FaultPlan::new`] (no faults):
/// - [`max_io`](FaultPlan::max_io): at most `n` bytes per call (1 = byte by byte);
/// - [`block_at`](FaultPlan::block_at): one `WouldBlock` when the stream
///   position reaches each chosen offset (calls never cross an offset);
/// - [`seeded`](FaultPlan::seeded): from a seed, random call lengths in
///   `1..=max_io` and a `WouldBlock` or `Interrupted` on some calls.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    max_io: usize,
    /// Sorted offsets where a block is still to come.
    block_at: Vec<u64>,
    next_block: usize,
    rng: Option<SplitMix>,
    block_per_mille: u64,
}

/// Largest random block chance, so a retrying caller always gets through.
const MAX_BLOCK_PER_MILLE: u16 = 900;

impl Default for FaultPlan {
    fn default() -> Self {
        Self::new()
    }
}

impl FaultPlan {
    /// No faults: calls pass through unchanged.
    pub fn new() -> Self {
        FaultPlan {
            max_io: usize::MAX,
            block_at: Vec::new(),
            next_block: 0,
            rng: None,
            block_per_mille: 0,
        }
    }

    /// Moves at most `n` bytes per call (`n` of 0 counts as 1).
    pub fn max_io(mut self, n: usize) -> Self {
        self.max_io = n.max(1);
        self
    }

    /// Injects one `WouldBlock` when the stream position reaches each of
    /// `offsets`.
    pub fn block_at(mut self, offsets: impl IntoIterator<Item = u64>) -> Self {
        self.block_at.extend(offsets);
        self.block_at.sort_unstable();
        self.block_at.dedup();
        self
    }

    /// Randomises call lengths (in `1..=max_io`) from `seed`, and fails about
    /// `block_per_mille` calls in a thousand (at most 900) with `WouldBlock`
    /// or `Interrupted`.
    pub fn seeded(mut self, seed: u64, block_per_mille: u16) -> Self {
        self.rng = Some(SplitMix(seed));
        self.block_per_mille = u64::from(block_per_mille.min(MAX_BLOCK_PER_MILLE));
        self
    }

    /// How many bytes the call at `pos` asking for `want` may move, or the
    /// error it gets instead.
    fn next(&mut self, pos: u64, want: usize) -> io::Result<usize> {
        if want == 0 {
            return Ok(0);
        }
        let mut reached = false;
        while self
            .block_at
            .get(self.next_block)
            .is_some_and(|&b| b <= pos)
        {
            self.next_block += 1;
            reached = true;
        }
        if reached {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut limit = want.min(self.max_io);
        if let Some(&b) = self.block_at.get(self.next_block) {
            limit = limit.min(usize::try_from(b - pos).unwrap_or(usize::MAX));
        }
        match &mut self.rng {
            None => Ok(limit),
            Some(rng) => {
                let draw = rng.next();
                if draw % 1000 < self.block_per_mille {
                    let kind = if draw & (1 << 32) == 0 {
                        io::ErrorKind::WouldBlock
                    } else {
                        io::ErrorKind::Interrupted
                    };
                    return Err(kind.into());
                }
                Ok(1 + (rng.next() % limit as u64) as usize)
            }
        }
    }
}

/// A `Read` that follows a [`FaultPlan`]: short reads, injected errors.
#[derive(Debug)]
pub struct FaultyReader<R> {
    inner: R,
    plan: FaultPlan,
    pos: u64,
}

impl<R: Read> FaultyReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R, plan: FaultPlan) -> Self {
        FaultyReader {
            inner,
            plan,
            pos: 0,
        }
    }

    /// Bytes read from the inner stream so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The inner stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Gives the inner stream back.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for FaultyReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.plan.next(self.pos, buf.len())?;
        let got = self.inner.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

/// A `Write` that follows a [`FaultPlan`]: short writes, injected errors.
#[derive(Debug)]
pub struct FaultyWriter<W> {
    inner: W,
    plan: FaultPlan,
    pos: u64,
}

impl<W: Write> FaultyWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W, plan: FaultPlan) -> Self {
        FaultyWriter {
            inner,
            plan,
            pos: 0,
        }
    }

    /// Bytes written to the inner stream so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The inner stream.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Gives the inner stream back.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for FaultyWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.plan.next(self.pos, buf.len())?;
        let put = self.inner.write(&buf[..n])?;
        self.pos += put as u64;
        Ok(put)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// splitmix64: tiny, seedable, good enough to pick fault points.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
