//! [`CompR`]: a reader that reads everything through a layer.

use crate::ExtRead;
use std::io::{self, Read};

/// Owns a stream and an [`ExtRead`] layer and is itself a [`Read`].
///
/// The layer's header is read lazily on the first read; `read` returns
/// `Ok(0)` at the end of the current message, and
/// [`read_end`](CompR::read_end) moves on to the next message. Every method
/// keeps the layer's resumability contract: after `WouldBlock`, repeat the
/// same call.
#[derive(Debug)]
pub struct CompR<R: Read, E: ExtRead> {
    inner: R,
    layer: E,
    /// Whether the current message's header is fully read.
    in_message: bool,
}

impl<R: Read, E: ExtRead> CompR<R, E> {
    /// Wraps `inner` so that everything read comes through `layer`.
    pub fn new(inner: R, layer: E) -> Self {
        CompR {
            inner,
            layer,
            in_message: false,
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.in_message {
            self.layer.read_header(&mut self.inner)?;
            self.in_message = true;
        }
        Ok(())
    }

    /// Consumes and checks the end of the current message, discarding body
    /// bytes not read yet; the next read starts the next message.
    pub fn read_end(&mut self) -> io::Result<()> {
        self.start()?;
        self.layer.read_end(&mut self.inner)?;
        self.in_message = false;
        Ok(())
    }

    /// The inner stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The inner stream, mutably: reading from it directly bypasses the layer.
    pub fn get_mut(&mut self) -> &mut R {
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

    /// Gives the inner stream back, positioned where the layer stopped.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Gives the inner stream and the layer back.
    pub fn into_parts(self) -> (R, E) {
        (self.inner, self.layer)
    }
}

impl<R: Read, E: ExtRead> Read for CompR<R, E> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.start()?;
        self.layer.read_from(&mut self.inner, buf)
    }
}
