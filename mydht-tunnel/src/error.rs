//! [`TunnelSendError`]: why a tunnel query failed, as the sender's api
//! receives it.

use std::fmt;

use tunnel::TunnelError;

/// Why a query sent through a tunnel got no answer. The api reply of a
/// tunnel node is `Result<Answer, TunnelSendError>`, so every failure the
/// node learns of reaches the caller typed, and a query that hears nothing
/// ends with the handle's `NodeError::Timeout` (or
/// [`TunnelSendError::Timeout`] when the node sweeps it first).
#[derive(Clone, Debug)]
pub enum TunnelSendError {
    /// Fewer known peers than the route needs (the node asked for more).
    NotEnoughPeers {
        /// Peers the route provider knows now.
        have: usize,
        /// Peers the route needs (relays, the exit, the reply relays).
        need: usize,
    },
    /// The destination named is not among the peers the node knows.
    UnknownDestination,
    /// The tunnel layer refused: the route is too long for the
    /// configuration, the table of awaited replies is full, or a hop of the
    /// route reported a failure ([`TunnelError::HopFailed`] names it).
    Tunnel(TunnelError),
    /// The reply did not come within the node's tunnel timeout.
    Timeout,
    /// The first hop of the route could not be reached, or the stream to
    /// it failed (and no hop of the route reported why).
    Unreachable,
    /// A relay of the reply route (`hop`, counted from the first reply
    /// relay) went offline at the sender before the reply began to
    /// arrive: the reply cannot come back through it (and, when the relay
    /// is on the query route too, neither can the report of the hop
    /// before it).
    ReplyRelayOffline {
        /// The relay's index in the reply route.
        hop: usize,
    },
    /// Too many queries await a reply already (bounded).
    TooManyPending,
    /// An address that is not a route address (ours or a peer's).
    BadAddress,
    /// The message does not fit in one tunnel frame of this mode.
    TooLarge {
        /// Its encoded length.
        len: usize,
        /// The most this mode carries.
        max: usize,
    },
    /// A message that does not encode or decode.
    Codec(String),
    /// A stream failed with this kind of I/O error.
    Io(std::io::ErrorKind),
}

impl fmt::Display for TunnelSendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelSendError::NotEnoughPeers { have, need } => {
                write!(f, "{have} peers known, the route needs {need}")
            }
            TunnelSendError::UnknownDestination => write!(f, "destination peer not known"),
            TunnelSendError::Tunnel(e) => write!(f, "tunnel: {e}"),
            TunnelSendError::Timeout => write!(f, "no reply within the tunnel timeout"),
            TunnelSendError::Unreachable => write!(f, "the route's first hop is unreachable"),
            TunnelSendError::ReplyRelayOffline { hop } => {
                write!(f, "reply relay {hop} went offline before the reply came")
            }
            TunnelSendError::TooManyPending => write!(f, "too many queries await a reply"),
            TunnelSendError::BadAddress => write!(f, "not a route address"),
            TunnelSendError::TooLarge { len, max } => {
                write!(f, "message of {len} bytes, at most {max} in this mode")
            }
            TunnelSendError::Codec(m) => write!(f, "message codec: {m}"),
            TunnelSendError::Io(k) => write!(f, "stream: {k}"),
        }
    }
}

impl std::error::Error for TunnelSendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TunnelSendError::Tunnel(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TunnelError> for TunnelSendError {
    fn from(e: TunnelError) -> Self {
        TunnelSendError::Tunnel(e)
    }
}
