//! The error type shared by every MyDHT crate, with a level that tells the
//! caller what to do about it.

use std::borrow::Cow;
use std::fmt;
use std::io;

/// What the owner of a failing service must do with the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorLevel {
    /// Log it and go on: the service keeps running.
    Ignore,
    /// End this service (and drop what it serves, a connection for example).
    ShutDown,
    /// Stop the whole node.
    Fatal,
}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// An I/O error of the given kind.
    Io(io::ErrorKind),
    /// A bounded channel is full: back-pressure the sender could not wait on.
    ChannelFull,
    /// The other side of a channel is gone.
    ChannelClosed,
    /// A service suspended with `YieldReturn::Return`: it kept its state and
    /// must be restarted (this is not a failure).
    Yielded,
    /// A service or a spawned thread ended abnormally (panicked).
    ServiceDied,
    /// Bytes from a peer that do not decode.
    Decode,
    /// A value that does not encode.
    Encode,
    /// A peer failed authentication.
    Auth,
    /// A length or count over its configured bound.
    TooLarge,
    /// A timer expired.
    Timeout,
    /// Bad configuration or API misuse.
    Config,
    /// Anything else.
    Other,
}

/// An error with its kind, level and a message for the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    level: ErrorLevel,
    /// Static for the hot paths (`WouldBlock` costs no allocation).
    message: Cow<'static, str>,
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A new error.
    pub fn new(kind: ErrorKind, level: ErrorLevel, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            kind,
            level,
            message: message.into(),
        }
    }

    /// The error a service returns when it yielded with `YieldReturn::Return`.
    pub fn yielded() -> Self {
        Error::new(ErrorKind::Yielded, ErrorLevel::Ignore, "service yielded")
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What to do about it.
    pub fn level(&self) -> ErrorLevel {
        self.level
    }

    /// The message for the logs.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with another level.
    pub fn with_level(mut self, level: ErrorLevel) -> Self {
        self.level = level;
        self
    }

    /// True for the suspension marker of a restartable service.
    pub fn is_yielded(&self) -> bool {
        self.kind == ErrorKind::Yielded
    }

    /// True when the error is an I/O `WouldBlock`.
    pub fn is_would_block(&self) -> bool {
        self.kind == ErrorKind::Io(io::ErrorKind::WouldBlock)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({:?}): {}", self.kind, self.level, self.message)
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    /// I/O errors end the service by default; `WouldBlock` and `Interrupted`
    /// are ignorable.
    fn from(e: io::Error) -> Self {
        match e.kind() {
            // Hot path of non-blocking I/O: no allocation.
            io::ErrorKind::WouldBlock => Error::new(
                ErrorKind::Io(io::ErrorKind::WouldBlock),
                ErrorLevel::Ignore,
                "would block",
            ),
            io::ErrorKind::Interrupted => Error::new(
                ErrorKind::Io(io::ErrorKind::Interrupted),
                ErrorLevel::Ignore,
                "interrupted",
            ),
            kind => Error::new(ErrorKind::Io(kind), ErrorLevel::ShutDown, e.to_string()),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e.kind {
            ErrorKind::Io(kind) => io::Error::new(kind, e.message.into_owned()),
            _ => io::Error::other(e),
        }
    }
}
