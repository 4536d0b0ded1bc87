//! The bincode encoder: compact and fast, the default for nodes.

use std::io::{self, Write};

use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use mydht_base::{MsgEnc, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{decode_error, decode_failure, encode_error};

/// The default [`Bincode`] decode limit: 4 MiB, four times the default
/// control frame maximum (`frame::DEFAULT_MAX_FRAME_LEN`).
///
/// Bincode counts a collection's in-memory size (`len × size_of::<T>()`)
/// against the limit before allocating it, which can exceed the bytes it
/// occupies on the wire (a `Vec<u64>` of small varints): the margin lets
/// every well-formed message of a full frame decode.
pub const DEFAULT_DECODE_LIMIT: usize = 4 << 20;

/// Encodes messages with `bincode` 2 (serde path, standard configuration:
/// little endian, variable-length integers).
///
/// `LIMIT` bounds the bytes one decode may claim, checked *before* each
/// allocation: a frame of a few bytes claiming a vector of 2^60 elements is
/// a `Decode` error, not an abort. It is a type parameter because bincode
/// fixes its limit at compile time.
///
/// Limitation: bincode has no nesting depth limit, so a recursive message
/// type (an enum that boxes itself) lets a peer nest deep enough to overflow
/// the stack. Keep message types non-recursive, or use [`Json`](super::Json).
///
/// ```
/// use mydht::msgenc::Bincode;
/// use mydht_base::MsgEnc;
///
/// let mut out = Vec::new();
/// Bincode::new().encode(&(1u8, "one"), &mut out).unwrap();
/// assert_eq!(out, [1, 3, b'o', b'n', b'e']);
/// let back: (u8, String) = Bincode::new().decode(&out).unwrap();
/// assert_eq!(back, (1, "one".to_string()));
///
/// // A tighter limit for a protocol of small messages.
/// let small = Bincode::<1024>::with_limit();
/// let huge = vec![0u8; 2048];
/// let mut out = Vec::new();
/// small.encode(&huge, &mut out).unwrap();
/// assert!(small.decode::<Vec<u8>>(&out).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bincode<const LIMIT: usize = DEFAULT_DECODE_LIMIT>;

impl Bincode {
    /// The encoder with the default decode limit.
    pub const fn new() -> Self {
        Bincode
    }
}

impl Default for Bincode {
    fn default() -> Self {
        Bincode
    }
}

impl<const LIMIT: usize> Bincode<LIMIT> {
    /// The encoder with the decode limit `LIMIT` (in bytes).
    pub const fn with_limit() -> Self {
        Bincode
    }

    /// The decode limit, in bytes.
    pub const fn limit(&self) -> usize {
        LIMIT
    }

    const fn config() -> Configuration<LittleEndian, Varint, Limit<LIMIT>> {
        bincode::config::standard().with_limit::<LIMIT>()
    }
}

impl<const LIMIT: usize> MsgEnc for Bincode<LIMIT> {
    fn encode<M: Serialize>(&self, m: &M, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        bincode::serde::encode_into_std_write(m, &mut *out, Self::config())
            .map(|_| ())
            .map_err(|e| {
                // Leave `out` as it was: a frame writer may have bytes before ours.
                out.truncate(start);
                encode_error("bincode", e)
            })
    }

    fn encoded_len<M: Serialize>(&self, m: &M) -> Result<usize> {
        // A byte string reaches the sink in one call: counting it is free.
        bincode::serde::encode_into_std_write(m, &mut io::sink(), Self::config())
            .map_err(|e| encode_error("bincode", e))
    }

    fn encode_to<M: Serialize, W: Write>(&self, m: &M, out: &mut W) -> Result<()> {
        bincode::serde::encode_into_std_write(m, out, Self::config())
            .map(|_| ())
            .map_err(|e| encode_error("bincode", e))
    }

    fn decode<M: DeserializeOwned>(&self, bytes: &[u8]) -> Result<M> {
        let (m, read) = bincode::serde::decode_from_slice(bytes, Self::config())
            .map_err(|e| decode_error("bincode", e))?;
        if read != bytes.len() {
            return Err(decode_failure(
                "bincode",
                format!("{} trailing bytes after the message", bytes.len() - read),
            ));
        }
        Ok(m)
    }
}
