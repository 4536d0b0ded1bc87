//! Authentication: the three-message handshake that proves each peer's
//! identity key and derives the session keys of the connection's shadow,
//! and the one-message known-key handshake for a dialler that knows its
//! peer's keys already ([`known`], where its design is described).
//!
//! - [`Handshake`]: one side of one connection, a state machine;
//! - [`AuthKnown`]: the known-key flight ([`Handshake::dial_known`],
//!   [`Handshake::on_known`]);
//! - [`AuthPing`], [`AuthPong`], [`AuthPongFinal`] ([`AuthMessage`]): the
//!   messages, serde structs for any `MsgEnc`;
//! - [`ChallengeCache`]: the node-wide, bounded memory of handshakes:
//!   initiator challenges (replayed pings), known-key flights (replays),
//!   peers whose keys are verified and the peer each dialled address led
//!   to;
//! - [`Authenticated`]: the outcome, with the peer's [`PeerInfo`](crate::PeerInfo)
//!   and its [`SessionKeys`];
//! - [`AuthError`]: why a handshake failed;
//! - [`AuthMode`]: signed (the default) or not authenticated at all
//!   (`NoAuth`, for tests and closed networks);
//! - [`CipherSuite`]: the AEAD of the session shadow, agreed in the
//!   handshake (ChaCha20-Poly1305 by default, or AES-256-GCM).

mod challenge;
mod crypto;
mod error;
mod handshake;
pub mod known;
mod message;
mod mode;
mod session_keys;
mod suite;
mod transcript;

pub use challenge::{Challenge, ChallengeCache, CHALLENGE_LEN};
pub(crate) use crypto::{edwards_of, EphemeralKey};
pub use error::AuthError;
pub(crate) use handshake::AnsweredPong;
pub use handshake::{wall_clock_ms, Authenticated, Handshake, Step};
pub use known::{AuthKnown, AuthResumed};
pub(crate) use known::{KnownPeers, Ticket};
pub use message::{AuthMessage, AuthPing, AuthPong, AuthPongFinal, PeerInfoMsg};
pub use mode::AuthMode;
pub use session_keys::{SessionKey, SessionKeys, SESSION_KEY_LEN};
pub use suite::CipherSuite;
pub use transcript::EPHEMERAL_KEY_LEN;
