//! [`TimeoutAsBlock`]: a blocking stream's timeout seen as `WouldBlock`.

use std::io::{self, Read, Write};

/// Wraps a stream so that a timed-out read or write (a blocking transport's
/// I/O timeout) reads as `WouldBlock`: frames, shadows and the handshake
/// keep their progress on `WouldBlock` only, and the service then yields
/// (and notices a stop) instead of failing.
#[derive(Debug)]
pub struct TimeoutAsBlock<S>(pub S);

fn map(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::TimedOut {
        io::Error::from(io::ErrorKind::WouldBlock)
    } else {
        e
    }
}

impl<S: Read> Read for TimeoutAsBlock<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(map)
    }
}

impl<S: Write> Write for TimeoutAsBlock<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(map)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(map)
    }
}
