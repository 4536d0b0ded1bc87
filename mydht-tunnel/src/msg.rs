//! What tunnel nodes send each other ([`TunnelMsg`], the node's
//! `ProtoMsg`) and how an onion's content holds the application's message
//! ([`encode_content`], [`ContentReader`]).

use std::fmt;

use mydht::msgenc::DEFAULT_DECODE_LIMIT;
use mydht::Bincode;
use mydht_base::MsgEnc;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tunnel::full::ERROR_REPORT_LEN;

use crate::error::TunnelSendError;
use crate::link::LinkId;

/// A message between two tunnel nodes, on a send-once connection.
#[derive(Clone, Serialize, Deserialize)]
pub enum TunnelMsg {
    /// A whole onion (fixed header then cells) in this one frame: the
    /// frame-carried mode. `link` names the link for an error report back.
    Onion {
        /// The link's id (random, fixed size).
        link: LinkId,
        /// Header then cells.
        #[serde(with = "bytes")]
        onion: Vec<u8>,
    },
    /// An onion's fixed header; its cells follow this frame on the
    /// connection, as a stream (the streamed mode).
    Stream {
        /// The link's id (random, fixed size).
        link: LinkId,
        /// The header (one length at every hop).
        #[serde(with = "bytes")]
        header: Vec<u8>,
    },
    /// A hop's error report travelling back towards the sender on the
    /// link its onion came by (each hop adds its layer).
    Report {
        /// The link the onion went on.
        link: LinkId,
        /// The report.
        report: [u8; ERROR_REPORT_LEN],
    },
}

impl fmt::Debug for TunnelMsg {
    /// Lengths, never bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelMsg::Onion { onion, .. } => write!(f, "Onion({} bytes)", onion.len()),
            TunnelMsg::Stream { header, .. } => {
                write!(f, "Stream(header of {} bytes)", header.len())
            }
            TunnelMsg::Report { .. } => f.write_str("Report"),
        }
    }
}

/// An onion or a header as one byte string for the encoder (its length,
/// then the bytes in one copy), not as a sequence of `u8` values, each
/// encoded and decoded on its own (a 4.9 KB header, a 21 KB onion at
/// every hop). Bincode writes both the same way: the wire does not change.
mod bytes {
    use std::fmt;

    use serde::de::{Error, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_byte_buf(Bytes)
    }

    struct Bytes;

    impl<'de> Visitor<'de> for Bytes {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a byte string")
        }

        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }

        // A decoder that gives sequences (JSON, say): bounded by what it
        // holds already.
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
            while let Some(b) = seq.next_element()? {
                v.push(b);
            }
            Ok(v)
        }
    }
}

/// Length of the prefix that gives the message's encoded length.
const LEN_PREFIX: usize = 4;

/// The start of an onion's content: the message's length (`u32`, big
/// endian) then its encoding; an attachment's bytes may follow.
pub fn encode_content<M: Serialize>(msg: &M) -> Result<Vec<u8>, TunnelSendError> {
    let mut out = vec![0u8; LEN_PREFIX];
    <Bincode>::new()
        .encode(msg, &mut out)
        .map_err(|e| TunnelSendError::Codec(e.to_string()))?;
    let len = u32::try_from(out.len() - LEN_PREFIX).map_err(|_| TunnelSendError::TooLarge {
        len: out.len(),
        max: u32::MAX as usize,
    })?;
    out[..LEN_PREFIX].copy_from_slice(&len.to_be_bytes());
    Ok(out)
}

/// Reads the message at the start of an onion's content from the bytes
/// given as they come, bounded by `max` bytes of encoding.
#[derive(Debug)]
pub struct ContentReader {
    max: usize,
    buf: Vec<u8>,
}

impl ContentReader {
    /// A reader of messages of at most `max` encoded bytes (and at most
    /// the decoder's own limit).
    pub fn new(max: usize) -> Self {
        ContentReader {
            max: max.min(DEFAULT_DECODE_LIMIT),
            buf: Vec::new(),
        }
    }

    /// How many more bytes it needs (0 once the message is whole): read
    /// at most that many, so an attachment's bytes stay in the stream.
    pub fn wants(&self) -> Result<usize, TunnelSendError> {
        if self.buf.len() < LEN_PREFIX {
            return Ok(LEN_PREFIX - self.buf.len());
        }
        let len = self.announced();
        if len > self.max {
            return Err(TunnelSendError::TooLarge { len, max: self.max });
        }
        Ok(LEN_PREFIX + len - self.buf.len())
    }

    /// Takes bytes (no more than [`wants`](Self::wants) said).
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The message, once whole.
    pub fn message<M: DeserializeOwned>(&self) -> Result<M, TunnelSendError> {
        <Bincode>::new()
            .decode(&self.buf[LEN_PREFIX..])
            .map_err(|e| TunnelSendError::Codec(e.to_string()))
    }

    fn announced(&self) -> usize {
        let mut len = [0u8; LEN_PREFIX];
        len.copy_from_slice(&self.buf[..LEN_PREFIX]);
        u32::from_be_bytes(len) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_onions_encode_as_byte_strings_as_a_sequence_would() {
        let msg = TunnelMsg::Stream {
            link: [3; 8],
            header: (0..300u32).map(|i| i as u8).collect(),
        };
        // What `Vec<u8>` as a sequence of `u8` gave before.
        #[derive(Serialize)]
        enum Before {
            #[allow(dead_code)]
            Onion {
                link: LinkId,
                onion: Vec<u8>,
            },
            Stream {
                link: LinkId,
                header: Vec<u8>,
            },
        }
        let mut now = Vec::new();
        <Bincode>::new().encode(&msg, &mut now).unwrap();
        let mut before = Vec::new();
        let old = Before::Stream {
            link: [3; 8],
            header: (0..300u32).map(|i| i as u8).collect(),
        };
        <Bincode>::new().encode(&old, &mut before).unwrap();
        assert_eq!(now, before);
        match <Bincode>::new().decode::<TunnelMsg>(&now).unwrap() {
            TunnelMsg::Stream { link, header } => {
                assert_eq!(link, [3; 8]);
                assert_eq!(header, (0..300u32).map(|i| i as u8).collect::<Vec<_>>());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn content_round_trips_byte_by_byte_and_refuses_a_length_over_its_bound() {
        let bytes = encode_content(&("ping".to_string(), 7u64)).unwrap();
        let mut r = ContentReader::new(1024);
        let mut pos = 0;
        while r.wants().unwrap() > 0 {
            r.push(&bytes[pos..pos + 1]);
            pos += 1;
        }
        assert_eq!(pos, bytes.len());
        assert_eq!(r.message::<(String, u64)>().unwrap(), ("ping".into(), 7));

        let mut r = ContentReader::new(16);
        r.push(&1000u32.to_be_bytes());
        assert!(matches!(
            r.wants(),
            Err(TunnelSendError::TooLarge { len: 1000, max: 16 })
        ));
    }
}
