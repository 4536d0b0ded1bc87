//! What tunnel nodes send each other ([`TunnelMsg`], the node's `ProtoMsg`)
//! and what the onion's content holds ([`Payload`]).

use std::fmt;

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
    /// frame-carried mode, for messages that fit a frame. `link` names the
    /// link for an error report back.
    Onion {
        /// The link's id (random, fixed size).
        link: LinkId,
        /// Header then cells.
        onion: Vec<u8>,
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
    /// The length, never the bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelMsg::Onion { onion, .. } => write!(f, "Onion({} bytes)", onion.len()),
            TunnelMsg::Report { .. } => f.write_str("Report"),
        }
    }
}

/// The content of an onion, for the exit (a query) or the sender (a
/// reply): the application's message and the token the sender matches the
/// reply with (random, echoed by the exit; it tells the exit nothing).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payload<M> {
    /// The sender's token for this query.
    pub token: u64,
    /// The application's message.
    pub msg: M,
}

impl<M: Serialize + DeserializeOwned> Payload<M> {
    /// The encoded payload.
    pub fn encode(&self) -> Result<Vec<u8>, TunnelSendError> {
        let mut out = Vec::new();
        Bincode::<{ mydht::msgenc::DEFAULT_DECODE_LIMIT }>
            .encode(self, &mut out)
            .map_err(|e| TunnelSendError::Codec(e.to_string()))?;
        Ok(out)
    }

    /// Decodes exactly `bytes` (Bincode's decode limit bounds what a
    /// hostile length can make it allocate).
    pub fn decode(bytes: &[u8]) -> Result<Self, TunnelSendError> {
        Bincode::<{ mydht::msgenc::DEFAULT_DECODE_LIMIT }>
            .decode(bytes)
            .map_err(|e| TunnelSendError::Codec(e.to_string()))
    }
}
