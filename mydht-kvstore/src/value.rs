//! [`SignedValue`]: a value signed by its publisher, what the DHT stores;
//! [`ValueLimits`], the bounds a value is checked against; [`ValueError`],
//! why a value is refused.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ed25519_dalek::{SignatureError, Verifier, VerifyingKey};
use mydht::identity::{IDENTITY_KEY_LEN, PEER_ID_LEN, SIGNATURE_LEN};
use mydht::{Identity, PeerId};
use mydht_base::{Error, ErrorKind, ErrorLevel, KeyVal};
use serde::{Deserialize, Serialize};

use crate::key::Key;

/// Default largest value, in bytes: 64 KiB.
pub const DEFAULT_MAX_VALUE_LEN: usize = 64 * 1024;

/// Bytes of an encoded [`SignedValue`] besides its value: the fixed-size
/// fields and the value's length prefix (bincode varints, at most 9 bytes
/// each), rounded up.
pub const ENCODED_OVERHEAD: usize = 256;

/// The largest encoded value [`SignedValue::from_bytes`] reads, whatever the
/// limits: 16 MiB.
const MAX_ENCODED_LEN: usize = 16 * 1024 * 1024;

/// What the signature covers starts with this, so that no other message an
/// identity signs (a handshake transcript) can pass for a value.
const SIGNING_DOMAIN: &[u8] = b"mydht-kvstore signed value v1\0";

/// The bounds a [`SignedValue`] is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueLimits {
    /// Largest value, in bytes.
    pub max_value_len: usize,
}

impl Default for ValueLimits {
    /// Values of at most [`DEFAULT_MAX_VALUE_LEN`] bytes.
    fn default() -> Self {
        ValueLimits {
            max_value_len: DEFAULT_MAX_VALUE_LEN,
        }
    }
}

impl ValueLimits {
    /// The longest encoding of a value within these limits.
    pub fn max_encoded_len(&self) -> usize {
        self.max_value_len
            .saturating_add(ENCODED_OVERHEAD)
            .min(MAX_ENCODED_LEN)
    }
}

/// The signature, as two halves: serde derives arrays of at most 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Signature([u8; 32], [u8; 32]);

impl Signature {
    fn from_bytes(bytes: [u8; SIGNATURE_LEN]) -> Self {
        let mut halves = Signature([0; 32], [0; 32]);
        halves.0.copy_from_slice(&bytes[..32]);
        halves.1.copy_from_slice(&bytes[32..]);
        halves
    }

    fn to_bytes(self) -> [u8; SIGNATURE_LEN] {
        let mut bytes = [0; SIGNATURE_LEN];
        bytes[..32].copy_from_slice(&self.0);
        bytes[32..].copy_from_slice(&self.1);
        bytes
    }
}

/// Whether a [`SignedValue`]'s signature was found good: set by
/// [`SignedValue::verify`] (and by signing), carried by clones, never
/// encoded nor decoded (a value read from bytes starts unchecked), ignored
/// when values are compared. Sound because a value's fields cannot change
/// once it is made: the signature checked is the one over these fields.
#[derive(Default)]
struct SignatureChecked(AtomicBool);

