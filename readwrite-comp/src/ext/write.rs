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

    /// Whether the layer can [hold](ExtWrite::hold_into) writes: fixed for
    /// a given layer. `false` by default.
    fn can_hold(&self) -> bool {
        false
    }

    /// Takes all of `buf` and never returns `WouldBlock` or `Interrupted`:
    /// what `w` does not take now is kept in the layer, ready for `w`,
    /// which [`held`](ExtWrite::held) counts and
    /// [`write_held_into`](ExtWrite::write_held_into) writes out.
    ///
    /// For a caller that cannot stop half-way, such as an encoder writing
    /// a message straight through the layer. The layer's buffer grows with
    /// what it holds: the caller bounds it, by not holding more while
    /// `held` is large. Any other error of `w` is returned, and the stream
    /// is then out of sync.
    ///
    /// A layer that cannot hold (see [`can_hold`](ExtWrite::can_hold))
    /// returns `Unsupported` and takes nothing.
    fn hold_into(&mut self, _w: &mut dyn Write, _buf: &[u8]) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Bytes the layer holds ready for the inner stream and not yet
    /// written (not counting data it keeps to fill a chunk or a cell).
    fn held(&self) -> usize {
        0
    }

    /// Writes out what the layer holds ready, as
    /// [`flush_into`](ExtWrite::flush_into) without closing a partial chunk
    /// or flushing `w`; resumable after `WouldBlock`.
    fn write_held_into(&mut self, _w: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
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
    fn can_hold(&self) -> bool {
        (**self).can_hold()
    }
    fn hold_into(&mut self, w: &mut dyn Write, buf: &[u8]) -> io::Result<()> {
        (**self).hold_into(w, buf)
    }
    fn held(&self) -> usize {
        (**self).held()
    }
    fn write_held_into(&mut self, w: &mut dyn Write) -> io::Result<()> {
        (**self).write_held_into(w)
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
    fn can_hold(&self) -> bool {
        (**self).can_hold()
    }
    fn hold_into(&mut self, w: &mut dyn Write, buf: &[u8]) -> io::Result<()> {
        (**self).hold_into(w, buf)
    }
    fn held(&self) -> usize {
        (**self).held()
    }
    fn write_held_into(&mut self, w: &mut dyn Write) -> io::Result<()> {
        (**self).write_held_into(w)
    }
}
