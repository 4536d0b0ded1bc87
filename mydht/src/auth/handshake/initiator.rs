//! The initiator's side: the ping that starts a handshake, then the check
//! of the responder's pong and the final pong that answers it.

use std::mem;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mydht_base::Peer;

use super::exchange::{AnsweredPong, Authenticated, Exchange};
use super::{deadline, unexpected, Handshake, State};
use crate::auth::challenge::Challenge;
use crate::auth::crypto::{check_exchange_key, EphemeralKey};
use crate::auth::error::AuthError;
use crate::auth::message::{fixed, AuthPing, AuthPong, AuthPongFinal, PeerInfoMsg};
use crate::auth::mode::AuthMode;
use crate::auth::suite::CipherSuite;
use crate::auth::transcript::{Role, Side, Transcript};
use crate::identity::{LocalPeer, PeerId};

impl Handshake {
    /// Starts the initiator side at `now`: returns the handshake and the ping
    /// to send. With `expected_peer`, only that peer is accepted. The whole
    /// handshake must end within `timeout`. The session shadow's suite is
    /// the default, ChaCha20-Poly1305.
    pub fn initiate(
        local: Arc<LocalPeer>,
        expected_peer: Option<PeerId>,
        timeout: Duration,
        now: Instant,
    ) -> Result<(Self, AuthPing), AuthError> {
        Self::initiate_with_suite(local, expected_peer, CipherSuite::default(), timeout, now)
    }

    /// [`Handshake::initiate`] for a session shadow sealed with `suite`:
    /// the responder must use the same.
    pub fn initiate_with_suite(
        local: Arc<LocalPeer>,
        expected_peer: Option<PeerId>,
        suite: CipherSuite,
        timeout: Duration,
        now: Instant,
    ) -> Result<(Self, AuthPing), AuthError> {
        Self::initiate_with(
            local,
            expected_peer,
            timeout,
            now,
            EphemeralKey::generate()?,
            (AuthMode::Signed, suite),
        )
    }

    /// [`Handshake::initiate`] with an ephemeral key made ahead of time,
    /// off the connection's critical path, in `mode` with `suite`.
    pub(crate) fn initiate_with(
        local: Arc<LocalPeer>,
        expected_peer: Option<PeerId>,
        timeout: Duration,
        now: Instant,
        ephemeral: EphemeralKey,
        (mode, suite): (AuthMode, CipherSuite),
    ) -> Result<(Self, AuthPing), AuthError> {
        let challenge = Challenge::random()?;
        let ping = AuthPing {
            peer: PeerInfoMsg::from(local.info()),
            challenge: challenge.as_bytes().to_vec(),
            ephemeral_key: ephemeral.public().to_vec(),
            mode,
            suite,
        };
        let handshake = Handshake {
            local,
            mode,
            also: None,
            suite,
            expected_peer,
            deadline: deadline(now, timeout),
            state: State::AwaitPong {
                challenge,
                ephemeral,
            },
        };
        Ok((handshake, ping))
    }
    /// Initiator: checks the responder's pong; gives the final pong to send
    /// and the authenticated peer.
    pub fn on_pong(
        &mut self,
        pong: &AuthPong,
        now: Instant,
    ) -> Result<(AuthPongFinal, Authenticated), AuthError> {
        let (fin, answered) = self.answer_pong(pong, now)?;
        // Only a `NoAuth` handshake (built inside the crate) has no final
        // pong; it is driven through `handle`.
        let fin = fin.ok_or(AuthError::ModeMismatch)?;
        Ok((fin, answered.finish()?))
    }

    /// Initiator: [`Handshake::on_pong`] with the responder's signature left
    /// to check and the session keys left to derive
    /// ([`AnsweredPong::finish`]) once the final pong is sent, while the
    /// responder checks it. No final pong under [`AuthMode::NoAuth`]. Every check that needs no public-key operation
    /// (challenge, ids, key encodings) is done here.
    pub(crate) fn answer_pong(
        &mut self,
        pong: &AuthPong,
        now: Instant,
    ) -> Result<(Option<AuthPongFinal>, AnsweredPong), AuthError> {
        self.check_timeout(now)?;
        let (challenge, ephemeral) = match mem::replace(&mut self.state, State::Ended) {
            State::AwaitPong {
                challenge,
                ephemeral,
            } => (challenge, ephemeral),
            other => return Err(unexpected(&other, "pong")),
        };
        let answered: [u8; 32] = fixed(&pong.your_challenge, "challenge")?;
        if &answered != challenge.as_bytes() {
            return Err(AuthError::ReplayedPong);
        }
        self.check_suite(pong.suite)?;
        let peer = pong.peer.validate()?;
        let peer_challenge = Challenge(fixed(&pong.challenge, "challenge")?);
        let peer_ephemeral = fixed(&pong.ephemeral_key, "ephemeral key")?;
        let signature = match self.mode {
            AuthMode::Signed => Some(fixed(&pong.signature, "signature")?),
            AuthMode::NoAuth if pong.signature.is_empty() => None,
            AuthMode::NoAuth => return Err(AuthError::ModeMismatch),
        };
        check_exchange_key(&peer_ephemeral)?;
        if peer_challenge == challenge {
            return Err(AuthError::ChallengeReused);
        }
        let id = peer.get_id();
        if id == self.local.info().get_id() || self.expected_peer.is_some_and(|e| &e != id) {
            return Err(AuthError::UnexpectedPeer);
        }
        let transcript = Transcript::new(
            &Side {
                peer: self.local.info(),
                challenge: &challenge,
                ephemeral_key: ephemeral.public(),
            },
            &Side {
                peer: &peer,
                challenge: &peer_challenge,
                ephemeral_key: &peer_ephemeral,
            },
            self.suite,
        );
        let fin = match self.mode {
            AuthMode::Signed => Some(AuthPongFinal {
                your_challenge: pong.challenge.clone(),
                signature: self.sign(&transcript, Role::Initiator)?,
            }),
            AuthMode::NoAuth => None,
        };
        let exchange = Exchange {
            ephemeral,
            peer_public: peer_ephemeral,
            transcript,
            role: Role::Initiator,
            suite: self.suite,
        };
        Ok((
            fin,
            AnsweredPong {
                peer,
                signature,
                exchange,
            },
        ))
    }
}