impl SignatureChecked {
    fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Clone for SignatureChecked {
    fn clone(&self) -> Self {
        SignatureChecked(AtomicBool::new(self.get()))
    }
}

impl PartialEq for SignatureChecked {
    /// Not part of a value's identity.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for SignatureChecked {}

/// The fields of a [`SignedValue`], unchecked: for tools and tests that
/// build a value by hand. [`SignedValue::from_parts`] makes one; only
/// [`SignedValue::verify`] says whether it is any good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedValueParts {
    /// The key the value is stored under.
    pub key: Key,
    /// The value.
    pub value: Vec<u8>,
    /// The publisher's Ed25519 identity public key.
    pub publisher_key: [u8; IDENTITY_KEY_LEN],
    /// The publisher's id: SHA-256 of `publisher_key`.
    pub publisher: PeerId,
    /// The version: a later one replaces an earlier one of the same
    /// publisher. [`SignedValue::sign`] uses the publishing time (ms).
    pub version: u64,
    /// When the value expires, in milliseconds since the Unix epoch.
    pub expires_at: u64,
    /// Ed25519 signature of the publisher over every other field.
    pub signature: [u8; SIGNATURE_LEN],
}

/// A value under a [`Key`], signed by its publisher.
///
/// The signature covers a canonical encoding of every other field (see
/// [`SignedValue::signed_message`]), so no field can change without
/// [`verify`](SignedValue::verify) failing. Values are compared by all their
/// fields.
///
/// A value remembers that its signature verified (its clones too, not its
/// encoding): verifying it again, as a node does when the value it admitted
/// reaches its store, redoes the cheap checks (size, publisher id, expiry)
/// but not the Ed25519 one. A value decoded from a peer's bytes is always
/// checked in full.
///
/// ```
/// use std::time::Duration;
/// use mydht::Identity;
/// use mydht_kvstore::{Key, SignedValue, ValueLimits};
///
/// let me = Identity::from_seed([1; 32])?;
/// let now = 1_700_000_000_000; // ms since the epoch
/// let v = SignedValue::sign(&me, Key::hash_of(b"greeting"), b"hello".to_vec(),
///                           Duration::from_secs(3600), now)?;
/// v.verify(now, &ValueLimits::default())?;
/// assert_eq!(v.publisher(), *me.id());
/// assert!(v.verify(now + 3_600_000, &ValueLimits::default()).is_err(), "expired");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedValue {
    key: Key,
    value: Vec<u8>,
    publisher_key: [u8; IDENTITY_KEY_LEN],
    publisher: [u8; PEER_ID_LEN],
    version: u64,
    expires_at: u64,
    signature: Signature,
    #[serde(skip)]
    checked: SignatureChecked,
}

impl fmt::Debug for SignedValue {
    /// The value's length, not its bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedValue")
            .field("key", &self.key)
            .field("len", &self.value.len())
            .field("publisher", &self.publisher())
            .field("version", &self.version)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl SignedValue {
    /// `value` under `key`, published by `identity` at `now_ms` (the
    /// version) and expiring `ttl` later.
    ///
    /// Fails only when openssl cannot sign. Limits are not checked here:
    /// [`verify`](SignedValue::verify) does, on every node.
    pub fn sign(
        identity: &Identity,
        key: Key,
        value: Vec<u8>,
        ttl: Duration,
        now_ms: u64,
    ) -> mydht_base::Result<Self> {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        Self::sign_versioned(identity, key, value, now_ms, now_ms.saturating_add(ttl_ms))
    }

    /// `value` under `key`, published by `identity` with an explicit
    /// `version` and expiry time (ms since the epoch).
    pub fn sign_versioned(
        identity: &Identity,
        key: Key,
        value: Vec<u8>,
        version: u64,
        expires_at: u64,
    ) -> mydht_base::Result<Self> {
        let mut v = SignedValue {
            key,
            value,
            publisher_key: *identity.identity_key(),
            publisher: *identity.id().as_bytes(),
            version,
            expires_at,
            signature: Signature([0; 32], [0; 32]),
            checked: SignatureChecked::default(),
        };
        v.signature = Signature::from_bytes(identity.sign(&v.signed_message())?);
        // Good by construction: the identity signed these fields.
        v.checked.set();
        Ok(v)
    }

    /// A value from its parts, unchecked.
    pub fn from_parts(parts: SignedValueParts) -> Self {
        SignedValue {
            key: parts.key,
            value: parts.value,
            publisher_key: parts.publisher_key,
            publisher: *parts.publisher.as_bytes(),
            version: parts.version,
            expires_at: parts.expires_at,
            signature: Signature::from_bytes(parts.signature),
            checked: SignatureChecked::default(),
        }
    }

    /// The value's parts.
    pub fn to_parts(&self) -> SignedValueParts {
        SignedValueParts {
            key: self.key,
            value: self.value.clone(),
            publisher_key: self.publisher_key,
            publisher: self.publisher(),
            version: self.version,
            expires_at: self.expires_at,
            signature: self.signature.to_bytes(),
        }
    }

    /// The key.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The value.
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// The publisher's id.
    pub fn publisher(&self) -> PeerId {
        PeerId::from(self.publisher)
    }

    /// The publisher's Ed25519 identity public key.
    pub fn publisher_key(&self) -> &[u8; IDENTITY_KEY_LEN] {
        &self.publisher_key
    }

    /// The version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the value expires (ms since the epoch).
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// The signature.
    pub fn signature(&self) -> [u8; SIGNATURE_LEN] {
        self.signature.to_bytes()
    }

    /// True when the value has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        now_ms >= self.expires_at
    }

