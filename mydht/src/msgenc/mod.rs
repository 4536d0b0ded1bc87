//! The ready [`MsgEnc`](mydht_base::MsgEnc) implementations: [`Json`] and
//! [`Bincode`].
//!
//! Both decode from a slice already bounded by the frame's maximum size;
//! both report a malformed message as `ErrorKind::Decode` with level
//! `ShutDown` (close the connection) and a message that does not encode as
//! `ErrorKind::Encode` with level `Ignore` (nothing was sent, the connection
//! is still usable).

mod bincode;
mod json;

pub use self::bincode::{Bincode, DEFAULT_DECODE_LIMIT};
pub use self::json::Json;

use mydht_base::{Error, ErrorKind, ErrorLevel};

fn decode_error(format: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Decode,
        ErrorLevel::ShutDown,
        format!("{format} decode: {e}"),
    )
}

fn encode_error(format: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Encode,
        ErrorLevel::Ignore,
        format!("{format} encode: {e}"),
    )
}
