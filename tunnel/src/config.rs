//! The sizes every hop of a tunnel agrees on.
//!
//! All frames a hop sees are derived from these numbers only, so two tunnels
//! built with the same [`TunnelConfig`] are indistinguishable by length.

use std::fmt;

/// Default maximum number of relays between the sender and the exit.
pub const DEFAULT_MAX_HOPS: usize = 32;
/// Default size in bytes of one content cell on the wire.
pub const DEFAULT_CELL_SIZE: usize = 16 * 1024;
/// Default maximum length in bytes of an opaque next-hop address.
pub const DEFAULT_MAX_ADDRESS_LEN: usize = 64;
/// Default number of reply headers a hop remembers to refuse replays.
pub const DEFAULT_REPLAY_CACHE_SIZE: usize = 64 * 1024;
/// Default number of replies a sender awaits at once.
pub const DEFAULT_MAX_PENDING_REPLIES: usize = 1024;
/// Largest `max_hops` accepted: bounds the header block any peer makes us
/// allocate (a few hundred KiB at most).
pub const MAX_HOPS_LIMIT: usize = 1024;
/// Largest `max_address_len` accepted: the length is carried in one byte.
pub const MAX_ADDRESS_LEN_LIMIT: usize = 255;

/// Shared sizes of a tunnel: every peer of a route must use the same values.
///
/// A route has from 0 to `max_hops` relays plus the exit (the receiver), so a
/// header carries up to [`TunnelConfig::max_layers`] layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelConfig {
    /// Maximum number of relays between the sender and the exit.
    pub max_hops: usize,
    /// Size in bytes of one content cell, as every hop sees it on the wire.
    pub cell_size: usize,
    /// Maximum length in bytes of an opaque next-hop address.
    pub max_address_len: usize,
    /// Reply headers a hop remembers (bounded replay cache).
    pub replay_cache_size: usize,
    /// Replies a sender awaits at once (bounded table of kept reply keys).
    pub max_pending_replies: usize,
}

impl Default for TunnelConfig {
    fn default() -> Self {
        TunnelConfig {
            max_hops: DEFAULT_MAX_HOPS,
            cell_size: DEFAULT_CELL_SIZE,
            max_address_len: DEFAULT_MAX_ADDRESS_LEN,
            replay_cache_size: DEFAULT_REPLAY_CACHE_SIZE,
            max_pending_replies: DEFAULT_MAX_PENDING_REPLIES,
        }
    }
}

impl TunnelConfig {
    /// A configuration with `max_hops` relays and the default other sizes.
    pub fn with_max_hops(max_hops: usize) -> Self {
        TunnelConfig {
            max_hops,
            ..TunnelConfig::default()
        }
    }

    /// Maximum number of layers of an onion: every relay plus the exit.
    pub fn max_layers(&self) -> usize {
        self.max_hops + 1
    }

    /// Checks the sizes are within the limits the formats can carry.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_hops > MAX_HOPS_LIMIT {
            return Err(ConfigError::TooManyHops(self.max_hops));
        }
        if self.max_address_len == 0 || self.max_address_len > MAX_ADDRESS_LEN_LIMIT {
            return Err(ConfigError::AddressLength(self.max_address_len));
        }
        if self.cell_size == 0 {
            return Err(ConfigError::CellSize(self.cell_size));
        }
        Ok(())
    }
}

/// A [`TunnelConfig`] the formats cannot carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// `max_hops` above [`MAX_HOPS_LIMIT`].
    TooManyHops(usize),
    /// `max_address_len` zero or above [`MAX_ADDRESS_LEN_LIMIT`].
    AddressLength(usize),
    /// `cell_size` too small for the cell format.
    CellSize(usize),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::TooManyHops(n) => {
                write!(f, "max_hops {n} above the limit {MAX_HOPS_LIMIT}")
            }
            ConfigError::AddressLength(n) => {
                write!(f, "max_address_len {n} not in 1..={MAX_ADDRESS_LEN_LIMIT}")
            }
            ConfigError::CellSize(n) => write!(f, "cell_size {n} too small"),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_128_hops_is_accepted() {
        assert_eq!(TunnelConfig::default().validate(), Ok(()));
        let c = TunnelConfig::with_max_hops(128);
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.max_layers(), 129);
    }

    #[test]
    fn out_of_range_sizes_are_refused() {
        let c = TunnelConfig::with_max_hops(MAX_HOPS_LIMIT + 1);
        assert_eq!(
            c.validate(),
            Err(ConfigError::TooManyHops(MAX_HOPS_LIMIT + 1))
        );
        let c = TunnelConfig {
            max_address_len: 256,
            ..TunnelConfig::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::AddressLength(256)));
    }
}
