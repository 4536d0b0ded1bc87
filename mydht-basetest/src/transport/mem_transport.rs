//! [`MemTransport`]: the in-memory [`Transport`], and the [`MemNetwork`]
//! methods that make one (`listen`, `listen_at`): they live with the type
//! they return, so the network itself (`network.rs`) knows nothing of the
//! transport.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use mio::Registry;
use mydht_base::{Accepted, Connected, Registerable, Result, Transport};

use super::network::{Listener, MemAddress, MemConfig, MemNetwork};
use super::pipe::Blocking;
use super::stream::{halves, MemReadStream, MemWriteStream};

impl MemNetwork {
    /// A transport listening on a fresh address (the "port 0" of TCP).
    pub fn listen(&self, config: MemConfig) -> Result<MemTransport> {
        loop {
            match self.listen_at(self.fresh_address(), config.clone()) {
                Err(e) if e.kind() == mydht_base::ErrorKind::Io(io::ErrorKind::AddrInUse) => {}
                other => return other,
            }
        }
    }

    /// A transport listening on `address`; `AddrInUse` when taken.
    pub fn listen_at(&self, address: MemAddress, config: MemConfig) -> Result<MemTransport> {
        let listener = self.bind(address, config)?;
        Ok(MemTransport::new(self.clone(), address, listener))
    }
}

/// An in-memory transport: a listener on a [`MemNetwork`], whose
/// connections are a pair of bounded pipes each (one per direction), with
/// the [`Faults`](super::Faults) of its [`MemConfig`].
///
/// Non-blocking ([`MemConfig::nonblocking`]): `accept` gives `Ok(None)` when
/// nothing waits, streams give `WouldBlock`, and the transport and either
/// half of a connection register with a `mio::Registry`. Blocking
/// ([`MemConfig::blocking`]): calls wait, and registration answers
/// `Ok(false)`.
///
/// Dropping it frees its address; connections not yet accepted are closed.
#[derive(Debug)]
pub struct MemTransport {
    network: MemNetwork,
    address: MemAddress,
    listener: Arc<Listener>,
}

impl MemTransport {
    fn new(network: MemNetwork, address: MemAddress, listener: Arc<Listener>) -> Self {
        MemTransport {
            network,
            address,
            listener,
        }
    }

    fn config(&self) -> &MemConfig {
        &self.listener.config
    }
}

impl Transport for MemTransport {
    type Address = MemAddress;
    type ReadStream = MemReadStream;
    type WriteStream = MemWriteStream;

    fn is_nonblocking(&self) -> bool {
        self.config().blocking == Blocking::No
    }

    fn local_address(&self) -> Result<MemAddress> {
        Ok(self.address)
    }

    fn accept(&self) -> Result<Option<Accepted<Self>>> {
        let deadline = match self.config().blocking {
            Blocking::Yes(Some(timeout)) => Instant::now().checked_add(timeout),
            _ => None,
        };
        let mut queue = self.listener.queue();
        loop {
            if let Some(pending) = queue.pending.pop_front() {
                let (read, write) = halves(pending.endpoint, &self.config().faults);
                return Ok(Some(Accepted {
                    read,
                    write: Some(write),
                    from: pending.from,
                }));
            }
            queue = match self.config().blocking {
                Blocking::No => {
                    queue.accept_waiting = true;
                    return Ok(None);
                }
                Blocking::Yes(None) => self
                    .listener
                    .arrived
                    .wait(queue)
                    .unwrap_or_else(|e| e.into_inner()),
                Blocking::Yes(Some(_)) => {
                    let left = deadline.map_or(std::time::Duration::MAX, |d| {
                        d.saturating_duration_since(Instant::now())
                    });
                    if left.is_zero() {
                        return Ok(None);
                    }
                    self.listener
                        .arrived
                        .wait_timeout(queue, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    /// Connects at once, or fails with `ConnectionRefused` when nothing
    /// listens on `address` or its backlog is full.
    fn connect_with(&self, address: &MemAddress) -> Result<Connected<Self>> {
        let endpoint = self
            .network
            .connect(self.address, self.config(), *address)?;
        let (read, write) = halves(endpoint, &self.config().faults);
        Ok(Connected {
            write,
            read: Some(read),
        })
    }
}

impl Registerable<Registry> for MemTransport {
    /// Registers the listener: an event comes when a connection arrives.
    /// `Ok(false)` for a blocking transport.
    fn register(&mut self, registry: &Registry, token: usize) -> Result<bool> {
        if self.config().blocking != Blocking::No {
            return Ok(false);
        }
        self.listener.readiness.register(registry, token)?;
        Ok(true)
    }

    fn deregister(&mut self, registry: &Registry) -> Result<()> {
        Ok(self.listener.readiness.deregister(registry)?)
    }
}

impl Drop for MemTransport {
    fn drop(&mut self) {
        self.network.unlisten(self.address);
    }
}
