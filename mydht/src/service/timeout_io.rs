//! [`TimeoutAsBlock`]: a blocking stream's timeout seen as `WouldBlock`;
//! [`Activity`]: when a connection last moved bytes.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When a connection's streams last read or wrote a byte (millisecond
/// grain), shared by its read and write services, any stream lent from
/// them, and the node's loop, which closes a pooled connection idle for
/// `NodeConstants::idle_close`.
#[derive(Clone, Debug)]
pub struct Activity(Arc<Clock>);

#[derive(Debug)]
struct Clock {
    epoch: Instant,
    /// Milliseconds from `epoch` to the last read or write that moved
    /// bytes.
    last_ms: AtomicU64,
}

impl Activity {
    /// A clock whose last activity is `now`.
    pub fn new(now: Instant) -> Self {
        Activity(Arc::new(Clock {
            epoch: now,
            last_ms: AtomicU64::new(0),
        }))
    }

    /// Bytes moved now. A read-modify-write at most once a millisecond per
    /// thread: a plain load most calls.
    pub fn mark(&self) {
        let ms = u64::try_from(self.0.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        if self.0.last_ms.load(Ordering::Relaxed) < ms {
            self.0.last_ms.fetch_max(ms, Ordering::Relaxed);
        }
    }

    /// When bytes last moved (the clock's start if never).
    pub fn last(&self) -> Instant {
        self.0.epoch + Duration::from_millis(self.0.last_ms.load(Ordering::Relaxed))
    }
}

/// Wraps a stream so that a timed-out read or write (a blocking transport's
/// I/O timeout) reads as `WouldBlock`: frames, shadows and the handshake
/// keep their progress on `WouldBlock` only, and the service then yields
/// (and notices a stop) instead of failing. With an [`Activity`], each
/// read or write that moves bytes marks it.
#[derive(Debug)]
pub struct TimeoutAsBlock<S>(pub S, pub Option<Activity>);

impl<S> TimeoutAsBlock<S> {
    /// `stream`, its activity not kept.
    pub fn new(stream: S) -> Self {
        TimeoutAsBlock(stream, None)
    }

    /// `stream`, each read or write that moves bytes marking `activity`.
    pub fn with_activity(stream: S, activity: Activity) -> Self {
        TimeoutAsBlock(stream, Some(activity))
    }

    fn moved(&self, n: usize) {
        if n > 0 {
            if let Some(a) = &self.1 {
                a.mark();
            }
        }
    }
}

fn map(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::TimedOut {
        io::Error::from(io::ErrorKind::WouldBlock)
    } else {
        e
    }
}

impl<S: Read> Read for TimeoutAsBlock<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf).map_err(map)?;
        self.moved(n);
        Ok(n)
    }
}

impl<S: Write> Write for TimeoutAsBlock<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.0.write(buf).map_err(map)?;
        self.moved(n);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(map)
    }
}
