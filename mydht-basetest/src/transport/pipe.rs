//! One direction of an in-memory connection: a bounded byte buffer between
//! a writer and a reader.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::readiness::Readiness;

/// Whether a side waits in the call or gets `WouldBlock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blocking {
    /// `WouldBlock` when the call cannot progress.
    No,
    /// Wait, at most this long when `Some` (then `TimedOut`).
    Yes(Option<Duration>),
}

#[derive(Debug)]
struct PipeState {
    buf: VecDeque<u8>,
    capacity: usize,
    writer_gone: bool,
    reader_gone: bool,
    /// The connection was cut: both sides get `ConnectionReset`.
    reset: bool,
    /// The reader got `WouldBlock`: ring it on the next change.
    reader_waiting: bool,
    /// The writer got `WouldBlock`: ring it on the next change.
    writer_waiting: bool,
}

/// A bounded pipe. The writer never grows it past its capacity: a full
/// pipe is `WouldBlock` (or a wait, for a blocking side).
#[derive(Debug)]
pub(crate) struct Pipe {
    state: Mutex<PipeState>,
    changed: Condvar,
    reader: Arc<Readiness>,
    writer: Arc<Readiness>,
}

fn reset_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "in-memory connection cut")
}

impl Pipe {
    /// A pipe holding at most `capacity` bytes (at least one).
    pub(crate) fn new(capacity: usize, writer: Arc<Readiness>, reader: Arc<Readiness>) -> Self {
        Pipe {
            state: Mutex::new(PipeState {
                // Grows with use: idle connections cost nothing.
                buf: VecDeque::new(),
                capacity: capacity.max(1),
                writer_gone: false,
                reader_gone: false,
                reset: false,
                reader_waiting: false,
                writer_waiting: false,
            }),
            changed: Condvar::new(),
            reader,
            writer,
        }
    }

    fn state(&self) -> MutexGuard<'_, PipeState> {
        // Every update leaves the state consistent: a panic elsewhere while
        // holding the lock does not make it unusable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a change, or gives the error of a non-blocking or timed
    /// out call.
    fn wait<'a>(
        &self,
        state: MutexGuard<'a, PipeState>,
        wait: Wait,
    ) -> io::Result<MutexGuard<'a, PipeState>> {
        match wait {
            Wait::No => Err(io::ErrorKind::WouldBlock.into()),
            Wait::Forever => Ok(self.changed.wait(state).unwrap_or_else(|e| e.into_inner())),
            Wait::Until(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                Ok(self
                    .changed
                    .wait_timeout(state, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0)
            }
        }
    }

    /// Moves up to `data.len()` bytes in; `Ok(0)` only for empty `data`.
    pub(crate) fn write(&self, data: &[u8], blocking: Blocking) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let wait = Wait::start(blocking);
        let mut state = self.state();
        loop {
            if state.reset {
                return Err(reset_error());
            }
            if state.reader_gone {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let room = state.capacity - state.buf.len();
            if room > 0 {
                let n = room.min(data.len());
                state.buf.extend(&data[..n]);
                if std::mem::take(&mut state.reader_waiting) {
                    self.reader.ring();
                }
                self.changed.notify_all();
                return Ok(n);
            }
            if blocking == Blocking::No {
                state.writer_waiting = true;
            }
            state = self.wait(state, wait)?;
        }
    }

    /// Moves up to `buf.len()` bytes out; `Ok(0)` is end of stream (or an
    /// empty `buf`).
    pub(crate) fn read(&self, buf: &mut [u8], blocking: Blocking) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let wait = Wait::start(blocking);
        let mut state = self.state();
        loop {
            if !state.buf.is_empty() {
                let n = state.buf.len().min(buf.len());
                for (slot, byte) in buf.iter_mut().zip(state.buf.drain(..n)) {
                    *slot = byte;
                }
                if std::mem::take(&mut state.writer_waiting) {
                    self.writer.ring();
                }
                self.changed.notify_all();
                return Ok(n);
            }
            if state.reset {
                return Err(reset_error());
            }
            if state.writer_gone {
                return Ok(0);
            }
            if blocking == Blocking::No {
                state.reader_waiting = true;
            }
            state = self.wait(state, wait)?;
        }
    }

    /// The writer is gone: the reader gets the rest, then end of stream.
    pub(crate) fn close_writer(&self) {
        self.state().writer_gone = true;
        self.changed.notify_all();
        self.reader.ring();
    }

    /// The reader is gone: the writer gets `BrokenPipe`.
    pub(crate) fn close_reader(&self) {
        let mut state = self.state();
        state.reader_gone = true;
        state.buf.clear();
        drop(state);
        self.changed.notify_all();
        self.writer.ring();
    }

    /// The connection is cut: the reader gets what was written, then
    /// `ConnectionReset`; the writer gets `ConnectionReset`.
    pub(crate) fn reset(&self) {
        self.state().reset = true;
        self.changed.notify_all();
        self.reader.ring();
        self.writer.ring();
    }

    /// True once [`reset`](Self::reset) was called.
    pub(crate) fn is_reset(&self) -> bool {
        self.state().reset
    }
}

/// What a call does when it cannot progress, fixed when the call starts.
#[derive(Debug, Clone, Copy)]
enum Wait {
    No,
    Forever,
    Until(Instant),
}

impl Wait {
    fn start(blocking: Blocking) -> Self {
        match blocking {
            Blocking::No => Wait::No,
            Blocking::Yes(None) => Wait::Forever,
            // A timeout too large for the clock is no timeout.
            Blocking::Yes(Some(timeout)) => Instant::now()
                .checked_add(timeout)
                .map_or(Wait::Forever, Wait::Until),
        }
    }
}
