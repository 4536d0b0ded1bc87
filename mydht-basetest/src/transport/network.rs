//! The in-memory network: which address a listener has, and the queue of
//! connections waiting for its accept.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::faults::Faults;
use super::pipe::{Blocking, Pipe};
use super::readiness::Readiness;
use super::stream::Endpoint;

/// The address of an in-memory listener, unique in its [`MemNetwork`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MemAddress(pub u64);

impl fmt::Display for MemAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mem:{}", self.0)
    }
}

impl std::str::FromStr for MemAddress {
    type Err = std::num::ParseIntError;

    /// Parses what `Display` writes, `mem:N` (a node announces its address
    /// as text).
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        s.strip_prefix("mem:").unwrap_or(s).parse().map(MemAddress)
    }
}

/// How a [`MemTransport`](super::MemTransport) and its streams behave.
#[derive(Debug, Clone)]
pub struct MemConfig {
    pub(crate) blocking: Blocking,
    pub(crate) pipe_capacity: usize,
    pub(crate) backlog: usize,
    pub(crate) faults: Faults,
}

impl MemConfig {
    /// Default pipe capacity (bytes buffered toward one reader).
    pub const DEFAULT_PIPE_CAPACITY: usize = 64 * 1024;
    /// Default number of connections waiting for `accept`.
    pub const DEFAULT_BACKLOG: usize = 64;

    /// Non-blocking, pollable: `WouldBlock` and readiness events.
    pub fn nonblocking() -> Self {
        MemConfig {
            blocking: Blocking::No,
            pipe_capacity: Self::DEFAULT_PIPE_CAPACITY,
            backlog: Self::DEFAULT_BACKLOG,
            faults: Faults::default(),
        }
    }

    /// Blocking: accept, reads and writes wait, at most `timeout` when given
    /// (then accept gives `Ok(None)`, reads and writes `TimedOut`).
    pub fn blocking(timeout: Option<Duration>) -> Self {
        MemConfig {
            blocking: Blocking::Yes(timeout),
            ..Self::nonblocking()
        }
    }

    /// At most `bytes` (at least 1) wait in the pipe toward each read half of
    /// this transport: a writer then gets `WouldBlock` (or waits).
    pub fn with_pipe_capacity(mut self, bytes: usize) -> Self {
        self.pipe_capacity = bytes.max(1);
        self
    }

    /// At most `connections` (at least 1) wait for `accept`; more are
    /// refused.
    pub fn with_backlog(mut self, connections: usize) -> Self {
        self.backlog = connections.max(1);
        self
    }

    /// The faults of this transport's streams.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }
}

/// The accepting side of a connection, waiting in a listener's queue.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) endpoint: Endpoint,
    pub(crate) from: MemAddress,
}

#[derive(Debug, Default)]
pub(crate) struct Queue {
    pub(crate) pending: VecDeque<Pending>,
    /// `accept` found nothing: ring the listener on the next connection.
    pub(crate) accept_waiting: bool,
}

/// A listener as the network sees it.
#[derive(Debug)]
pub(crate) struct Listener {
    pub(crate) queue: Mutex<Queue>,
    pub(crate) arrived: Condvar,
    pub(crate) readiness: Arc<Readiness>,
    pub(crate) config: MemConfig,
}

impl Listener {
    pub(crate) fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug, Default)]
struct NetworkInner {
    listeners: Mutex<HashMap<MemAddress, Arc<Listener>>>,
    next_address: AtomicU64,
}

/// A network of in-memory transports: connections between them are pairs
/// of bounded pipes. Clones share the network.
///
/// ```
/// use mydht_base::Transport;
/// use mydht_basetest::transport::{MemConfig, MemNetwork};
/// use std::io::{Read, Write};
///
/// let network = MemNetwork::new();
/// let server = network.listen(MemConfig::nonblocking()).unwrap();
/// let client = network.listen(MemConfig::nonblocking()).unwrap();
/// let mut connected = client.connect_with(&server.local_address().unwrap()).unwrap();
/// connected.write.write_all(b"hello").unwrap();
/// let mut accepted = server.accept().unwrap().unwrap();
/// let mut buf = [0u8; 5];
/// accepted.read.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"hello");
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemNetwork {
    inner: Arc<NetworkInner>,
}

impl MemNetwork {
    /// An empty network.
    pub fn new() -> Self {
        MemNetwork::default()
    }

    /// An address never handed out by [`MemNetwork::fresh_address`] before.
    pub(crate) fn fresh_address(&self) -> MemAddress {
        MemAddress(self.inner.next_address.fetch_add(1, Ordering::Relaxed))
    }

    /// Adds a listener on `address` configured by `config`; `AddrInUse`
    /// when taken. The transport around it is made by
    /// [`MemNetwork::listen_at`].
    pub(crate) fn bind(&self, address: MemAddress, config: MemConfig) -> io::Result<Arc<Listener>> {
        let mut listeners = self.listeners();
        if listeners.contains_key(&address) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{address} is taken"),
            ));
        }
        let listener = Arc::new(Listener {
            queue: Mutex::new(Queue::default()),
            arrived: Condvar::new(),
            readiness: Arc::new(Readiness::default()),
            config,
        });
        listeners.insert(address, listener.clone());
        Ok(listener)
    }

    fn listeners(&self) -> MutexGuard<'_, HashMap<MemAddress, Arc<Listener>>> {
        self.inner
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Removes a listener: connections still waiting for its accept are
    /// dropped (their connecting side reads end of stream).
    pub(crate) fn unlisten(&self, address: MemAddress) {
        let removed = self.listeners().remove(&address);
        if let Some(listener) = removed {
            let pending = std::mem::take(&mut listener.queue().pending);
            for connection in pending {
                connection.endpoint.close();
            }
        }
    }

    /// Queues a new connection from `from` (configured by `from_config`) to
    /// `to`, and gives the connecting side's endpoint.
    pub(crate) fn connect(
        &self,
        from: MemAddress,
        from_config: &MemConfig,
        to: MemAddress,
    ) -> io::Result<Endpoint> {
        let listener = self.listeners().get(&to).cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("nothing listens on {to}"),
            )
        })?;
        let mut queue = listener.queue();
        if queue.pending.len() >= listener.config.backlog {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("backlog of {to} is full"),
            ));
        }
        let connecting = Arc::new(Readiness::default());
        let accepting = Arc::new(Readiness::default());
        // Each pipe is sized by its reader, as a TCP receive window is.
        let to_accepting = Arc::new(Pipe::new(
            listener.config.pipe_capacity,
            connecting.clone(),
            accepting.clone(),
        ));
        let to_connecting = Arc::new(Pipe::new(
            from_config.pipe_capacity,
            accepting.clone(),
            connecting.clone(),
        ));
        queue.pending.push_back(Pending {
            endpoint: Endpoint {
                inbound: to_accepting.clone(),
                outbound: to_connecting.clone(),
                readiness: accepting,
                blocking: listener.config.blocking,
            },
            from,
        });
        if std::mem::take(&mut queue.accept_waiting) {
            listener.readiness.ring();
        }
        listener.arrived.notify_all();
        Ok(Endpoint {
            inbound: to_connecting,
            outbound: to_accepting,
            readiness: connecting,
            blocking: from_config.blocking,
        })
    }
}
