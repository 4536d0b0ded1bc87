//! The tunnel's error type, as the caller of a full tunnel sees it.

use std::fmt;
use std::io;

use crate::cell::CellError;
use crate::config::ConfigError;
use crate::crypto::CryptoError;
use crate::header::{HeaderError, HopKind};

/// Why a hop could not carry an onion on: what a hop's error report
/// names (see [`TunnelError::HopFailed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HopFailure {
    /// The hop has no connection to the next address.
    Unreachable,
    /// The hop could not read its header (bad MAC, wrong key, malformed).
    BadHeader,
    /// The hop refused a replayed reply block.
    Replayed,
    /// The content failed at the hop (tampered or truncated cells).
    BadContent,
}

/// Why a tunnel could not be written, proxied or read.
///
/// Stream layers return it inside an `io::Error` (with a kind that says
/// what happened: `InvalidData`, `UnexpectedEof`, ...); get it back with
/// [`TunnelError::from_io`]. Cell errors stay [`CellError`]s in their
/// `io::Error` ([`CellError::from_io`]).
#[derive(Clone, Debug)]
pub enum TunnelError {
    /// The configuration is out of range.
    Config(ConfigError),
    /// The header could not be built or is not valid for this hop.
    Header(HeaderError),
    /// The content cells failed (tamper, truncation, layout).
    Cell(CellError),
    /// The stream ended inside the header.
    TruncatedHeader {
        /// Header bytes received.
        got: usize,
    },
    /// A reply header was already used through this hop: refused.
    Replayed,
    /// A reply reached this sender but no reply keys are kept for it
    /// (unknown, already used, or expired).
    UnknownReply,
    /// Too many replies are awaited already; the pending table is full.
    TooManyPendingReplies,
    /// The exit's content does not start with a valid reply marker or block.
    BadReplyBlock,
    /// The sender asked for no reply: the exit has no reply block.
    NoReplyBlock,
    /// This hop's role needs the full tunnel object (replay cache or reply
    /// keys) before the stream can go on: see `FullTunnel::admit`.
    NeedsFullTunnel(HopKind),
    /// The operation does not fit this hop's role (for instance reading a
    /// payload at a relay).
    WrongRole(HopKind),
    /// The operation was called before the header was read or written.
    NoHeader,
    /// This one-message onion already carried its message.
    Used,
    /// A hop of the route reported it could not go on (see
    /// `FullWriter::read_error_report`).
    HopFailed {
        /// Index of the hop in the route (0 = first relay; the last index
        /// is the exit).
        hop: usize,
        /// What went wrong there.
        failure: HopFailure,
    },
    /// A hop of the reply route reported it could not go on: the report
    /// came back along the reply route to the exit, then along the query
    /// route to the sender (see `FullWriter::read_error_report`).
    ReplyHopFailed {
        /// Index of the hop in the reply route (0 = the first reply relay,
        /// after the exit; the number of reply relays = the sender herself,
        /// who found the reply bad).
        hop: usize,
        /// What went wrong there.
        failure: HopFailure,
    },
    /// An error report that no hop of the route made (tampered or foreign).
    BadErrorReport,
    /// openssl failed.
    Crypto(CryptoError),
}

impl TunnelError {
    /// The `TunnelError` inside an `io::Error` returned by a tunnel layer.
    pub fn from_io(e: &io::Error) -> Option<&TunnelError> {
        e.get_ref().and_then(|i| i.downcast_ref::<TunnelError>())
    }

    fn io_kind(&self) -> io::ErrorKind {
        match self {
            TunnelError::TruncatedHeader { .. } => io::ErrorKind::UnexpectedEof,
            TunnelError::Header(_)
            | TunnelError::Replayed
            | TunnelError::UnknownReply
            | TunnelError::BadReplyBlock
            | TunnelError::BadErrorReport => io::ErrorKind::InvalidData,
            TunnelError::HopFailed { .. } | TunnelError::ReplyHopFailed { .. } => {
                io::ErrorKind::ConnectionAborted
            }
            TunnelError::Config(_)
            | TunnelError::NeedsFullTunnel(_)
            | TunnelError::WrongRole(_)
            | TunnelError::NoReplyBlock
            | TunnelError::NoHeader
            | TunnelError::Used => io::ErrorKind::InvalidInput,
            TunnelError::TooManyPendingReplies => io::ErrorKind::OutOfMemory,
            TunnelError::Cell(_) | TunnelError::Crypto(_) => io::ErrorKind::Other,
        }
    }
}

impl fmt::Display for TunnelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelError::Config(e) => write!(f, "tunnel config: {e}"),
            TunnelError::Header(e) => write!(f, "tunnel header: {e}"),
            TunnelError::Cell(e) => write!(f, "tunnel cells: {e}"),
            TunnelError::TruncatedHeader { got } => {
                write!(f, "stream ended after {got} header bytes")
            }
            TunnelError::Replayed => write!(f, "reply header already used"),
            TunnelError::UnknownReply => write!(f, "no reply keys kept for this reply"),
            TunnelError::TooManyPendingReplies => write!(f, "too many pending replies"),
            TunnelError::BadReplyBlock => write!(f, "malformed reply block"),
            TunnelError::NoReplyBlock => write!(f, "the sender asked for no reply"),
            TunnelError::NeedsFullTunnel(k) => {
                write!(f, "a {k:?} hop needs the full tunnel object")
            }
            TunnelError::WrongRole(k) => write!(f, "not possible at a {k:?} hop"),
            TunnelError::NoHeader => write!(f, "header not read or written yet"),
            TunnelError::Used => write!(f, "onion already used for a message"),
            TunnelError::HopFailed { hop, failure } => {
                write!(f, "hop {hop} of the route failed: {failure:?}")
            }
            TunnelError::ReplyHopFailed { hop, failure } => {
                write!(f, "hop {hop} of the reply route failed: {failure:?}")
            }
            TunnelError::BadErrorReport => write!(f, "error report made by no hop of the route"),
            TunnelError::Crypto(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TunnelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TunnelError::Config(e) => Some(e),
            TunnelError::Header(e) => Some(e),
            TunnelError::Cell(e) => Some(e),
            TunnelError::Crypto(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ConfigError> for TunnelError {
    fn from(e: ConfigError) -> Self {
        TunnelError::Config(e)
    }
}

impl From<HeaderError> for TunnelError {
    fn from(e: HeaderError) -> Self {
        TunnelError::Header(e)
    }
}

impl From<CellError> for TunnelError {
    fn from(e: CellError) -> Self {
        TunnelError::Cell(e)
    }
}

impl From<CryptoError> for TunnelError {
    fn from(e: CryptoError) -> Self {
        TunnelError::Crypto(e)
    }
}

impl From<TunnelError> for io::Error {
    fn from(e: TunnelError) -> Self {
        match e {
            // Keep cell errors where `CellError::from_io` finds them.
            TunnelError::Cell(c) => c.into(),
            e => io::Error::new(e.io_kind(), e),
        }
    }
}
