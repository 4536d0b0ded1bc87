//! The responder's side: the pong that answers a ping, the session keys
//! derived once it is sent, and the check of the initiator's final pong.

use std::mem;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mydht_base::Peer;

use super::exchange::{Authenticated, Exchange, Keys};
use super::{deadline, unexpected, Handshake, State};
use crate::auth::challenge::{Challenge, ChallengeCache};
use crate::auth::crypto::{check_exchange_key, verify_transcript, EphemeralKey};
use crate::auth::error::AuthError;
use crate::auth::message::{fixed, AuthPing, AuthPong, AuthPongFinal, PeerInfoMsg};
use crate::auth::mode::AuthMode;
use crate::auth::session_keys::SessionKeys;
use crate::auth::suite::CipherSuite;
use crate::auth::transcript::{Role, Side, Transcript};
use crate::identity::LocalPeer;

impl Handshake {
    /// Starts the responder side of a connection accepted at `now`, waiting
    /// for a ping. The whole handshake must end within `timeout`. The
    /// session shadow's suite is the default, ChaCha20-Poly1305.
    pub fn respond(local: Arc<LocalPeer>, timeout: Duration, now: Instant) -> Self {
        Self::respond_with_suite(local, CipherSuite::default(), timeout, now)
    }

    /// [`Handshake::respond`] for a session shadow sealed with `suite`: a
    /// ping announcing another is refused.
    pub fn respond_with_suite(
        local: Arc<LocalPeer>,
        suite: CipherSuite,
        timeout: Duration,
        now: Instant,
    ) -> Self {
        Self::respond_with(local, timeout, now, None, (AuthMode::Signed, suite))
    }

    /// [`Handshake::respond`] with an ephemeral key made ahead of time (the
    /// pong then costs one X25519 operation less), in `mode` with `suite`.
    pub(crate) fn respond_with(
        local: Arc<LocalPeer>,
        timeout: Duration,
        now: Instant,
        ephemeral: Option<EphemeralKey>,
        (mode, suite): (AuthMode, CipherSuite),
    ) -> Self {
        Handshake {
            local,
            mode,
            also: None,
            suite,
            expected_peer: None,
            deadline: deadline(now, timeout),
            state: State::AwaitPing(ephemeral),
        }
    }
    /// Responder: answers a ping with a pong. `seen` is the node's cache of
    /// initiator challenges, which refuses a replayed ping. (A `NoAuth`
    /// responder is done once it answered: drive it with
    /// [`Handshake::handle`], which gives the outcome with the pong.)
    pub fn on_ping(
        &mut self,
        ping: &AuthPing,
        seen: &mut ChallengeCache,
        now: Instant,
    ) -> Result<AuthPong, AuthError> {
        self.check_timeout(now)?;
        let spare = match mem::replace(&mut self.state, State::Ended) {
            State::AwaitPing(spare) => spare,
            other => return Err(unexpected(&other, "ping")),
        };
        if ping.mode != self.mode {
            if self.also != Some(ping.mode) {
                return Err(AuthError::ModeMismatch);
            }
            self.mode = ping.mode;
        }
        self.check_suite(ping.suite)?;
        let peer = ping.peer.validate()?;
        let peer_challenge = Challenge(fixed(&ping.challenge, "challenge")?);
        let peer_ephemeral = fixed(&ping.ephemeral_key, "ephemeral key")?;
        check_exchange_key(&peer_ephemeral)?;
        if peer.get_id() == self.local.info().get_id() {
            return Err(AuthError::UnexpectedPeer);
        }
        seen.use_once(&peer_challenge, now)?;

        let challenge = Challenge::random()?;
        let ephemeral = match spare {
            Some(key) => key,
            None => EphemeralKey::generate()?,
        };
        let transcript = Transcript::new(
            &Side {
                peer: &peer,
                challenge: &peer_challenge,
                ephemeral_key: &peer_ephemeral,
            },
            &Side {
                peer: self.local.info(),
                challenge: &challenge,
                ephemeral_key: ephemeral.public(),
            },
            self.suite,
        );
        let signature = match self.mode {
            AuthMode::Signed => self.sign(&transcript, Role::Responder)?,
            AuthMode::NoAuth => Vec::new(),
        };
        let pong = AuthPong {
            peer: PeerInfoMsg::from(self.local.info()),
            your_challenge: ping.challenge.clone(),
            challenge: challenge.as_bytes().to_vec(),
            ephemeral_key: ephemeral.public().to_vec(),
            signature,
            suite: self.suite,
        };
        let exchange = Exchange {
            ephemeral,
            peer_public: peer_ephemeral,
            transcript,
            role: Role::Responder,
            suite: self.suite,
        };
        self.state = match self.mode {
            AuthMode::Signed => State::AwaitFinal {
                challenge,
                transcript,
                peer,
                keys: Keys::Later(Box::new(exchange)),
            },
            AuthMode::NoAuth => State::Answered(Box::new(Authenticated {
                peer,
                keys: exchange.derive()?,
            })),
        };
        Ok(pong)
    }

    /// Responder, once its pong is sent: derives the session keys while the
    /// initiator checks the pong, and gives them (to prepare what uses them,
    /// not to use them: the initiator is not authenticated yet). Optional
    /// ([`Handshake::on_final`] derives them otherwise); `None` in any other
    /// state. An error ends the handshake.
    pub fn derive_keys(&mut self) -> Result<Option<&SessionKeys>, AuthError> {
        let State::AwaitFinal { keys, .. } = &mut self.state else {
            return Ok(None);
        };
        if let Keys::Later(exchange) = keys {
            match exchange.derive() {
                Ok(ready) => *keys = Keys::Ready(ready),
                Err(e) => {
                    self.state = State::Ended;
                    return Err(e);
                }
            }
        }
        match &self.state {
            State::AwaitFinal {
                keys: Keys::Ready(keys),
                ..
            } => Ok(Some(keys)),
            _ => Ok(None),
        }
    }
    /// Responder: checks the initiator's final pong; gives the authenticated
    /// peer.
    pub fn on_final(
        &mut self,
        fin: &AuthPongFinal,
        now: Instant,
    ) -> Result<Authenticated, AuthError> {
        self.check_timeout(now)?;
        let (challenge, transcript, peer, keys) = match mem::replace(&mut self.state, State::Ended)
        {
            State::AwaitFinal {
                challenge,
                transcript,
                peer,
                keys,
            } => (challenge, transcript, peer, keys),
            other => return Err(unexpected(&other, "final pong")),
        };
        let answered: [u8; 32] = fixed(&fin.your_challenge, "challenge")?;
        if &answered != challenge.as_bytes() {
            return Err(AuthError::ReplayedPong);
        }
        let signature = fixed(&fin.signature, "signature")?;
        verify_transcript(
            peer.identity_key(),
            &transcript,
            Role::Initiator,
            &signature,
        )?;
        let keys = match keys {
            Keys::Ready(keys) => keys,
            Keys::Later(exchange) => exchange.derive()?,
        };
        Ok(Authenticated { peer, keys })
    }
}
