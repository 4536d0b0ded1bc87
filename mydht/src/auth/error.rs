//! Why a handshake ended without authenticating the peer.

use std::fmt;

use mydht_base::{Error, ErrorKind, ErrorLevel};

use super::CipherSuite;

/// Why a handshake failed. Every variant ends the handshake: the connection
/// must be dropped. Converts into [`mydht_base::Error`] (kind `Auth`,
/// `Timeout`, `Decode` or `Other`, level `ShutDown`) whose
/// [`source`](std::error::Error::source) is the `AuthError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// A message this side does not expect at this point: re-ordered,
    /// duplicated, sent to the wrong role, or after the handshake ended.
    UnexpectedMessage {
        /// What the handshake was waiting for.
        expected: &'static str,
        /// What arrived.
        got: &'static str,
    },
    /// A ping whose challenge this node has already seen: a replayed ping.
    ReplayedPing,
    /// A pong answering a challenge this side did not issue for this
    /// handshake: a replayed (or forged) pong.
    ReplayedPong,
    /// The peer used a challenge that is not fresh: it reflected this side's
    /// own challenge back as its own.
    ChallengeReused,
    /// A transcript signature that does not verify with the peer's key.
    BadSignature,
    /// A peer whose announced id is not the hash of its identity key.
    WrongId,
    /// An authenticated peer that is not the one this side expected (or
    /// this node itself).
    UnexpectedPeer,
    /// The handshake took longer than its timeout; its challenges expired.
    Timeout,
    /// A field with the wrong length, or otherwise unusable.
    Malformed(&'static str),
    /// The key exchange gave no shared secret (a low-order ephemeral key).
    KeyExchange,
    /// The local crypto library failed.
    Crypto(String),
    /// A peer in another [`AuthMode`](super::AuthMode) than this node's.
    ModeMismatch,
    /// A known-key dial to a peer whose keys this node has not verified
    /// (or has forgotten).
    UnknownPeer,
    /// A known-key flight whose timestamp is too far from this node's
    /// clock: replayed late, or the clocks disagree.
    StaleFlight,
    /// A known-key flight this node accepted already: replayed.
    ReplayedFlight,
    /// A known-key flight's sealed identity does not open: not sealed for
    /// this node's key, or altered.
    BadSeal,
    /// A known-key flight's proof does not check: not made by the holder
    /// of the keys it names, or altered.
    BadProof,
    /// A resumed flight whose ticket this node does not keep: replayed,
    /// forged, too old, or this node forgot it (see
    /// [`known::resume`](super::known::resume)).
    UnknownTicket,
    /// A [`KeyBinding`](crate::identity::KeyBinding) that does not verify
    /// for the keys it came with: forged, altered, or another identity's.
    BadBinding,
    /// A known-key dial (this node the dialler) whose connection ended, or
    /// timed out, before the peer's first frame: whoever listens at the
    /// address refused the flight (not the expected peer, or a flight out
    /// of its time window) or could not read it. Nothing sent on it was
    /// read. The dialler may dial the address again with the signed
    /// handshake.
    KnownKeyRefused,
    /// A peer whose session shadow uses another
    /// [`CipherSuite`](super::CipherSuite) than this node's.
    SuiteMismatch {
        /// This node's suite.
        ours: CipherSuite,
        /// The suite the peer announced.
        theirs: CipherSuite,
    },
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::UnexpectedMessage { expected, got } => {
                write!(f, "expected {expected}, got {got}")
            }
            AuthError::ReplayedPing => write!(f, "replayed ping"),
            AuthError::ReplayedPong => write!(f, "pong for another challenge"),
            AuthError::ChallengeReused => write!(f, "challenge reused"),
            AuthError::BadSignature => write!(f, "bad transcript signature"),
            AuthError::WrongId => write!(f, "peer id is not the hash of its key"),
            AuthError::UnexpectedPeer => write!(f, "not the expected peer"),
            AuthError::Timeout => write!(f, "handshake timed out"),
            AuthError::Malformed(what) => write!(f, "malformed {what}"),
            AuthError::KeyExchange => write!(f, "key exchange failed"),
            AuthError::Crypto(e) => write!(f, "openssl: {e}"),
            AuthError::ModeMismatch => write!(f, "peer uses another authentication mode"),
            AuthError::UnknownPeer => write!(f, "peer keys not verified"),
            AuthError::StaleFlight => write!(f, "known-key flight out of its time window"),
            AuthError::ReplayedFlight => write!(f, "replayed known-key flight"),
            AuthError::BadSeal => write!(f, "known-key flight does not open"),
            AuthError::BadProof => write!(f, "bad known-key proof"),
            AuthError::UnknownTicket => write!(f, "resumed flight with an unknown ticket"),
            AuthError::BadBinding => write!(f, "key binding does not verify"),
            AuthError::KnownKeyRefused => write!(f, "known-key flight refused or unanswered"),
            AuthError::SuiteMismatch { ours, theirs } => {
                write!(f, "peer uses cipher suite {theirs}, this node {ours}")
            }
        }
    }
}

impl std::error::Error for AuthError {}

impl AuthError {
    /// The `AuthError` behind a node's error (its
    /// [`source`](std::error::Error::source)), if it is one.
    ///
    /// ```
    /// use mydht::AuthError;
    /// use mydht_base::Error;
    ///
    /// let e = Error::from(AuthError::KnownKeyRefused);
    /// assert_eq!(AuthError::of(&e), Some(&AuthError::KnownKeyRefused));
    /// ```
    pub fn of(error: &Error) -> Option<&AuthError> {
        error.shared_source()?.downcast_ref()
    }
}

impl From<openssl::error::ErrorStack> for AuthError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        AuthError::Crypto(e.to_string())
    }
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Self {
        let kind = match e {
            AuthError::Timeout => ErrorKind::Timeout,
            AuthError::Malformed(_) => ErrorKind::Decode,
            AuthError::Crypto(_) => ErrorKind::Other,
            _ => ErrorKind::Auth,
        };
        Error::new(kind, ErrorLevel::ShutDown, format!("authentication: {e}")).with_source(e)
    }
}
