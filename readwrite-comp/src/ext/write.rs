//! The writing side of a layer.

use std::io::{self, Write};

/// The writing side of a stream layer: header, body, end.
///
/// See the [module docs](crate::ext) for the resumability contract every
/// implementation follows.
pub trait ExtWrite {
    /// Writes the layer's header (called once, before the first body byte).
    fn write_header(&mut self, w: &mut dyn Write) -> io::Result<()>;

    /// Writes (part of) `buf` through the layer; returns how many bytes of `buf` were taken.
    fn write_into(&mut self, w: &mut dyn Write, buf: &[u8]) -> io::Result<usize>;

    /// Writes all of `buf` through the layer by looping on
    /// [`write_into`](ExtWrite::write_into).
    ///
    /// Retries `Interrupted`; any other error (including `WouldBlock`) is
    /// returned and the count of bytes already taken is lost, as with
    /// [`Write::write_all`].
    fn write_all_into(&mut self, w: &mut dyn Write, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write_into(w, buf) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "layer took no bytes",
                    ))
                }
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Pushes out whatever the layer buffers that can be written now (not the
    /// end), then flushes `w`.
    fn flush_into(&mut self, w: &mut dyn Write) -> io::Result<()>;

    /// Ends the message: final bytes, end marker, tag. The layer is then ready for a new message (header again).
    ///
    /// Does not flush `w`.
    fn write_end(&mut self, w: &mut dyn Write) -> io::Result<()>;
}

impl<T: ExtWrite + ?Sized> ExtWrite for &mut T {
    fn write_header(&mut self, w: &mut dyn Write) -> io::Result<()> {
        (**self).write_header(w)
    }
    fn write_into(&mut self, w: &mut dyn Write, buf: &[u8]) -> io::Result<usize> {
        (**self).write_into(w, buf)
    }
    fn write_all_into(&mut self, w: &mut dyn Write, buf: &[u8]) -> io::Result<()> {
        (**self).write_all_into(w, buf)
    }
    fn flush_into(&mut self, w: &mut dyn Write) -> io::Result<()> {
        (**self).flush_into(w)
    }
    fn write_end(&mut self, w: &mut dyn Write) -> io::Result<()> {
        (**self).write_end(w)
    }
}

impl<T: ExtWrite + ?Sized> ExtWrite for Box<T> {
    fn write_header(&mut self, w: &mut dyn Write) -> io::Result<()> {
        (**self).write_header(w)
    }
    fn write_into(&mut self, w: &mut dyn Write, buf: &[u8]) -> io::Result<usize> {
        (**self).write_into(w, buf)
    }
    fn write_all_into(&mut self, w: &mut dyn Write, buf: &[u8]) -> io::Result<()> {
        (**self).write_all_into(w, buf)
    }
    fn flush_into(&mut self, w: &mut dyn Write) -> io::Result<()> {
        (**self).flush_into(w)
    }
    fn write_end(&mut self, w: &mut dyn Write) -> io::Result<()> {
        (**self).write_end(w)
    }
}
