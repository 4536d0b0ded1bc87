//! The fixed-size onion header (Sphinx-style): built by the sender, processed
//! by each hop with one X25519 operation.
//!
//! Wire form: `[ephemeral public 32][routing block: max_layers slots][MAC 16]`.
//! A hop derives [`HopKeys`](crate::crypto::HopKeys) from its static key and
//! the ephemeral public key, checks the MAC over the routing block, deciphers
//! `routing block ‖ zeros(slot)` with a ChaCha20 keystream, reads its own slot
//! (kind, next address, next ephemeral public key, next MAC, next link key)
//! and sends on the rest as the next routing block. The link key field is
//! the next reply hop's [`HopKeys::link_key`](crate::crypto::HopKeys) in a
//! reply relay's slot and random bytes in every other slot, so query and
//! reply slots have one size and look alike. The sender precomputes a filler so every
//! MAC verifies; the header keeps the same length at every hop.

mod build;
mod ephemeral;
mod layout;
mod process;
mod slot;

pub use build::{build_header, build_header_with, route_from_peers, BuiltHeader, RouteHop};
pub use ephemeral::{EphemeralKeys, HopTable, PreparedHop};
pub use layout::HeaderLayout;
pub use process::{HeaderProcessor, ProcessedHeader};
pub use slot::HopKind;

use std::fmt;

use crate::crypto::CryptoError;

/// Why a header could not be built or processed.
#[derive(Clone, Debug)]
pub enum HeaderError {
    /// The route is empty (it needs at least the exit).
    EmptyRoute,
    /// The route has more layers than the config allows.
    RouteTooLong {
        /// Layers asked for.
        layers: usize,
        /// Layers the config allows.
        max: usize,
    },
    /// An address is longer than the config allows.
    AddressTooLong(usize),
    /// The header bytes have the wrong length.
    BadLength(usize),
    /// The header MAC does not verify: tampered, or not for this hop.
    BadMac,
    /// The authenticated slot is malformed (unknown kind, bad length).
    BadSlot,
    /// An openssl operation failed (for instance a low-order ephemeral key).
    Crypto(CryptoError),
}

impl PartialEq for HeaderError {
    fn eq(&self, other: &Self) -> bool {
        use HeaderError::*;
        match (self, other) {
            (EmptyRoute, EmptyRoute) | (BadMac, BadMac) | (BadSlot, BadSlot) => true,
            (Crypto(_), Crypto(_)) => true,
            (RouteTooLong { layers: a, max: b }, RouteTooLong { layers: c, max: d }) => {
                a == c && b == d
            }
            (AddressTooLong(a), AddressTooLong(b)) | (BadLength(a), BadLength(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::EmptyRoute => write!(f, "empty route"),
            HeaderError::RouteTooLong { layers, max } => {
                write!(f, "route of {layers} layers, at most {max}")
            }
            HeaderError::AddressTooLong(n) => write!(f, "address of {n} bytes too long"),
            HeaderError::BadLength(n) => write!(f, "header of {n} bytes has the wrong length"),
            HeaderError::BadMac => write!(f, "header MAC does not verify"),
            HeaderError::BadSlot => write!(f, "malformed header slot"),
            HeaderError::Crypto(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for HeaderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HeaderError::Crypto(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CryptoError> for HeaderError {
    fn from(e: CryptoError) -> Self {
        HeaderError::Crypto(e)
    }
}
