//! [`MultiWExt`]: the writing side of a layer stack.

use crate::ExtWrite;
use std::io::{self, Write};

/// A stack of [`ExtWrite`] layers that is itself one layer.
///
/// `layers[0]` is nearest to the application: data written goes through
/// `layers[0]`, then `layers[1]`, ... then the inner stream. `E` may be
/// `Box<dyn ExtWrite>` to mix layer types, or another `MultiWExt` to nest
/// stacks. An empty stack passes bytes through unchanged.
///
/// Resumable: a header or end step that stopped on `WouldBlock` at layer `i`
/// restarts at layer `i` on the next call.
#[derive(Debug)]
pub struct MultiWExt<E> {
    layers: Vec<E>,
    /// Layers (counted from the wire side) whose header is written.
    headers_done: usize,
    /// Layers (counted from the application side) whose end is written.
    ends_done: usize,
}

impl<E: ExtWrite> MultiWExt<E> {
    /// A stack of `layers`, index 0 nearest to the application.
    pub fn new(layers: Vec<E>) -> Self {
        MultiWExt {
            layers,
            headers_done: 0,
            ends_done: 0,
        }
    }

    /// The layers, index 0 nearest to the application.
    pub fn layers(&self) -> &[E] {
        &self.layers
    }

    /// Gives the layers back.
    pub fn into_layers(self) -> Vec<E> {
        self.layers
    }
}

/// Layers `layers[..]` over `inner`, seen as one `Write` by the layer above.
struct Below<'a, E> {
    layers: &'a mut [E],
    inner: &'a mut dyn Write,
}

impl<E: ExtWrite> Write for Below<'_, E> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.layers.split_first_mut() {
            Some((first, rest)) => first.write_into(
                &mut Below {
                    layers: rest,
                    inner: &mut *self.inner,
                },
                buf,
            ),
            None => self.inner.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.layers.split_first_mut() {
            Some((first, rest)) => first.flush_into(&mut Below {
                layers: rest,
                inner: &mut *self.inner,
            }),
            None => self.inner.flush(),
        }
    }
}

impl<E: ExtWrite> ExtWrite for MultiWExt<E> {
    fn write_header(&mut self, w: &mut dyn Write) -> io::Result<()> {
        // Wire side first: each header is body data of the layers below it.
        while self.headers_done < self.layers.len() {
            let i = self.layers.len() - 1 - self.headers_done;
            let (upper, lower) = self.layers.split_at_mut(i + 1);
            upper[i].write_header(&mut Below {
                layers: lower,
                inner: w,
            })?;
            self.headers_done += 1;
        }
        Ok(())
    }

    fn write_into(&mut self, w: &mut dyn Write, buf: &[u8]) -> io::Result<usize> {
        Below {
            layers: &mut self.layers,
            inner: w,
        }
        .write(buf)
    }

    fn flush_into(&mut self, w: &mut dyn Write) -> io::Result<()> {
        Below {
            layers: &mut self.layers,
            inner: w,
        }
        .flush()
    }

    fn write_end(&mut self, w: &mut dyn Write) -> io::Result<()> {
        // Application side first: an upper layer's end bytes are body data of
        // the layers below, which end after it.
        while self.ends_done < self.layers.len() {
            let i = self.ends_done;
            let (upper, lower) = self.layers.split_at_mut(i + 1);
            upper[i].write_end(&mut Below {
                layers: lower,
                inner: w,
            })?;
            self.ends_done += 1;
        }
        self.headers_done = 0;
        self.ends_done = 0;
        Ok(())
    }
}
