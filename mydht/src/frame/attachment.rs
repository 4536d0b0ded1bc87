//! Attachments: a known number of raw bytes streamed after a frame through
//! a bounded buffer.

use std::io::{Read, Write};

use mydht_base::{Attachment, Error, ErrorKind, ErrorLevel, Result};

use super::{io_error, retry, truncated};

/// Copies exactly `remaining` bytes from a `Read` to a `Write` through a
/// fixed buffer, resumable on `WouldBlock` from either side.
#[derive(Debug)]
struct BoundedCopy {
    remaining: u64,
    buf: Box<[u8]>,
    /// Bytes read and not yet written: `buf[start..end]`.
    start: usize,
    end: usize,
    flushed: bool,
    failed: Option<Error>,
}

impl BoundedCopy {
    fn new(len: u64, buf_size: usize) -> Self {
        // No bigger than the attachment, at least one byte to make progress.
        let size = (buf_size as u64).min(len).max(1) as usize;
        BoundedCopy {
            remaining: len,
            buf: vec![0; size].into_boxed_slice(),
            start: 0,
            end: 0,
            flushed: false,
            failed: None,
        }
    }

    /// Bytes not yet written to the sink.
    fn remaining(&self) -> u64 {
        self.remaining + (self.end - self.start) as u64
    }

    fn run<R: Read, W: Write>(&mut self, src: &mut R, dst: &mut W, what: &str) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        loop {
            if self.start < self.end {
                match retry(|| dst.write(&self.buf[self.start..self.end])) {
                    Ok(0) => return Err(self.fail(std::io::ErrorKind::WriteZero.into())),
                    Ok(n) => self.start += n,
                    Err(e) => return Err(self.fail(e)),
                }
            } else if self.remaining > 0 {
                let want = (self.buf.len() as u64).min(self.remaining) as usize;
                match retry(|| src.read(&mut self.buf[..want])) {
                    Ok(0) => {
                        let e = truncated(what, self.remaining);
                        self.failed = Some(e.clone());
                        return Err(e);
                    }
                    Ok(n) => {
                        self.start = 0;
                        self.end = n;
                        self.remaining -= n as u64;
                    }
                    Err(e) => return Err(self.fail(e)),
                }
            } else if !self.flushed {
                if let Err(e) = retry(|| dst.flush()) {
                    return Err(self.fail(e));
                }
                self.flushed = true;
            } else {
                return Ok(());
            }
        }
    }

    fn fail(&mut self, e: std::io::Error) -> Error {
        let e = io_error(e);
        if !e.is_would_block() {
            self.failed = Some(e.clone());
        }
        e
    }
}

/// Sends an attachment: streams its bytes from a local source (a file, a
/// buffer) to the connection, after the frame of the message announcing it.
///
/// ```
/// use mydht::frame::{AttachmentReader, AttachmentWriter};
/// use mydht_base::Attachment;
///
/// let content = vec![7u8; 10_000];
/// let announced = Attachment::new(content.len() as u64);
///
/// let mut wire = Vec::new();
/// let mut writer = AttachmentWriter::new(announced, 1024);
/// writer.write_from(&mut &content[..], &mut wire).unwrap();
///
/// let mut received = Vec::new();
/// let mut reader = AttachmentReader::new(announced, 1 << 20, 1024).unwrap();
/// reader.read_into(&mut &wire[..], &mut received).unwrap();
/// assert_eq!(received, content);
/// ```
#[derive(Debug)]
pub struct AttachmentWriter {
    copy: BoundedCopy,
}

impl AttachmentWriter {
    /// A writer of the announced attachment through a buffer of at most
    /// `buf_size` bytes.
    pub fn new(attachment: Attachment, buf_size: usize) -> Self {
        AttachmentWriter {
            copy: BoundedCopy::new(attachment.len(), buf_size),
        }
    }

    /// Streams the attachment from `source` to `conn`, then flushes `conn`;
    /// `Ok` once all of it is written.
    ///
    /// Errors: `Io(WouldBlock)` from either side (level `Ignore`: call
    /// again, nothing is lost); `Io(UnexpectedEof)` when `source` ends
    /// before the announced length, or any other error of either side, with
    /// level `ShutDown` (the peer waits for bytes that will not come).
    pub fn write_from<R: Read, W: Write>(&mut self, source: &mut R, conn: &mut W) -> Result<()> {
        self.copy.run(source, conn, "attachment source")
    }

    /// Bytes not yet written to the connection.
    pub fn remaining(&self) -> u64 {
        self.copy.remaining()
    }
}

/// Receives an attachment: streams its bytes from the connection to a local
/// sink, after the frame of the message announcing it.
#[derive(Debug)]
pub struct AttachmentReader {
    copy: BoundedCopy,
}

impl AttachmentReader {
    /// A reader of the announced attachment through a buffer of at most
    /// `buf_size` bytes, refused (`TooLarge`, level `ShutDown`) when the
    /// announced length is over `max_len`: the peer would send bytes we will
    /// not read.
    pub fn new(attachment: Attachment, max_len: u64, buf_size: usize) -> Result<Self> {
        if attachment.len() > max_len {
            return Err(Error::new(
                ErrorKind::TooLarge,
                ErrorLevel::ShutDown,
                format!(
                    "attachment of {} bytes over the maximum {max_len}",
                    attachment.len()
                ),
            ));
        }
        Ok(AttachmentReader {
            copy: BoundedCopy::new(attachment.len(), buf_size),
        })
    }

    /// Streams the attachment from `conn` to `sink`, then flushes `sink`;
    /// `Ok` once all of it is written. It never reads past the attachment's
    /// end.
    ///
    /// Errors: `Io(WouldBlock)` from either side (level `Ignore`: call
    /// again, nothing is lost); `Io(UnexpectedEof)` when `conn` ends before
    /// the announced length, or any other error of either side, with level
    /// `ShutDown`.
    pub fn read_into<R: Read, W: Write>(&mut self, conn: &mut R, sink: &mut W) -> Result<()> {
        self.copy.run(conn, sink, "attachment")
    }

    /// Bytes not yet written to the sink.
    pub fn remaining(&self) -> u64 {
        self.copy.remaining()
    }
}
