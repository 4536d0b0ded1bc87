//! Message encoders: how a message becomes the bytes of one frame and back.
//!
//! A [`MsgEnc`] turns a protocol or application message into bytes and back.
//! It does not frame, stream or encipher: the caller (the read and write
//! services, through `mydht`'s frame reader and writer) puts the bytes in a
//! length-prefixed frame inside the connection's shadow, so `decode` always
//! receives a slice already bounded by the frame's maximum size.
//!
//! Large byte payloads are not encoded: a message announces an
//! [`Attachment`] (its length), and the attachment's raw bytes follow the
//! message's frame on the same stream, streamed with a bounded buffer.

use std::io::Write;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Encodes and decodes messages, one message per frame.
///
/// `mydht` provides `Json` and `Bincode`; implement this only for another
/// wire format. An implementation must:
/// - append to `out` in [`encode`](MsgEnc::encode), never clear it (a frame
///   writer encodes after the frame's length prefix);
/// - in [`decode`](MsgEnc::decode), consume the whole slice (trailing bytes
///   are an error), never panic, and never allocate more than a bounded
///   multiple of the slice's length whatever lengths the bytes claim; its
///   errors have `ErrorKind::Decode` and level `ShutDown` (the peer sent
///   bytes that do not decode: close the connection).
pub trait MsgEnc: Clone + Send + Sync + 'static {
    /// Appends the encoding of `m` to `out`.
    fn encode<M: Serialize>(&self, m: &M, out: &mut Vec<u8>) -> Result<()>;

    /// The length of `m`'s encoding: what [`encode_to`](MsgEnc::encode_to)
    /// will write. Lets a frame writer check the frame maximum and write
    /// the length prefix before the encoding. The default encodes into a
    /// scratch buffer; an implementation that can count without encoding
    /// overrides it.
    fn encoded_len<M: Serialize>(&self, m: &M) -> Result<usize> {
        let mut scratch = Vec::new();
        self.encode(m, &mut scratch)?;
        Ok(scratch.len())
    }

    /// Writes the encoding of `m` to `out` as it goes, exactly the bytes
    /// [`encode`](MsgEnc::encode) appends: a frame writer streams a big
    /// message straight into the connection's shadow instead of copying
    /// all of it into a buffer first. `out` is an in-memory sink that
    /// never blocks; an error may leave part of the encoding written. The
    /// default encodes into a scratch buffer and writes it.
    fn encode_to<M: Serialize, W: Write>(&self, m: &M, out: &mut W) -> Result<()> {
        let mut scratch = Vec::new();
        self.encode(m, &mut scratch)?;
        out.write_all(&scratch).map_err(Error::from)
    }

    /// Decodes one message from exactly `bytes`.
    fn decode<M: DeserializeOwned>(&self, bytes: &[u8]) -> Result<M>;
}

/// The announcement of an attachment, carried in the message it belongs to.
///
/// On the wire: the message's frame, then exactly [`len`](Attachment::len)
/// raw bytes, then the next frame. The receiver checks `len` against its own
/// maximum before streaming anything, and streams the bytes to a sink with a
/// bounded buffer: an attachment is never loaded whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attachment {
    len: u64,
}

impl Attachment {
    /// Announces an attachment of `len` bytes.
    pub fn new(len: u64) -> Self {
        Attachment { len }
    }

    /// The number of raw bytes that follow the message's frame.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an attachment of no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, ErrorLevel};

    /// Implements only `encode` and `decode`, as an encoder written before
    /// the streaming methods existed.
    #[derive(Clone)]
    struct JsonOnly;

    impl MsgEnc for JsonOnly {
        fn encode<M: Serialize>(&self, m: &M, out: &mut Vec<u8>) -> Result<()> {
            serde_json::to_writer(out, m).map_err(|e| {
                Error::new(ErrorKind::Encode, ErrorLevel::Ignore, e.to_string()).with_source(e)
            })
        }

        fn decode<M: DeserializeOwned>(&self, bytes: &[u8]) -> Result<M> {
            serde_json::from_slice(bytes).map_err(|e| {
                Error::new(ErrorKind::Decode, ErrorLevel::ShutDown, e.to_string()).with_source(e)
            })
        }
    }

    /// The provided `encoded_len` and `encode_to` give what `encode`
    /// appends, and its error.
    #[test]
    fn streaming_defaults_follow_encode() {
        let m = ("one", vec![1u8, 2, 3]);
        let mut buffered = Vec::new();
        JsonOnly.encode(&m, &mut buffered).expect("encode");
        let mut streamed = Vec::new();
        JsonOnly.encode_to(&m, &mut streamed).expect("encode_to");
        assert_eq!(streamed, buffered);
        assert_eq!(JsonOnly.encoded_len(&m).expect("len"), buffered.len());

        // JSON map keys must be strings.
        let bad = std::collections::BTreeMap::from([((1, 2), 3)]);
        let e = JsonOnly.encoded_len(&bad).expect_err("no encoding");
        assert_eq!(e.kind(), ErrorKind::Encode);
        let mut out = Vec::new();
        assert!(JsonOnly.encode_to(&bad, &mut out).is_err());
        assert!(
            out.is_empty(),
            "nothing written for a message that does not encode"
        );
    }
}
