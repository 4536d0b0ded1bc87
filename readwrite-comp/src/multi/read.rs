//! [`MultiRExt`]: the reading side of a layer stack.

use crate::ExtRead;
use std::io::{self, Read};

/// A stack of [`ExtRead`] layers that is itself one layer.
///
/// `layers[0]` is nearest to the application: it reads from `layers[1]`,
/// which reads from `layers[2]`, ... which reads from the inner stream. `E`
/// may be `Box<dyn ExtRead>` or another `MultiRExt`. An empty stack passes
/// bytes through unchanged (and then never sees a message end).
///
/// Resumable: a header or end step that stopped on `WouldBlock` at layer `i`
/// restarts at layer `i` on the next call.
#[derive(Debug)]
pub struct MultiRExt<E> {
    layers: Vec<E>,
    /// Layers (counted from the wire side) whose header is read.
    headers_done: usize,
    /// Layers (counted from the application side) whose end is read.
    ends_done: usize,
}

impl<E: ExtRead> MultiRExt<E> {
    /// A stack of `layers`, index 0 nearest to the application.
    pub fn new(layers: Vec<E>) -> Self {
        MultiRExt {
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

/// Layers `layers[..]` over `inner`, seen as one `Read` by the layer above.
struct Below<'a, E> {
    layers: &'a mut [E],
    inner: &'a mut dyn Read,
}

impl<E: ExtRead> Read for Below<'_, E> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.layers.split_first_mut() {
            Some((first, rest)) => first.read_from(
                &mut Below {
                    layers: rest,
                    inner: &mut *self.inner,
                },
                buf,
            ),
            None => self.inner.read(buf),
        }
    }
}

impl<E: ExtRead> ExtRead for MultiRExt<E> {
    fn read_header(&mut self, r: &mut dyn Read) -> io::Result<()> {
        while self.headers_done < self.layers.len() {
            let i = self.layers.len() - 1 - self.headers_done;
            let (upper, lower) = self.layers.split_at_mut(i + 1);
            upper[i].read_header(&mut Below {
                layers: lower,
                inner: r,
            })?;
            self.headers_done += 1;
        }
        Ok(())
    }

    fn read_from(&mut self, r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
        Below {
            layers: &mut self.layers,
            inner: r,
        }
        .read(buf)
    }

    fn read_end(&mut self, r: &mut dyn Read) -> io::Result<()> {
        while self.ends_done < self.layers.len() {
            let i = self.ends_done;
            let (upper, lower) = self.layers.split_at_mut(i + 1);
            upper[i].read_end(&mut Below {
                layers: lower,
                inner: r,
            })?;
            self.ends_done += 1;
        }
        self.headers_done = 0;
        self.ends_done = 0;
        Ok(())
    }

    fn keep_buffers(&mut self, keep: bool) {
        for layer in &mut self.layers {
            layer.keep_buffers(keep);
        }
    }
}
