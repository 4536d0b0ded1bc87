//! [`ReadYield`] and [`WriteYield`]: a non-blocking stream seen through a
//! service's [`SpawnerYield`], so that a stream that would block suspends the
//! service instead of failing or spinning.
//!
//! On `WouldBlock` they call [`SpawnerYield::spawn_yield`]:
//! - [`YieldReturn::Loop`]: the service was suspended and has been resumed
//!   (its stream is likely ready): the operation is retried;
//! - [`YieldReturn::Return`]: the `WouldBlock` error is returned; the service
//!   keeps its progress in its own state and returns
//!   [`Error::yielded`](crate::Error::yielded) to be restarted later.
//!
//! `Interrupted` is retried at once. Any other result is passed through.
//!
//! Under a `Return` yield, prefer `read`/`write` with the progress kept in the
//! service: std's `read_exact` and `write_all` cannot tell how much of the
//! buffer was done when they fail, so their progress would be lost.

use std::io::{self, Read, Write};

use super::{SpawnerYield, YieldReturn};

/// Runs `op` until it does not end in `Interrupted`, yielding on
/// `WouldBlock` as the module documentation says.
fn retry_with_yield<T, Y: SpawnerYield + ?Sized>(
    yld: &mut Y,
    mut op: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => match yld.spawn_yield() {
                YieldReturn::Loop => continue,
                YieldReturn::Return => return Err(e),
            },
            result => return result,
        }
    }
}

/// A non-blocking reader that yields its service on `WouldBlock`.
///
/// ```
/// use std::io::Read;
/// use mydht_base::{ReadYield, SpawnerYield, YieldReturn};
///
/// /// A yield that suspends nothing and asks for a restart.
/// struct Restart;
/// impl SpawnerYield for Restart {
///     fn spawn_yield(&mut self) -> YieldReturn {
///         YieldReturn::Return
///     }
/// }
///
/// let mut stream: &[u8] = b"ping";
/// let mut buf = [0; 4];
/// let n = ReadYield::new(&mut stream, &mut Restart).read(&mut buf).unwrap();
/// assert_eq!(&buf[..n], b"ping");
/// ```
pub struct ReadYield<'a, R: Read + ?Sized, Y: SpawnerYield + ?Sized> {
    stream: &'a mut R,
    yld: &'a mut Y,
}

impl<'a, R: Read + ?Sized, Y: SpawnerYield + ?Sized> ReadYield<'a, R, Y> {
    /// Reads `stream`, yielding through `yld`.
    pub fn new(stream: &'a mut R, yld: &'a mut Y) -> Self {
        ReadYield { stream, yld }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &R {
        self.stream
    }

    /// The wrapped stream, mutably (reading it directly bypasses the yield).
    pub fn get_mut(&mut self) -> &mut R {
        self.stream
    }
}

impl<R: Read + ?Sized, Y: SpawnerYield + ?Sized> Read for ReadYield<'_, R, Y> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let stream = &mut *self.stream;
        retry_with_yield(self.yld, || stream.read(buf))
    }
}

/// A non-blocking writer that yields its service on `WouldBlock`, for
/// `write` and `flush` alike.
///
/// ```
/// use std::io::Write;
/// use mydht_base::{SpawnerYield, WriteYield, YieldReturn};
///
/// /// A yield that suspends nothing and asks for a restart.
/// struct Restart;
/// impl SpawnerYield for Restart {
///     fn spawn_yield(&mut self) -> YieldReturn {
///         YieldReturn::Return
///     }
/// }
///
/// let mut out = Vec::new();
/// let mut yld = Restart;
/// let mut w = WriteYield::new(&mut out, &mut yld);
/// w.write_all(b"pong").unwrap();
/// w.flush().unwrap();
/// assert_eq!(out, b"pong");
/// ```
pub struct WriteYield<'a, W: Write + ?Sized, Y: SpawnerYield + ?Sized> {
    stream: &'a mut W,
    yld: &'a mut Y,
}

impl<'a, W: Write + ?Sized, Y: SpawnerYield + ?Sized> WriteYield<'a, W, Y> {
    /// Writes to `stream`, yielding through `yld`.
    pub fn new(stream: &'a mut W, yld: &'a mut Y) -> Self {
        WriteYield { stream, yld }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &W {
        self.stream
    }

    /// The wrapped stream, mutably (writing to it directly bypasses the
    /// yield).
    pub fn get_mut(&mut self) -> &mut W {
        self.stream
    }
}

impl<W: Write + ?Sized, Y: SpawnerYield + ?Sized> Write for WriteYield<'_, W, Y> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let stream = &mut *self.stream;
        retry_with_yield(self.yld, || stream.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        let stream = &mut *self.stream;
        retry_with_yield(self.yld, || stream.flush())
    }
}
