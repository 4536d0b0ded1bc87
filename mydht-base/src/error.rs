//! The error type shared by every MyDHT crate, with a level that tells the
//! caller what to do about it.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::sync::Arc;

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
    /// Peer management refused a peer (rejected it, had no room for it, or
    /// evicted it for a higher priority one).
    Rejected,
    /// A length or count over its configured bound.
    TooLarge,
    /// A timer expired.
    Timeout,
    /// Bad configuration or API misuse.
    Config,
    /// Anything else.
    Other,
}

/// The cause of an [`Error`]: any error, shared so [`Error`] stays `Clone`.
pub type ErrorSource = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// An error with its kind, level, a message for the logs and, optionally,
/// the error that caused it ([`std::error::Error::source`]).
///
/// Equality (`==`) compares the kind, the level and the message only, never
/// the source: two errors that tell the caller the same thing are equal,
/// whatever foreign error (which seldom implements `PartialEq`) caused them.
/// Downcast [`source`](std::error::Error::source) to look at the cause.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    level: ErrorLevel,
    /// Static for the hot paths (`WouldBlock` costs no allocation).
    message: Cow<'static, str>,
    /// The cause, if any (none on the hot paths).
    source: Option<ErrorSource>,
}

impl PartialEq for Error {
    /// Kind, level and message; the source is not compared.
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.level == other.level && self.message == other.message
    }
}

impl Eq for Error {}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A new error.
    pub fn new(kind: ErrorKind, level: ErrorLevel, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            kind,
            level,
            message: message.into(),
            source: None,
        }
    }

    /// The same error caused by `source`, which
    /// [`std::error::Error::source`] then returns (replacing any earlier
    /// source). Costs one allocation.
    pub fn with_source(self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.with_shared_source(Arc::new(source))
    }

    /// The same error caused by an already shared `source`.
    pub fn with_shared_source(mut self, source: ErrorSource) -> Self {
        self.source = Some(source);
        self
    }

    /// The cause, shared (`Send + Sync`, unlike what
    /// [`std::error::Error::source`] returns).
    pub fn shared_source(&self) -> Option<&ErrorSource> {
        self.source.as_ref()
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

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<io::Error> for Error {
    /// I/O errors end the service by default and keep the `io::Error` as
    /// their source; `WouldBlock` and `Interrupted` are ignorable and, being
    /// the hot path of non-blocking I/O, allocate nothing (static message,
    /// no source). An `io::Error` made from an [`Error`] gives that
    /// [`Error`] back unchanged.
    fn from(e: io::Error) -> Self {
        match e.kind() {
            _ if e.get_ref().is_some_and(|inner| inner.is::<Error>()) => *e
                .into_inner()
                .and_then(|inner| inner.downcast::<Error>().ok())
                .expect("checked above"),
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
            kind => {
                Error::new(ErrorKind::Io(kind), ErrorLevel::ShutDown, e.to_string()).with_source(e)
            }
        }
    }
}

impl From<Error> for io::Error {
    /// An `io::Error` of the error's I/O kind (`Other` for the other kinds)
    /// carrying the [`Error`] itself: `get_ref` downcasts to it, `source`
    /// is its source (the original `io::Error` of an I/O error), and
    /// converting back gives it unchanged. `WouldBlock` and `Interrupted`
    /// without a source become the plain, allocation-free `io::Error` of
    /// their kind.
    fn from(e: Error) -> Self {
        match e.kind {
            ErrorKind::Io(kind @ (io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted))
                if e.source.is_none() =>
            {
                io::Error::from(kind)
            }
            ErrorKind::Io(kind) => io::Error::new(kind, e),
            _ => io::Error::other(e),
        }
    }
}