    /// What the signature covers: a domain tag, then the key, the publisher
    /// key, the publisher id, the version, the expiry (big-endian `u64`s),
    /// the value's length (big-endian `u64`) and the value.
    pub fn signed_message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(SIGNING_DOMAIN.len() + 3 * 32 + 3 * 8 + self.value.len());
        m.extend_from_slice(SIGNING_DOMAIN);
        m.extend_from_slice(self.key.as_bytes());
        m.extend_from_slice(&self.publisher_key);
        m.extend_from_slice(&self.publisher);
        m.extend_from_slice(&self.version.to_be_bytes());
        m.extend_from_slice(&self.expires_at.to_be_bytes());
        m.extend_from_slice(&(self.value.len() as u64).to_be_bytes());
        m.extend_from_slice(&self.value);
        m
    }

    /// Checks, cheapest first, that the value is within `limits`
    /// ([`ValueError::TooLarge`]), that the publisher id is the hash of the
    /// publisher key ([`ValueError::WrongPublisher`]), that it has not
    /// expired at `now_ms` ([`ValueError::Expired`]) and that the signature
    /// is the publisher's over every field ([`ValueError::BadSignature`]).
    /// The signature is checked once per value and its clones (see the
    /// type's documentation); the other checks every time.
    pub fn verify(&self, now_ms: u64, limits: &ValueLimits) -> Result<(), ValueError> {
        if self.value.len() > limits.max_value_len {
            return Err(ValueError::TooLarge {
                len: self.value.len(),
                max: limits.max_value_len,
            });
        }
        if PeerId::of_key(&self.publisher_key) != self.publisher() {
            return Err(ValueError::WrongPublisher);
        }
        if self.is_expired(now_ms) {
            return Err(ValueError::Expired {
                expires_at: self.expires_at,
                now: now_ms,
            });
        }
        if self.checked.get() {
            return Ok(());
        }
        // ed25519-dalek, not openssl: half the time on this machine (see the
        // crate README's Benchmarks, `verify`), the same signatures. A weak (small-order)
        // key is refused: with one, anyone can sign for its publisher id.
        let bad = |e: SignatureError| ValueError::BadSignature { source: Some(e) };
        let key = VerifyingKey::from_bytes(&self.publisher_key).map_err(bad)?;
        if key.is_weak() {
            return Err(ValueError::BadSignature { source: None });
        }
        let signature = ed25519_dalek::Signature::from_bytes(&self.signature.to_bytes());
        key.verify(&self.signed_message(), &signature)
            .map_err(bad)?;
        self.checked.set();
        Ok(())
    }

    /// The value's encoding (bincode, standard configuration), as the
    /// persistent store keeps it.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Encoding into a Vec fails only on a serializer error, which the
        // derived impls of plain fields never raise.
        bincode::serde::encode_to_vec(self, bincode::config::standard()).unwrap_or_default()
    }

    /// Decodes what [`to_bytes`](SignedValue::to_bytes) made, reading at most
    /// [`ValueLimits::max_encoded_len`] bytes: a longer input is
    /// [`ValueError::TooLarge`], bytes that do not decode to exactly one
    /// value are [`ValueError::Malformed`]. The value is not verified.
    pub fn from_bytes(bytes: &[u8], limits: &ValueLimits) -> Result<Self, ValueError> {
        let max = limits.max_encoded_len();
        if bytes.len() > max {
            return Err(ValueError::TooLarge {
                len: bytes.len(),
                max,
            });
        }
        let config = bincode::config::standard().with_limit::<MAX_ENCODED_LEN>();
        let (v, read): (SignedValue, usize) = bincode::serde::decode_from_slice(bytes, config)
            .map_err(|e| ValueError::Malformed {
                reason: "does not decode",
                source: Some(e),
            })?;
        if read != bytes.len() {
            return Err(ValueError::Malformed {
                reason: "trailing bytes",
                source: None,
            });
        }
        Ok(v)
    }
}

impl KeyVal for SignedValue {
    type Key = Key;

    fn get_key(&self) -> Key {
        self.key
    }
}

