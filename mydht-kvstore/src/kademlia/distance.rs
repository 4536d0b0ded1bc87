//! XOR distance in the 256-bit id space: [`Distance`], [`KadId`] (what has
//! a position in that space) and [`bucket_index`].
//!
//! `mydht` computes the same distance for its peer store, but crate-private;
//! this is the public one.

use std::fmt;

use mydht::PeerId;

use crate::key::Key;

/// Number of bits of an id, and so of k-buckets.
pub const ID_BITS: usize = 256;

/// Anything with a place in the 256-bit id space: peer ids and keys.
pub trait KadId {
    /// The 256-bit position, big-endian.
    fn kad_id(&self) -> [u8; 32];
}

impl KadId for PeerId {
    fn kad_id(&self) -> [u8; 32] {
        *self.as_bytes()
    }
}

impl KadId for Key {
    fn kad_id(&self) -> [u8; 32] {
        *self.as_bytes()
    }
}

impl KadId for [u8; 32] {
    fn kad_id(&self) -> [u8; 32] {
        *self
    }
}

/// The XOR of two ids, ordered as a big-endian 256-bit number: the
/// Kademlia distance.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Distance([u8; 32]);

impl Distance {
    /// The two big-endian halves, compared as numbers: the byte order's
    /// result in two integer comparisons instead of a `memcmp` (every
    /// lookup sorts its peers by distance).
    fn halves(&self) -> (u128, u128) {
        let (high, low) = self.0.split_at(16);
        let half = |b: &[u8]| {
            let mut a = [0; 16];
            a.copy_from_slice(b);
            u128::from_be_bytes(a)
        };
        (half(high), half(low))
    }
}

impl Ord for Distance {
    /// As the big-endian 256-bit numbers (the bytes' lexicographic order).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.halves().cmp(&other.halves())
    }
}

impl PartialOrd for Distance {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Distance {
    /// The distance between `a` and `b`.
    pub fn between(a: &impl KadId, b: &impl KadId) -> Self {
        let (a, b) = (a.kad_id(), b.kad_id());
        Distance(std::array::from_fn(|i| a[i] ^ b[i]))
    }

    /// The distance's bytes, big-endian.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Number of leading zero bits (256 for the zero distance).
    pub fn leading_zeros(&self) -> u32 {
        let mut zeros = 0;
        for byte in self.0 {
            zeros += byte.leading_zeros();
            if byte != 0 {
                break;
            }
        }
        zeros
    }
}

impl fmt::Debug for Distance {
    /// Its leading zero count and first bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Distance(lz={}, ", self.leading_zeros())?;
        self.0[..4].iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, "…)")
    }
}

/// The k-bucket of `other` in the table of `own`: the position of the
/// highest bit of their distance, 255 for the farther half of the space, 0
/// for the id differing in the last bit only; `None` for `own` itself.
pub fn bucket_index(own: &impl KadId, other: &impl KadId) -> Option<usize> {
    let zeros = Distance::between(own, other).leading_zeros() as usize;
    (zeros < ID_BITS).then(|| ID_BITS - 1 - zeros)
}
