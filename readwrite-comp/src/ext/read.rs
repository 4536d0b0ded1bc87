//! The reading side of a layer.

use std::io::{self, Read};

/// The reading side of a stream layer: header, body, end.
///
/// See the [module docs](crate::ext) for the resumability contract every
/// implementation follows.
pub trait ExtRead {
    /// Reads and checks the layer's header (called once, before the first
    /// body byte).
    fn read_header(&mut self, r: &mut dyn Read) -> io::Result<()>;

    /// Reads message bytes; Ok(0) means the end of this message (not of the stream).
    ///
    /// An empty `buf` also returns `Ok(0)` without reading.
    fn read_from(&mut self, r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize>;

    /// Fills `buf` by looping on [`read_from`](ExtRead::read_from); the end of
    /// the message before `buf` is full is `UnexpectedEof`.
    ///
    /// Retries `Interrupted`; any other error (including `WouldBlock`) is
    /// returned and the bytes already read are lost, as with
    /// [`Read::read_exact`].
    fn read_exact_from(&mut self, r: &mut dyn Read, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_from(r, buf) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "message ended before the buffer was full",
                    ))
                }
                Ok(n) => buf = &mut buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Consumes and checks the end of the message (end marker, tag); then ready for the next message.
    ///
    /// Body bytes not read yet are read, checked and discarded.
    fn read_end(&mut self, r: &mut dyn Read) -> io::Result<()>;

    /// A hint from whoever reads the stream: with `keep` set, the stream is
    /// being read on and on (pumped somewhere), so buffers the layer would
    /// give back when the inner stream blocks are kept for the next read;
    /// unset, they are given back as usual (now, if the layer is between
    /// two chunks). Nothing a peer sends changes what is kept: at most what
    /// the layer holds anyway while a chunk arrives. Does nothing by
    /// default.
    fn keep_buffers(&mut self, keep: bool) {
        let _ = keep;
    }
}

impl<T: ExtRead + ?Sized> ExtRead for &mut T {
    fn read_header(&mut self, r: &mut dyn Read) -> io::Result<()> {
        (**self).read_header(r)
    }
    fn read_from(&mut self, r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_from(r, buf)
    }
    fn read_exact_from(&mut self, r: &mut dyn Read, buf: &mut [u8]) -> io::Result<()> {
        (**self).read_exact_from(r, buf)
    }
    fn read_end(&mut self, r: &mut dyn Read) -> io::Result<()> {
        (**self).read_end(r)
    }
    fn keep_buffers(&mut self, keep: bool) {
        (**self).keep_buffers(keep)
    }
}

impl<T: ExtRead + ?Sized> ExtRead for Box<T> {
    fn read_header(&mut self, r: &mut dyn Read) -> io::Result<()> {
        (**self).read_header(r)
    }
    fn read_from(&mut self, r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_from(r, buf)
    }
    fn read_exact_from(&mut self, r: &mut dyn Read, buf: &mut [u8]) -> io::Result<()> {
        (**self).read_exact_from(r, buf)
    }
    fn read_end(&mut self, r: &mut dyn Read) -> io::Result<()> {
        (**self).read_end(r)
    }
    fn keep_buffers(&mut self, keep: bool) {
        (**self).keep_buffers(keep)
    }
}
