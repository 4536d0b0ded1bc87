//! Why a cell could not be sealed, peeled or opened.

use std::fmt;
use std::io;

use openssl::error::ErrorStack;

/// A cell operation failed. Reaches stream callers inside an `io::Error`
/// (see [`CellError::from_io`]).
#[derive(Clone, Debug)]
pub enum CellError {
    /// The cell size cannot hold `max_layers` entries plus data, or is above
    /// [`MAX_CELL_SIZE`](super::MAX_CELL_SIZE).
    Layout {
        /// Cell size asked for.
        cell_size: usize,
        /// Layers asked for.
        max_layers: usize,
    },
    /// A route needs from 1 to the layout's `max_layers` layers.
    LayerCount {
        /// Layers given.
        layers: usize,
        /// Layers the layout allows.
        max: usize,
    },
    /// A cell buffer or payload does not fit the layout.
    Size {
        /// Length given.
        len: usize,
        /// Length expected (cell) or allowed (payload).
        expected: usize,
    },
    /// Cell number `cell` of the stream does not verify: changed, reordered,
    /// replayed or under another key.
    Tampered {
        /// Index of the cell in the stream.
        cell: u64,
    },
    /// The stream ended inside cell number `cell` or before the last cell.
    Truncated {
        /// Index of the missing or partial cell.
        cell: u64,
    },
    /// Cell number `cell` verified but its info is not valid for the layout,
    /// or it is an empty cell before the last (refused by a `CellReader`).
    BadInfo {
        /// Index of the cell in the stream.
        cell: u64,
    },
    /// 2^64 cells under one key: the nonce counter would wrap.
    CounterExhausted,
    /// openssl failed (not a verification failure).
    Crypto(ErrorStack),
    /// ring refused an AES-256-GCM key or a seal (a message longer than
    /// GCM allows); not a verification failure.
    Aead,
}

impl CellError {
    /// The `CellError` inside an `io::Error` returned by a cell stream layer.
    pub fn from_io(e: &io::Error) -> Option<&CellError> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<CellError>())
    }

    fn io_kind(&self) -> io::ErrorKind {
        match self {
            CellError::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            CellError::Tampered { .. } | CellError::BadInfo { .. } => io::ErrorKind::InvalidData,
            CellError::Layout { .. } | CellError::LayerCount { .. } | CellError::Size { .. } => {
                io::ErrorKind::InvalidInput
            }
            CellError::CounterExhausted | CellError::Crypto(_) | CellError::Aead => {
                io::ErrorKind::Other
            }
        }
    }
}

impl fmt::Display for CellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CellError::Layout {
                cell_size,
                max_layers,
            } => write!(
                f,
                "cell size {cell_size} cannot carry {max_layers} layers and data"
            ),
            CellError::LayerCount { layers, max } => {
                write!(f, "{layers} layers, expected 1 to {max}")
            }
            CellError::Size { len, expected } => {
                write!(f, "length {len} does not fit the cell layout ({expected})")
            }
            CellError::Tampered { cell } => write!(f, "cell {cell} does not verify"),
            CellError::Truncated { cell } => write!(f, "stream truncated at cell {cell}"),
            CellError::BadInfo { cell } => write!(f, "cell {cell} has an invalid info"),
            CellError::CounterExhausted => write!(f, "cell counter exhausted"),
            CellError::Crypto(e) => write!(f, "cell crypto: {e}"),
            CellError::Aead => write!(f, "cell crypto: AES-256-GCM key or length refused"),
        }
    }
}

impl std::error::Error for CellError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CellError::Crypto(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ErrorStack> for CellError {
    fn from(e: ErrorStack) -> Self {
        CellError::Crypto(e)
    }
}

impl From<CellError> for io::Error {
    fn from(e: CellError) -> Self {
        io::Error::new(e.io_kind(), e)
    }
}
