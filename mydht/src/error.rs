//! [`NodeError`]: why a call of the node handle failed, as a caller
//! matches on it. Each variant keeps the node's [`Error`] (its kind, level,
//! message and cause, reachable through
//! [`source`](std::error::Error::source)).

use std::fmt;
use std::io;

use mydht_base::{Error, ErrorKind};

/// Why a call of a [`NodeHandle`](crate::NodeHandle) failed.
///
/// ```
/// use mydht::NodeError;
/// use mydht_base::{Error, ErrorKind, ErrorLevel};
///
/// let e = Error::new(ErrorKind::Timeout, ErrorLevel::Ignore, "query timed out");
/// match NodeError::from(e) {
///     NodeError::Timeout(e) => assert_eq!(e.message(), "query timed out"),
///     other => panic!("not a timeout: {other}"),
/// }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NodeError {
    /// The call's time ran out before its answer (a query's replies, a
    /// connection's admission, a wait for peers).
    Timeout(Error),
    /// Nothing answers at the address, or the connection was refused,
    /// reset or closed before the peer was admitted.
    Unreachable(Error),
    /// Peer management refused the peer: rejected, no room for it, or
    /// evicted for a higher priority one.
    Rejected(Error),
    /// The peer failed authentication (bad signature, wrong id, replay,
    /// another cipher suite or auth mode).
    AuthFailed(Error),
    /// The node has stopped.
    Stopped(Error),
    /// A bounded queue of the node is full: back-pressure, try later.
    ChannelFull(Error),
    /// One of the node's bounds refused the call (too many connections,
    /// queries or waits).
    TooMany(Error),
    /// The call cannot be made like this (a blocking call on the thread
    /// that drives the loop, a configuration for the other start).
    Misuse(Error),
    /// Anything else (a service failed, a message did not encode).
    Failed(Error),
}

impl NodeError {
    /// The node's error behind it.
    pub fn error(&self) -> &Error {
        match self {
            NodeError::Timeout(e)
            | NodeError::Unreachable(e)
            | NodeError::Rejected(e)
            | NodeError::AuthFailed(e)
            | NodeError::Stopped(e)
            | NodeError::ChannelFull(e)
            | NodeError::TooMany(e)
            | NodeError::Misuse(e)
            | NodeError::Failed(e) => e,
        }
    }
}

/// I/O kinds that mean the peer could not be reached or dropped the
/// connection.
fn unreachable(kind: io::ErrorKind) -> bool {
    use io::ErrorKind as K;
    matches!(
        kind,
        K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::AddrNotAvailable
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::TimedOut
            | K::UnexpectedEof
            | K::BrokenPipe
    )
}

impl From<Error> for NodeError {
    fn from(e: Error) -> Self {
        match e.kind() {
            ErrorKind::Timeout => NodeError::Timeout(e),
            ErrorKind::Io(k) if unreachable(k) => NodeError::Unreachable(e),
            ErrorKind::Rejected => NodeError::Rejected(e),
            ErrorKind::Auth => NodeError::AuthFailed(e),
            ErrorKind::ChannelClosed => NodeError::Stopped(e),
            ErrorKind::ChannelFull => NodeError::ChannelFull(e),
            ErrorKind::TooLarge => NodeError::TooMany(e),
            ErrorKind::Config => NodeError::Misuse(e),
            _ => NodeError::Failed(e),
        }
    }
}

impl From<NodeError> for Error {
    fn from(e: NodeError) -> Self {
        // A clone of an `Error` shares its cause (an `Arc`).
        e.error().clone()
    }
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            NodeError::Timeout(_) => "timed out",
            NodeError::Unreachable(_) => "unreachable",
            NodeError::Rejected(_) => "rejected",
            NodeError::AuthFailed(_) => "authentication failed",
            NodeError::Stopped(_) => "node stopped",
            NodeError::ChannelFull(_) => "channel full",
            NodeError::TooMany(_) => "too many",
            NodeError::Misuse(_) => "misuse",
            NodeError::Failed(_) => "failed",
        };
        write!(f, "{what}: {}", self.error())
    }
}

impl std::error::Error for NodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.error())
    }
}
