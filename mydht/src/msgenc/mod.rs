//! The ready [`MsgEnc`](mydht_base::MsgEnc) implementations: [`Json`] and
//! [`Bincode`].
//!
//! Both decode from a slice already bounded by the frame's maximum size;
//! both report a malformed message as `ErrorKind::Decode` with level
//! `ShutDown` (close the connection) and a message that does not encode as
//! `ErrorKind::Encode` with level `Ignore` (nothing was sent, the connection
//! is still usable). The format's own error (`bincode::error::DecodeError`,
//! `serde_json::Error`, ...) is kept as the error's
//! [`source`](std::error::Error::source).

mod bincode;
mod json;

pub use self::bincode::{Bincode, DEFAULT_DECODE_LIMIT};
pub use self::json::Json;

use mydht_base::{Error, ErrorKind, ErrorLevel};

/// Bytes that do not decode because of `cause`, kept as the source.
fn decode_error(format: &str, cause: impl std::error::Error + Send + Sync + 'static) -> Error {
    decode_failure(format, &cause).with_source(cause)
}

/// Bytes that do not decode for a reason of ours (no foreign error).
fn decode_failure(format: &str, what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Decode,
        ErrorLevel::ShutDown,
        format!("{format} decode: {what}"),
    )
}

/// A value that does not encode because of `cause`, kept as the source.
fn encode_error(format: &str, cause: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(
        ErrorKind::Encode,
        ErrorLevel::Ignore,
        format!("{format} encode: {cause}"),
    )
    .with_source(cause)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::error::Error as _;

    use mydht_base::{ErrorKind, ErrorLevel, MsgEnc};

    use super::{Bincode, Json};

    #[test]
    fn a_bincode_decode_error_keeps_bincode_s_error_as_source() {
        // A string announcing more bytes than there are.
        let e = Bincode::new().decode::<String>(&[5, b'a']).unwrap_err();
        assert_eq!(
            (e.kind(), e.level()),
            (ErrorKind::Decode, ErrorLevel::ShutDown)
        );
        let cause = e
            .source()
            .and_then(|s| s.downcast_ref::<::bincode::error::DecodeError>())
            .expect("bincode's DecodeError is the source");
        assert!(
            matches!(cause, ::bincode::error::DecodeError::UnexpectedEnd { .. }),
            "{cause:?}"
        );
        assert!(e.message().starts_with("bincode decode: "));
    }

    #[test]
    fn trailing_bytes_are_a_decode_error_of_ours_without_source() {
        let mut bytes = Vec::new();
        Bincode::new().encode(&7u32, &mut bytes).unwrap();
        bytes.push(0);
        let e = Bincode::new().decode::<u32>(&bytes).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
        assert!(e.source().is_none());
    }

    #[test]
    fn json_errors_keep_serde_json_s_error_as_source() {
        let e = Json.decode::<u32>(b"@").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
        let cause = e
            .source()
            .and_then(|s| s.downcast_ref::<serde_json::Error>())
            .expect("serde_json's error is the source");
        assert!(cause.is_syntax());

        // JSON map keys must be strings.
        let bad = BTreeMap::from([((1, 2), 3)]);
        let e = Json.encode(&bad, &mut Vec::new()).unwrap_err();
        assert_eq!(
            (e.kind(), e.level()),
            (ErrorKind::Encode, ErrorLevel::Ignore)
        );
        assert!(e.source().unwrap().is::<serde_json::Error>());
    }
}
