//! [`CompW`]: a writer that sends everything through a layer.

use crate::ExtWrite;
use std::io::{self, Write};

/// Owns a stream and an [`ExtWrite`] layer and is itself a [`Write`].
///
/// The layer's header is written lazily before the first body byte (or by
/// [`write_end`](CompW::write_end) for an empty message);
/// [`write_end`](CompW::write_end) ends the message, and writing again starts
/// a new one. Every method keeps the layer's resumability contract: after
/// `WouldBlock`, repeat the same call.
#[derive(Debug)]
pub struct CompW<W: Write, E: ExtWrite> {
    inner: W,
    layer: E,
    /// Whether the current message's header is fully written.
    in_message: bool,
}

impl<W: Write, E: ExtWrite> CompW<W, E> {
    /// Wraps `inner` so that everything written goes through `layer`.
    pub fn new(inner: W, layer: E) -> Self {
        CompW {
            inner,
            layer,
            in_message: false,
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.in_message {
            self.layer.write_header(&mut self.inner)?;
            self.in_message = true;
        }
        Ok(())
    }

    /// Ends the current message (writing its header first if nothing was
    /// written); the next write starts a new message. Does not flush the
    /// inner stream.
    pub fn write_end(&mut self) -> io::Result<()> {
        self.start()?;
        self.layer.write_end(&mut self.inner)?;
        self.in_message = false;
        Ok(())
    }

    /// Writes all of `buf` through the layer without ever blocking, the
    /// layer holding what the inner stream does not take now (see
    /// [`ExtWrite::hold_into`]): `Unsupported` if the layer cannot hold.
    /// Only the layer's header may return `WouldBlock`, having taken
    /// nothing of `buf`.
    pub fn hold(&mut self, buf: &[u8]) -> io::Result<()> {
        if !self.layer.can_hold() {
            return Err(io::ErrorKind::Unsupported.into());
        }
        self.start()?;
        self.layer.hold_into(&mut self.inner, buf)
    }

    /// Bytes the layer holds ready for the inner stream ([`ExtWrite::held`]).
    pub fn held(&self) -> usize {
        self.layer.held()
    }

    /// Writes out what the layer holds ready, keeping a partial chunk
    /// open; resumable after `WouldBlock` ([`ExtWrite::write_held_into`]).
    pub fn write_held(&mut self) -> io::Result<()> {
        self.layer.write_held_into(&mut self.inner)
    }

    /// The inner stream.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner stream, mutably: writing to it directly bypasses the layer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The layer.
    pub fn layer(&self) -> &E {
        &self.layer
    }

    /// The layer, mutably (for example to reach its cipher between messages).
    pub fn layer_mut(&mut self) -> &mut E {
        &mut self.layer
    }

    /// Runs `f` on this writer seen through `view(inner)`: a wrapper of the
    /// inner stream that limits or watches what is written (a deadline, a
    /// byte count), for the time of one operation. The message goes on where
    /// it stands (its header is not written again), and `f`'s progress is
    /// kept.
    pub fn through<'a, V: Write + 'a, T>(
        &'a mut self,
        view: impl FnOnce(&'a mut W) -> V,
        f: impl FnOnce(&mut CompW<V, &'a mut E>) -> T,
    ) -> T {
        let mut w = CompW {
            inner: view(&mut self.inner),
            layer: &mut self.layer,
            in_message: self.in_message,
        };
        let out = f(&mut w);
        self.in_message = w.in_message;
        out
    }

    /// Gives the inner stream back; bytes the layer still buffers are lost,
    /// so call [`write_end`](CompW::write_end) first.
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Gives the inner stream and the layer back.
    pub fn into_parts(self) -> (W, E) {
        (self.inner, self.layer)
    }
}

impl<W: Write, E: ExtWrite> Write for CompW<W, E> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.start()?;
        self.layer.write_into(&mut self.inner, buf)
    }

    /// Pushes what the layer buffers (if a message is open), then flushes the
    /// inner stream.
    fn flush(&mut self) -> io::Result<()> {
        if self.in_message {
            self.layer.flush_into(&mut self.inner)
        } else {
            self.inner.flush()
        }
    }
}
