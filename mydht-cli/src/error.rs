//! [`CliError`]: what the command tells the user when it fails — one line
//! and an exit code.

use std::fmt;
use std::io;

use mydht::NodeError;
use mydht_base::{Error, ErrorKind};
use mydht_kvstore::dht::DhtError;

/// Exit code of a bad command line (bad flag, address or key), as clap's.
pub const EXIT_USAGE: i32 = 2;
/// Exit code of a `get` whose key holds no value.
pub const EXIT_NOT_FOUND: i32 = 3;
/// Exit code when the network cannot be reached (bootstrap unreachable,
/// refused, or no answer in time).
pub const EXIT_UNREACHABLE: i32 = 4;
/// Exit code of a local resource error (port in use, data directory or
/// file unreadable).
pub const EXIT_LOCAL: i32 = 5;
/// Exit code of any other failure.
pub const EXIT_FAILED: i32 = 1;

/// A failure of the command: the line printed on standard error (after
/// `error: `) and the exit code.
#[derive(Debug)]
pub struct CliError {
    message: String,
    code: i32,
}

impl CliError {
    /// A failure with this message and exit code.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code,
        }
    }

    /// A bad command line.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(EXIT_USAGE, message)
    }

    /// A local resource the command cannot use.
    pub fn local(message: impl Into<String>) -> Self {
        Self::new(EXIT_LOCAL, message)
    }

    /// The network the command needs cannot be reached.
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self::new(EXIT_UNREACHABLE, message)
    }

    /// Any other failure.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(EXIT_FAILED, message)
    }

    /// The process exit code.
    pub fn code(&self) -> i32 {
        self.code
    }

    /// A node's error while doing `what`: its class decides the exit
    /// code (an I/O error is local, an unreachable or refusing peer is
    /// the network's).
    pub fn node(what: &str, e: &Error) -> Self {
        let code = match e.kind() {
            ErrorKind::Io(_) | ErrorKind::Config => EXIT_LOCAL,
            ErrorKind::Timeout | ErrorKind::Auth | ErrorKind::Rejected => EXIT_UNREACHABLE,
            _ => EXIT_FAILED,
        };
        Self::new(code, format!("{what}: {}", describe(e)))
    }

    /// A failed call to another node while doing `what`.
    pub fn call(what: &str, e: &NodeError) -> Self {
        match e {
            NodeError::Timeout(_)
            | NodeError::Unreachable(_)
            | NodeError::Rejected(_)
            | NodeError::AuthFailed(_) => {
                Self::unreachable(format!("{what}: {}", describe(e.error())))
            }
            _ => Self::failed(format!("{what}: {}", describe(e.error()))),
        }
    }

    /// A node that could not start (`what`): its error's class decides.
    pub fn start(what: &str, e: &DhtError) -> Self {
        match e {
            DhtError::Node(n) => Self::node(what, n.error()),
            DhtError::Failed(e) => Self::node(what, e),
            other => Self::failed(format!("{what}: {other}")),
        }
    }

    /// A failed DHT call while doing `what`.
    pub fn dht(what: &str, e: &DhtError) -> Self {
        match e {
            DhtError::NotFound => Self::new(EXIT_NOT_FOUND, format!("{what}: not found")),
            DhtError::Timeout => Self::unreachable(format!("{what}: no answer in time")),
            DhtError::Node(n) => Self::call(what, n),
            other => Self::failed(format!("{what}: {other}")),
        }
    }
}

/// An error's message (an I/O error's says what the system said).
fn describe(e: &Error) -> String {
    match e.kind() {
        ErrorKind::Io(kind) if e.message().is_empty() => io::Error::from(kind).to_string(),
        _ => e.message().to_string(),
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}
