//! The work a side may leave for after it sent its message: the X25519
//! exchange and HKDF of the session keys, and (initiator) the check of the
//! responder's signature; and the handshake's outcome, [`Authenticated`].

use crate::auth::crypto::{verify_transcript, EphemeralKey};
use crate::auth::error::AuthError;
use crate::auth::session_keys::SessionKeys;
use crate::auth::suite::CipherSuite;
use crate::auth::transcript::{Role, Transcript, EPHEMERAL_KEY_LEN};
use crate::identity::{PeerInfo, SIGNATURE_LEN};

/// A handshake's successful end: who the peer is and the keys of the
/// connection's session shadow.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The peer, its id checked against its key and its key proven.
    pub peer: PeerInfo,
    /// The session keys of this side.
    pub keys: SessionKeys,
}

/// An initiator's answered pong whose signature is still to check and whose
/// session keys are still to derive: what [`Handshake::answer_pong`](super::Handshake::answer_pong) gives
/// with the final pong, so that the final pong can go out first.
pub(crate) struct AnsweredPong {
    pub(super) peer: PeerInfo,
    /// `None` under [`AuthMode::NoAuth`](crate::auth::mode::AuthMode::NoAuth).
    pub(super) signature: Option<[u8; SIGNATURE_LEN]>,
    pub(super) exchange: Exchange,
}

impl AnsweredPong {
    /// Checks the responder's signature, then derives the session keys: the
    /// handshake's outcome. Until this succeeds the peer is not
    /// authenticated.
    pub(crate) fn finish(self) -> Result<Authenticated, AuthError> {
        if let Some(signature) = &self.signature {
            verify_transcript(
                self.peer.identity_key(),
                &self.exchange.transcript,
                Role::Responder,
                signature,
            )?;
        }
        let keys = self.exchange.derive()?;
        Ok(Authenticated {
            peer: self.peer,
            keys,
        })
    }
}

/// The X25519 exchange and HKDF of one side, left for when its keys are
/// needed.
pub(super) struct Exchange {
    pub(super) ephemeral: EphemeralKey,
    pub(super) peer_public: [u8; EPHEMERAL_KEY_LEN],
    pub(super) transcript: Transcript,
    pub(super) role: Role,
    pub(super) suite: CipherSuite,
}

impl Exchange {
    pub(super) fn derive(&self) -> Result<SessionKeys, AuthError> {
        self.ephemeral
            .session_keys(&self.peer_public, &self.transcript, self.role, self.suite)
    }
}

/// A responder's session keys: derived, or still to derive.
pub(super) enum Keys {
    Later(Box<Exchange>),
    Ready(SessionKeys),
}
