//! The transport: how a node listens, accepts and connects, and the pair of
//! streams (read half, write half) a connection gives.
//!
//! A connection is used from two services at once: the read service owns the
//! [`Transport::ReadStream`] and the write service owns the
//! [`Transport::WriteStream`], possibly on two threads. Both halves share one
//! underlying connection, so a poller registers the connection **once**, for
//! both directions, through either half ([`Registerable`]).
//!
//! This module holds no networking code and does not name a poller: the node
//! picks the registry type `P` (a `mio::Registry`), the transports implement
//! [`Registerable<P>`] for it.
//!
//! # Non-blocking connect
//!
//! On a non-blocking transport [`Transport::connect_with`] returns at once with
//! a write stream whose connection may still be in progress. The write service
//! waits for the first writable readiness of the connection, then asks
//! [`ConnectCheck::check_connect`]:
//! [`ConnectStatus::Established`] means it may write,
//! [`ConnectStatus::Pending`] means the readiness was spurious (wait for the
//! next one), an error means the connection failed (refused, unreachable...).

use std::fmt::Debug;
use std::hash::Hash;
use std::io::{Read, Write};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Result;

/// Listens, accepts and connects: the network side of a node.
///
/// Blocking or not is a property of the transport ([`is_nonblocking`]):
/// - non-blocking: [`accept`] returns `Ok(None)` when nothing is pending,
///   stream reads and writes return `WouldBlock`, the transport and its
///   streams are [`Registerable`] with the node's poller and the node resumes
///   the services on readiness;
/// - blocking: the node calls [`accept`] from a thread of its own, each read
///   and write service blocks in its stream calls, and registration answers
///   `Ok(false)` ("cannot be polled").
///
/// [`is_nonblocking`]: Transport::is_nonblocking
/// [`accept`]: Transport::accept
pub trait Transport {
    /// Where a transport listens and what it connects to (a `SocketAddr` for
    /// TCP). Peers exchange it, hence serde.
    type Address: Clone + Eq + Hash + Debug + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// The read half of a connection, owned by a read service.
    type ReadStream: Read + Send + 'static;
    /// The write half of a connection, owned by a write service.
    type WriteStream: Write + ConnectCheck + Send + 'static;

    /// True when accept and the streams never block (they return
    /// `WouldBlock`) and readiness comes from a poller.
    fn is_nonblocking(&self) -> bool;

    /// The address this transport listens on: the real one when it was asked
    /// for "any port".
    fn local_address(&self) -> Result<Self::Address>;

    /// Takes one pending inbound connection.
    ///
    /// `Ok(None)` when nothing is pending (non-blocking transports), or when a
    /// blocking transport's configured wait ran out. I/O errors are returned;
    /// an error on one accepted connection does not close the listener.
    fn accept(&self) -> Result<Option<Accepted<Self>>>;

    /// Opens a connection to `address`.
    ///
    /// On a non-blocking transport the connection may still be in progress
    /// when this returns: see [`ConnectCheck`]. A failure may be returned here
    /// or later by [`ConnectCheck::check_connect`].
    fn connect_with(&self, address: &Self::Address) -> Result<Connected<Self>>;
}

/// An inbound connection returned by [`Transport::accept`].
pub struct Accepted<T: Transport + ?Sized> {
    /// The read half, for a new read service.
    pub read: T::ReadStream,
    /// The write half, when the transport is bidirectional (TCP is): the
    /// node may reuse it instead of connecting back.
    pub write: Option<T::WriteStream>,
    /// The remote address of the connection (for TCP an ephemeral port, not
    /// the peer's listening address: that comes from the handshake).
    pub from: T::Address,
}

/// An outbound connection returned by [`Transport::connect_with`].
pub struct Connected<T: Transport + ?Sized> {
    /// The write half, for the write service that asked for the connection.
    pub write: T::WriteStream,
    /// The read half, when the transport is bidirectional: the node may
    /// spawn a read service on it instead of waiting for the peer to connect
    /// back.
    pub read: Option<T::ReadStream>,
}

impl<T: Transport + ?Sized> Debug for Accepted<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accepted")
            .field("write", &self.write.is_some())
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl<T: Transport + ?Sized> Debug for Connected<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected")
            .field("read", &self.read.is_some())
            .finish_non_exhaustive()
    }
}

/// Where an outbound connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectStatus {
    /// Still connecting: wait for the next writable readiness.
    Pending,
    /// Connected: the stream may be written.
    Established,
}

/// The check a write service makes after [`Transport::connect_with`] on a
/// non-blocking transport, on the first writable readiness.
pub trait ConnectCheck {
    /// Whether the connection is established; `Err` with the socket error when
    /// it failed (for TCP: `take_error`, then `peer_addr` to tell an
    /// established connection from a spurious readiness).
    ///
    /// Blocking transports connect synchronously and always answer
    /// [`ConnectStatus::Established`].
    fn check_connect(&self) -> Result<ConnectStatus>;
}

/// Something a poller of type `P` can watch: a listening transport or one
/// half of a connection.
///
/// Registering either half of a connection registers the connection for
/// **both** directions under one token: register exactly one half (the one
/// the node learns of first), and dispatch readable readiness to the read
/// service and writable readiness to the write service. Readiness may be
/// spurious (the in-memory test transport reports both directions on every
/// event): a woken service does its I/O until `WouldBlock` and suspends again.
///
/// Registration takes `&mut self` (mio's own sources need it): register a
/// transport before sharing it (in an `Arc`) with the services that connect.
pub trait Registerable<P> {
    /// Registers under `token`. `Ok(false)` means this source cannot be
    /// polled (a blocking transport): the node must run it on threads of its
    /// own instead.
    fn register(&mut self, registry: &P, token: usize) -> Result<bool>;

    /// Stops the readiness notifications. Does nothing for a source that
    /// cannot be polled.
    fn deregister(&mut self, registry: &P) -> Result<()>;

    /// For a read half registered under `token` in `registry`: its socket,
    /// for a read service whose thread waits in it
    /// ([`SpawnerYield::spawn_yield_read`](crate::SpawnerYield::spawn_yield_read)),
    /// turning the registry's watch of its reads off meanwhile. `None` (the
    /// default) when the source has no socket to wait in: the poller wakes
    /// the service as before.
    #[cfg(unix)]
    fn read_wait(
        &self,
        registry: &std::sync::Arc<P>,
        token: usize,
    ) -> Option<Box<dyn crate::ReadWait + Send>> {
        let _ = (registry, token);
        None
    }
}
