//! The two halves of an in-memory connection.

use std::io::{self, Read, Write};
use std::sync::Arc;

use mio::Registry;
use mydht_base::{ConnectCheck, ConnectStatus, Registerable, Result};

use super::faults::{FaultState, Faults, Step, TamperHook};
use super::pipe::{Blocking, Pipe};
use super::readiness::Readiness;

/// Most bytes a tampered write copies at once (the rest is a short write).
const TAMPER_CHUNK: usize = 16 * 1024;

/// One side of a connection: what its read half and write half share.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) inbound: Arc<Pipe>,
    pub(crate) outbound: Arc<Pipe>,
    pub(crate) readiness: Arc<Readiness>,
    pub(crate) blocking: Blocking,
}

impl Endpoint {
    /// Drops the connection in both directions.
    fn cut(&self) {
        self.inbound.reset();
        self.outbound.reset();
    }

    /// Closes both directions as dropping both halves would.
    pub(crate) fn close(&self) {
        self.inbound.close_reader();
        self.outbound.close_writer();
    }

    fn register(&self, registry: &Registry, token: usize) -> Result<bool> {
        if self.blocking != Blocking::No {
            return Ok(false);
        }
        self.readiness.register(registry, token)?;
        Ok(true)
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        // The pipes, kept alive by the peer, still ring this readiness:
        // close the doorbell so a reused token gets no stale events.
        self.readiness.close();
    }
}

/// Splits an endpoint into the halves a read and a write service own.
pub(crate) fn halves(endpoint: Endpoint, faults: &Faults) -> (MemReadStream, MemWriteStream) {
    let endpoint = Arc::new(endpoint);
    (
        MemReadStream {
            endpoint: endpoint.clone(),
            faults: FaultState::reading(faults),
        },
        MemWriteStream {
            endpoint,
            faults: FaultState::writing(faults),
            cut_after: faults.cut_after_written,
            tamper: faults.tamper.clone(),
        },
    )
}

/// The read half of an in-memory connection.
///
/// End of stream (`Ok(0)`) once the peer's write half is dropped and its
/// bytes read; `ConnectionReset` once the connection is cut.
#[derive(Debug)]
pub struct MemReadStream {
    endpoint: Arc<Endpoint>,
    faults: FaultState,
}

impl MemReadStream {
    /// Drops the connection now, in both directions: both sides get
    /// `ConnectionReset` (after reading what was already sent to them).
    pub fn cut(&self) {
        self.endpoint.cut();
    }
}

impl Read for MemReadStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = match self.faults.step(buf.len(), None) {
            Step::WouldBlock => {
                // The stream is ready again at once: say so to the poller.
                self.endpoint.readiness.ring();
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Step::Move(n) => n,
        };
        let n = self
            .endpoint
            .inbound
            .read(&mut buf[..n], self.endpoint.blocking)?;
        self.faults.offset += n as u64;
        Ok(n)
    }
}

impl Registerable<Registry> for MemReadStream {
    /// Registers the connection (both directions) under `token`; `Ok(false)`
    /// for a blocking transport. The connection registers once:
    /// `AlreadyExists` if either half already did.
    fn register(&mut self, registry: &Registry, token: usize) -> Result<bool> {
        self.endpoint.register(registry, token)
    }

    fn deregister(&mut self, registry: &Registry) -> Result<()> {
        Ok(self.endpoint.readiness.deregister(registry)?)
    }
}

impl Drop for MemReadStream {
    fn drop(&mut self) {
        self.endpoint.inbound.close_reader();
    }
}

/// The write half of an in-memory connection.
///
/// Writes take at most the free room of the peer's bounded pipe: a full
/// pipe is `WouldBlock` (non-blocking) or a wait (blocking). Dropping it is
/// end of stream for the peer.
pub struct MemWriteStream {
    endpoint: Arc<Endpoint>,
    faults: FaultState,
    cut_after: Option<u64>,
    tamper: Option<TamperHook>,
}

impl std::fmt::Debug for MemWriteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemWriteStream")
            .field("endpoint", &self.endpoint)
            .field("faults", &self.faults)
            .field("cut_after", &self.cut_after)
            .field("tamper", &self.tamper.is_some())
            .finish()
    }
}

impl MemWriteStream {
    /// Drops the connection now, in both directions (see
    /// [`MemReadStream::cut`]).
    pub fn cut(&self) {
        self.endpoint.cut();
    }
}

impl Write for MemWriteStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.cut_after.is_some_and(|cut| self.faults.offset >= cut) {
            self.endpoint.cut();
        }
        if self.endpoint.outbound.is_reset() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "in-memory connection cut",
            ));
        }
        let n = match self.faults.step(buf.len(), self.cut_after) {
            Step::WouldBlock => {
                self.endpoint.readiness.ring();
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Step::Move(n) => n,
        };
        let written = match &self.tamper {
            Some(hook) => {
                // A bounded copy: the caller's buffer may be much larger.
                let mut chunk = buf[..n.min(TAMPER_CHUNK)].to_vec();
                hook(self.faults.offset, &mut chunk);
                self.endpoint
                    .outbound
                    .write(&chunk, self.endpoint.blocking)?
            }
            None => self
                .endpoint
                .outbound
                .write(&buf[..n], self.endpoint.blocking)?,
        };
        self.faults.offset += written as u64;
        if self.cut_after == Some(self.faults.offset) {
            self.endpoint.cut();
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ConnectCheck for MemWriteStream {
    /// Established at once (a missing listener fails `connect_with`), or the
    /// reset of a cut connection.
    fn check_connect(&self) -> Result<ConnectStatus> {
        if self.endpoint.outbound.is_reset() {
            return Err(
                io::Error::new(io::ErrorKind::ConnectionReset, "in-memory connection cut").into(),
            );
        }
        Ok(ConnectStatus::Established)
    }
}

impl Registerable<Registry> for MemWriteStream {
    /// Registers the connection (both directions) under `token`; `Ok(false)`
    /// for a blocking transport. The connection registers once:
    /// `AlreadyExists` if either half already did.
    fn register(&mut self, registry: &Registry, token: usize) -> Result<bool> {
        self.endpoint.register(registry, token)
    }

    fn deregister(&mut self, registry: &Registry) -> Result<()> {
        Ok(self.endpoint.readiness.deregister(registry)?)
    }
}

impl Drop for MemWriteStream {
    fn drop(&mut self) {
        self.endpoint.outbound.close_writer();
    }
}