/// Why a value is refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum ValueError {
    /// The signature is not the publisher's over the value's fields (or the
    /// publisher key is not an Ed25519 key); the verifier's error when it
    /// gave one.
    BadSignature {
        /// The Ed25519 verifier's error, if it gave one.
        source: Option<SignatureError>,
    },
    /// The value (or its encoding) is longer than allowed.
    TooLarge {
        /// Its length.
        len: usize,
        /// The largest allowed.
        max: usize,
    },
    /// The value has expired.
    Expired {
        /// When it expired (ms).
        expires_at: u64,
        /// When it was checked (ms).
        now: u64,
    },
    /// The publisher id is not the hash of the publisher key.
    WrongPublisher,
    /// The store holds a value of the same publisher under this key with a
    /// version at least as recent.
    Older {
        /// The stored value's version.
        stored: u64,
        /// The refused value's version.
        offered: u64,
    },
    /// The key holds a live value of another publisher (first publisher
    /// wins until its value expires or is removed).
    OtherPublisher {
        /// Who holds the key.
        owner: PeerId,
    },
    /// The bytes are not a value.
    Malformed {
        /// What is wrong.
        reason: &'static str,
        /// bincode's error, if it gave one.
        source: Option<bincode::error::DecodeError>,
    },
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::BadSignature { .. } => write!(f, "bad value signature"),
            ValueError::TooLarge { len, max } => {
                write!(f, "value of {len} bytes, over the limit of {max}")
            }
            ValueError::Expired { expires_at, now } => {
                write!(f, "value expired at {expires_at} ms (now {now} ms)")
            }
            ValueError::WrongPublisher => {
                write!(f, "publisher id is not the hash of the publisher key")
            }
            ValueError::Older { stored, offered } => write!(
                f,
                "value version {offered} is not newer than the stored version {stored}"
            ),
            ValueError::OtherPublisher { owner } => {
                write!(f, "key already holds a value of publisher {owner}")
            }
            ValueError::Malformed { reason, .. } => write!(f, "malformed value: {reason}"),
        }
    }
}

impl std::error::Error for ValueError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ValueError::BadSignature { source: Some(e) } => Some(e),
            ValueError::Malformed {
                source: Some(e), ..
            } => Some(e),
            _ => None,
        }
    }
}

impl ValueError {
    /// The [`ErrorKind`] it maps to in a [`mydht_base::Error`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            ValueError::BadSignature { .. } | ValueError::WrongPublisher => ErrorKind::Auth,
            ValueError::TooLarge { .. } => ErrorKind::TooLarge,
            ValueError::Malformed { .. } => ErrorKind::Decode,
            ValueError::Expired { .. }
            | ValueError::Older { .. }
            | ValueError::OtherPublisher { .. } => ErrorKind::Rejected,
        }
    }
}

impl From<ValueError> for Error {
    /// An error of [`ValueError::kind`], level `Ignore` (a refused value is
    /// dropped; an honest peer may have relayed it), with the `ValueError`
    /// as its source.
    fn from(e: ValueError) -> Self {
        Error::new(e.kind(), ErrorLevel::Ignore, e.to_string()).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(now: u64) -> SignedValue {
        let me = Identity::from_seed([3; 32]).expect("identity");
        let key = Key::hash_of(b"checked once");
        SignedValue::sign(&me, key, b"v".to_vec(), Duration::from_secs(60), now).expect("sign")
    }

    #[test]
    fn a_checked_value_still_expires_and_a_forged_copy_still_fails() {
        let (now, limits) = (1_000_000, ValueLimits::default());
        let v = signed(now);
        v.verify(now, &limits).expect("good");
        let clone = v.clone();
        assert!(matches!(
            clone.verify(now + 60_000, &limits),
            Err(ValueError::Expired { .. })
        ));
        // A copy through its parts or its bytes is checked again.
        let mut parts = v.to_parts();
        parts.signature[0] ^= 1;
        assert!(matches!(
            SignedValue::from_parts(parts).verify(now, &limits),
            Err(ValueError::BadSignature { .. })
        ));
        let mut bytes = v.to_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let decoded = SignedValue::from_bytes(&bytes, &limits).expect("decodes");
        assert_ne!(decoded, v);
        assert!(matches!(
            decoded.verify(now, &limits),
            Err(ValueError::BadSignature { .. })
        ));
        let small = ValueLimits { max_value_len: 0 };
        assert!(matches!(
            v.verify(now, &small),
            Err(ValueError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_decoded_value_starts_unchecked_and_equals_its_original() {
        let now = 1_000_000;
        let v = signed(now);
        let decoded =
            SignedValue::from_bytes(&v.to_bytes(), &ValueLimits::default()).expect("decodes");
        assert!(v.checked.get());
        assert!(!decoded.checked.get());
        assert_eq!(decoded, v);
        decoded.verify(now, &ValueLimits::default()).expect("good");
        assert!(decoded.checked.get());
    }
}
