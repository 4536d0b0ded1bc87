//! The JSON encoder: readable on the wire, for debugging and interop.

use std::io::{self, Write};

use mydht_base::{MsgEnc, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{decode_error, encode_error};

/// Encodes messages as JSON with `serde_json`.
///
/// Decoding allocates at most a small multiple of the frame's length:
/// `serde_json` grows collections as elements arrive and never trusts a
/// claimed length, and it limits nesting depth (128), so a hostile frame
/// cannot exhaust the stack either.
///
/// Limitations of the format: map keys must be strings or integers, and
/// non-finite floats do not round-trip.
///
/// ```
/// use mydht::msgenc::Json;
/// use mydht_base::MsgEnc;
///
/// let mut out = Vec::new();
/// Json.encode(&(1u8, "one"), &mut out).unwrap();
/// assert_eq!(out, br#"[1,"one"]"#);
/// let back: (u8, String) = Json.decode(&out).unwrap();
/// assert_eq!(back, (1, "one".to_string()));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json;

impl MsgEnc for Json {
    fn encode<M: Serialize>(&self, m: &M, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        serde_json::to_writer(&mut *out, m).map_err(|e| {
            // Leave `out` as it was: a frame writer may have bytes before ours.
            out.truncate(start);
            encode_error("json", e)
        })
    }

    fn encoded_len<M: Serialize>(&self, m: &M) -> Result<usize> {
        let mut counter = ByteCounter(0);
        serde_json::to_writer(&mut counter, m).map_err(|e| encode_error("json", e))?;
        Ok(counter.0)
    }

    fn encode_to<M: Serialize, W: Write>(&self, m: &M, out: &mut W) -> Result<()> {
        serde_json::to_writer(out, m).map_err(|e| encode_error("json", e))
    }

    fn decode<M: DeserializeOwned>(&self, bytes: &[u8]) -> Result<M> {
        // `from_slice` rejects trailing non-whitespace bytes.
        serde_json::from_slice(bytes).map_err(|e| decode_error("json", e))
    }
}

/// Counts what is written to it and keeps nothing.
struct ByteCounter(usize);

impl Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
