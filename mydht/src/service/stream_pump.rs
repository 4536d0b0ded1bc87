//! [`StreamPump`]: a write service's copy of an [`OutStream`] into its
//! connection, with one bounded buffer.

use std::io::{self, Write};

use mydht_base::{Error, ErrorKind, ErrorLevel, Result, SpawnerYield, WriteYield, YieldReturn};

use crate::stream::OutStream;

/// The pump's buffer: one read of the source, written before the next.
const PUMP_BUF: usize = 64 << 10;

/// Copies a stream's source into a connection, through its layer: the
/// layer's header, each buffer read, the layer's end. Every step can be
/// repeated after a `WouldBlock` of the source or of the connection (the
/// buffer and the step reached are kept), so a restartable write service
/// resumes it where it stopped.
pub(super) struct StreamPump {
    stream: OutStream,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    header_done: bool,
    source_done: bool,
}

impl StreamPump {
    pub(super) fn new(stream: OutStream) -> Self {
        StreamPump {
            stream,
            buf: vec![0; PUMP_BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            header_done: false,
            source_done: false,
        }
    }

    /// Pumps until the source's end is written into `out` (`Ok`), or the
    /// source or `out` blocks and the yield returns (`WouldBlock`: call
    /// again), or fails. Both are read and written through the service's
    /// yield. With a `budget` (a sender pumping in place), at most that
    /// many bytes are read from the source (each read takes its share),
    /// none from a source that may wait, then `WouldBlock` too: the rest
    /// is for a call without one.
    pub(super) fn run<W: Write, Y: SpawnerYield>(
        &mut self,
        out: &mut W,
        yld: &mut Y,
        budget: Option<&mut usize>,
    ) -> Result<()> {
        let res = self.pump(out, yld, budget);
        match &res {
            Err(e) if e.is_would_block() => {}
            Ok(()) => self.stream.ended(Ok(())),
            Err(e) => self.stream.ended(Err(e.clone())),
        }
        res
    }

    fn pump<W: Write, Y: SpawnerYield>(
        &mut self,
        out: &mut W,
        yld: &mut Y,
        mut budget: Option<&mut usize>,
    ) -> Result<()> {
        if !self.header_done {
            if let Some(layer) = self.stream.layer.as_mut() {
                let mut out = WriteYield::new(out, yld);
                layer.write_header(&mut out).map_err(layer_error)?;
            }
            self.header_done = true;
        }
        loop {
            if self.start < self.end {
                let chunk = &self.buf[self.start..self.end];
                let mut out = WriteYield::new(&mut *out, yld);
                let n = match self.stream.layer.as_mut() {
                    Some(layer) => layer.write_into(&mut out, chunk),
                    None => out.write(chunk),
                }
                .map_err(layer_error)?;
                if n == 0 {
                    return Err(layer_error(io::ErrorKind::WriteZero.into()));
                }
                self.start += n;
                continue;
            }
            if self.source_done {
                if let Some(layer) = self.stream.layer.as_mut() {
                    let mut out = WriteYield::new(&mut *out, yld);
                    layer.write_end(&mut out).map_err(layer_error)?;
                }
                return Ok(());
            }
            // In place: only a source that never waits, within the budget.
            if let Some(&left) = budget.as_deref() {
                if left == 0 || !self.stream.never_waits {
                    return Err(io::Error::from(io::ErrorKind::WouldBlock).into());
                }
            }
            let n = self.read_source(yld).map_err(source_error)?;
            if let Some(left) = budget.as_deref_mut() {
                *left = left.saturating_sub(n);
            }
            self.start = 0;
            self.end = n;
            self.source_done = n == 0;
        }
    }
}

impl StreamPump {
    /// One read of the source into the buffer; when it would block, the
    /// source's own wait ([`PumpSource::wait_readable`](crate::stream::PumpSource::wait_readable)),
    /// then again (`Loop`) or `WouldBlock` (`Return`).
    fn read_source<Y: SpawnerYield>(&mut self, yld: &mut Y) -> io::Result<usize> {
        loop {
            match self.stream.source.read(&mut self.buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match self.stream.source.wait_readable(yld) {
                        YieldReturn::Loop => {}
                        YieldReturn::Return => return Err(e),
                    }
                }
                res => return res,
            }
        }
    }
}

/// A `WouldBlock` stays one (ignorable): the write service yields.
fn layer_error(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        return Error::from(e);
    }
    Error::from(e).with_level(ErrorLevel::ShutDown)
}

fn source_error(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        return Error::from(e);
    }
    Error::new(
        ErrorKind::Io(e.kind()),
        ErrorLevel::ShutDown,
        "the stream's source failed",
    )
    .with_source(e)
}
