//! The three-message handshake as a plain state machine: typed messages and
//! the current time in, typed messages and the authenticated peer out. It
//! does no I/O and reads no clock, so read and write services can drive it
//! (and restart with it) however they run, and tests can drive it directly.
//!
//! ```text
//! initiator                                   responder
//!   ping  { info_i, c_i, e_i, s }         ──►  checks s, info_i, c_i unseen
//!         ◄──  pong { info_r, c_i, c_r, e_r, sign_r(T), s }
//!   checks c_i, s, info_r, sign_r(T)
//!   final { c_r, sign_i(T) }              ──►  checks c_r, sign_i(T)
//! T = SHA-256(info_i, info_r, c_i, c_r, e_i, e_r, s); keys = HKDF(X25519(e_i, e_r), T)
//! ```
//!
//! `s` is the [`CipherSuite`] of the session shadow: each side refuses a
//! message announcing another than its own
//! ([`AuthError::SuiteMismatch`]), and the signatures cover it.
//!
//! Neither the pong nor the final pong needs the session keys: a driver can
//! send each first and derive the keys while the peer checks it
//! ([`Handshake::derive_keys`], [`Handshake::answer_pong`]), which takes an
//! X25519 operation per side off the connection's critical path.
//!
//! The initiator may also sign and send its final pong before it checks the
//! responder's signature ([`Handshake::answer_pong`]), so that both
//! signature checks run at the same time, one on each side. This gives an
//! impostor nothing: the initiator's signature covers both identities, both
//! fresh challenges and both ephemeral keys, so it proves nothing in any
//! other handshake, and the initiator's identity was already in its ping.
//! The initiator takes the peer as authenticated, and gets the keys, only
//! once the responder's signature checked ([`AnsweredPong::finish`]).
//!
//! Under [`AuthMode::NoAuth`] the pong carries no signature and there is no
//! final pong: each side takes the other's announced info as given, and the
//! keys come from the same exchange and transcript.

use std::mem;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mydht_base::Peer;

use super::challenge::{Challenge, ChallengeCache};
use super::crypto::{check_exchange_key, verify_transcript, EphemeralKey};
use super::message::{fixed, AuthMessage, AuthPing, AuthPong, AuthPongFinal, PeerInfoMsg};
use super::mode::AuthMode;
use super::session_keys::SessionKeys;
use super::suite::CipherSuite;
use super::transcript::{Role, Side, Transcript, EPHEMERAL_KEY_LEN};
use super::AuthError;
use crate::identity::{LocalPeer, PeerId, PeerInfo, SIGNATURE_LEN};

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
/// session keys are still to derive: what [`Handshake::answer_pong`] gives
/// with the final pong, so that the final pong can go out first.
pub(crate) struct AnsweredPong {
    peer: PeerInfo,
    /// `None` under [`AuthMode::NoAuth`].
    signature: Option<[u8; SIGNATURE_LEN]>,
    exchange: Exchange,
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
struct Exchange {
    ephemeral: EphemeralKey,
    peer_public: [u8; EPHEMERAL_KEY_LEN],
    transcript: Transcript,
    role: Role,
    suite: CipherSuite,
}

impl Exchange {
    fn derive(&self) -> Result<SessionKeys, AuthError> {
        self.ephemeral
            .session_keys(&self.peer_public, &self.transcript, self.role, self.suite)
    }
}

/// A responder's session keys: derived, or still to derive.
enum Keys {
    Later(Box<Exchange>),
    Ready(SessionKeys),
}

/// What to do after [`Handshake::handle`].
#[derive(Debug)]
pub enum Step {
    /// Send this message and wait for the next one.
    Send(AuthMessage),
    /// Send this last message: the peer is authenticated.
    SendAndFinish(AuthMessage, Authenticated),
    /// Nothing to send: the peer is authenticated.
    Finish(Authenticated),
}

/// One side of one connection's authentication.
///
/// An initiator starts with [`Handshake::initiate`] (which gives the ping to
/// send) and ends in [`Handshake::on_pong`]; a responder starts with
/// [`Handshake::respond`] and goes through [`Handshake::on_ping`] and
/// [`Handshake::on_final`]. Any error ends the handshake: every later
/// message is refused.
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, Instant};
/// use mydht::{ChallengeCache, Handshake, Identity, LocalPeer};
///
/// let alice = Arc::new(LocalPeer::new(Identity::generate()?, "10.0.0.1:4000".into())?);
/// let bob = Arc::new(LocalPeer::new(Identity::generate()?, "10.0.0.2:4000".into())?);
/// let (timeout, now) = (Duration::from_secs(10), Instant::now());
/// let mut seen = ChallengeCache::new(1024, 2 * timeout); // one per node
///
/// let (mut initiator, ping) = Handshake::initiate(alice, None, timeout, now)?;
/// let mut responder = Handshake::respond(bob, timeout, now);
/// let pong = responder.on_ping(&ping, &mut seen, now)?;
/// let (fin, at_alice) = initiator.on_pong(&pong, now)?;
/// let at_bob = responder.on_final(&fin, now)?;
/// assert_eq!(at_alice.keys.send, at_bob.keys.recv);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Handshake {
    local: Arc<LocalPeer>,
    mode: AuthMode,
    suite: CipherSuite,
    expected_peer: Option<PeerId>,
    deadline: Instant,
    state: State,
}

enum State {
    /// With the ephemeral key made ahead of time, if any.
    AwaitPing(Option<EphemeralKey>),
    AwaitPong {
        challenge: Challenge,
        ephemeral: EphemeralKey,
    },
    AwaitFinal {
        challenge: Challenge,
        transcript: Transcript,
        peer: PeerInfo,
        keys: Keys,
    },
    /// A `NoAuth` responder that answered: its outcome, for
    /// [`Handshake::handle`] to hand over.
    Answered(Box<Authenticated>),
    Ended,
}

impl State {
    fn expects(&self) -> &'static str {
        match self {
            State::AwaitPing(_) => "ping",
            State::AwaitPong { .. } => "pong",
            State::AwaitFinal { .. } => "final pong",
            State::Answered(_) => "nothing (handshake answered)",
            State::Ended => "nothing (handshake ended)",
        }
    }
}

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
            suite,
            expected_peer: None,
            deadline: deadline(now, timeout),
            state: State::AwaitPing(ephemeral),
        }
    }

    /// When the handshake times out: the owner's timer should call
    /// [`Handshake::check_timeout`] then.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once the handshake succeeded or failed.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended)
    }

    /// Ends the handshake with [`AuthError::Timeout`] if `now` is past its
    /// deadline.
    pub fn check_timeout(&mut self, now: Instant) -> Result<(), AuthError> {
        if now >= self.deadline {
            self.state = State::Ended;
            return Err(AuthError::Timeout);
        }
        Ok(())
    }

    /// Takes any handshake message: the entry point for a decoder that does
    /// not know which one comes next. `seen` is only used for pings.
    pub fn handle(
        &mut self,
        message: &AuthMessage,
        seen: &mut ChallengeCache,
        now: Instant,
    ) -> Result<Step, AuthError> {
        match message {
            AuthMessage::Ping(ping) => {
                let pong = AuthMessage::Pong(self.on_ping(ping, seen, now)?);
                match mem::replace(&mut self.state, State::Ended) {
                    State::Answered(done) => Ok(Step::SendAndFinish(pong, *done)),
                    other => {
                        self.state = other;
                        Ok(Step::Send(pong))
                    }
                }
            }
            AuthMessage::Pong(pong) => {
                let (fin, answered) = self.answer_pong(pong, now)?;
                let done = answered.finish()?;
                Ok(match fin {
                    Some(fin) => Step::SendAndFinish(AuthMessage::PongFinal(fin), done),
                    None => Step::Finish(done),
                })
            }
            AuthMessage::PongFinal(fin) => self.on_final(fin, now).map(Step::Finish),
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
            return Err(AuthError::ModeMismatch);
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

    /// Refuses a peer announcing another suite than this side's: never a
    /// downgrade, never a shadow that cannot open the peer's chunks.
    fn check_suite(&self, theirs: CipherSuite) -> Result<(), AuthError> {
        if theirs != self.suite {
            return Err(AuthError::SuiteMismatch {
                ours: self.suite,
                theirs,
            });
        }
        Ok(())
    }

    fn sign(&self, transcript: &Transcript, role: Role) -> Result<Vec<u8>, AuthError> {
        self.local
            .identity()
            .sign(&transcript.signed_message(role))
            .map(|s| s.to_vec())
            .map_err(|e| AuthError::Crypto(e.message().to_owned()))
    }
}

fn unexpected(state: &State, got: &'static str) -> AuthError {
    AuthError::UnexpectedMessage {
        expected: state.expects(),
        got,
    }
}

/// `now + timeout`; an overflowing timeout means "a year", and a clock too
/// close to its end to add even that means "now" (never a panic).
fn deadline(now: Instant, timeout: Duration) -> Instant {
    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
    now.checked_add(timeout)
        .or_else(|| now.checked_add(YEAR))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    const SIGNED: (AuthMode, CipherSuite) = (AuthMode::Signed, CipherSuite::ChaCha20Poly1305);

    fn peer(addr: &str) -> Arc<LocalPeer> {
        Arc::new(LocalPeer::new(Identity::generate().unwrap(), addr.into()).unwrap())
    }

    /// Keys made ahead of time are the ones each side announces, and the
    /// session keys still agree.
    #[test]
    fn premade_ephemeral_keys_are_used() {
        let (t, now) = (Duration::from_secs(5), Instant::now());
        let mut seen = ChallengeCache::new(16, 2 * t);
        let (a_key, z_key) = (
            EphemeralKey::generate().unwrap(),
            EphemeralKey::generate().unwrap(),
        );
        let (a_pub, z_pub) = (*a_key.public(), *z_key.public());
        let (mut i, ping) =
            Handshake::initiate_with(peer("a"), None, t, now, a_key, SIGNED).unwrap();
        let mut r = Handshake::respond_with(peer("z"), t, now, Some(z_key), SIGNED);
        assert_eq!(ping.ephemeral_key, a_pub);
        let pong = r.on_ping(&ping, &mut seen, now).unwrap();
        assert_eq!(pong.ephemeral_key, z_pub);
        let (fin, at_a) = i.on_pong(&pong, now).unwrap();
        let at_z = r.on_final(&fin, now).unwrap();
        assert_eq!(at_a.keys.send, at_z.keys.recv);
        assert_eq!(at_a.keys.recv, at_z.keys.send);
    }

    /// Keys derived after each message is sent are the ones derived on
    /// demand, on both sides.
    #[test]
    fn keys_derived_after_sending_agree() {
        let (t, now) = (Duration::from_secs(5), Instant::now());
        let mut seen = ChallengeCache::new(16, 2 * t);
        let (mut i, ping) = Handshake::initiate(peer("a"), None, t, now).unwrap();
        let mut r = Handshake::respond(peer("z"), t, now);
        let pong = r.on_ping(&ping, &mut seen, now).unwrap();
        let early = r.derive_keys().unwrap().cloned();
        assert_eq!(r.derive_keys().unwrap().cloned(), early);
        let (fin, answered) = i.answer_pong(&pong, now).unwrap();
        let at_z = r.on_final(&fin.unwrap(), now).unwrap();
        let at_a = answered.finish().unwrap();
        assert_eq!(early, Some(at_z.keys.clone()));
        assert_eq!(at_a.keys.send, at_z.keys.recv);
        assert_eq!(at_a.keys.recv, at_z.keys.send);
        assert_eq!(at_a.peer.get_id(), r.local.info().get_id());
        assert_eq!(r.derive_keys(), Ok(None));
    }

    /// A pong announcing a small-order key is refused before the initiator
    /// signs anything over it.
    #[test]
    fn a_pong_with_a_small_order_key_gets_no_final() {
        let (t, now) = (Duration::from_secs(5), Instant::now());
        let mut seen = ChallengeCache::new(16, 2 * t);
        let (mut i, ping) = Handshake::initiate(peer("a"), None, t, now).unwrap();
        let mut r = Handshake::respond(peer("z"), t, now);
        let mut pong = r.on_ping(&ping, &mut seen, now).unwrap();
        pong.ephemeral_key = vec![0; EPHEMERAL_KEY_LEN];
        assert!(matches!(
            i.answer_pong(&pong, now),
            Err(AuthError::KeyExchange)
        ));
        assert!(i.is_ended());
    }

    /// The final pong goes out before the responder's signature is checked,
    /// but a bad signature still ends the handshake without a peer or keys.
    #[test]
    fn a_pong_with_a_bad_signature_is_answered_but_never_authenticated() {
        let (t, now) = (Duration::from_secs(5), Instant::now());
        let mut seen = ChallengeCache::new(16, 2 * t);
        let (mut i, ping) = Handshake::initiate(peer("a"), None, t, now).unwrap();
        let mut r = Handshake::respond(peer("z"), t, now);
        let mut pong = r.on_ping(&ping, &mut seen, now).unwrap();
        pong.signature[3] ^= 1;
        let (fin, answered) = i.answer_pong(&pong, now).unwrap();
        assert!(fin.is_some());
        assert!(i.is_ended());
        assert!(matches!(answered.finish(), Err(AuthError::BadSignature)));
    }

    /// Checks that need no signature (here: the peer named at connect) are
    /// made before the initiator signs anything.
    #[test]
    fn a_pong_from_another_peer_than_expected_gets_no_final() {
        let (t, now) = (Duration::from_secs(5), Instant::now());
        let mut seen = ChallengeCache::new(16, 2 * t);
        let other = *peer("o").info().get_id();
        let (mut i, ping) = Handshake::initiate(peer("a"), Some(other), t, now).unwrap();
        let mut r = Handshake::respond(peer("z"), t, now);
        let pong = r.on_ping(&ping, &mut seen, now).unwrap();
        assert!(matches!(
            i.answer_pong(&pong, now),
            Err(AuthError::UnexpectedPeer)
        ));
    }

    fn pair(
        i_mode: AuthMode,
        r_mode: AuthMode,
    ) -> (Handshake, AuthPing, Handshake, ChallengeCache, Instant) {
        let (t, now) = (Duration::from_secs(5), Instant::now());
        let key = EphemeralKey::generate().unwrap();
        let suite = CipherSuite::default();
        let (i, ping) =
            Handshake::initiate_with(peer("a"), None, t, now, key, (i_mode, suite)).unwrap();
        let r = Handshake::respond_with(peer("z"), t, now, None, (r_mode, suite));
        (i, ping, r, ChallengeCache::new(16, 2 * t), now)
    }

    /// `NoAuth`: a ping and an unsigned pong, both sides done, the same keys
    /// and each side's announced peer.
    #[test]
    fn no_auth_is_two_messages_with_agreeing_keys() {
        let (mut i, ping, mut r, mut seen, now) = pair(AuthMode::NoAuth, AuthMode::NoAuth);
        let Ok(Step::SendAndFinish(pong, at_z)) =
            r.handle(&AuthMessage::Ping(ping), &mut seen, now)
        else {
            panic!("a NoAuth responder is done once it answered");
        };
        let AuthMessage::Pong(p) = &pong else {
            panic!("a pong answers a ping");
        };
        assert!(p.signature.is_empty());
        let Ok(Step::Finish(at_a)) = i.handle(&pong, &mut seen, now) else {
            panic!("a NoAuth initiator sends no final pong");
        };
        assert_eq!(at_a.keys.send, at_z.keys.recv);
        assert_eq!(at_a.keys.recv, at_z.keys.send);
        assert_eq!(at_a.peer.get_id(), r.local.info().get_id());
        assert_eq!(at_z.peer.get_id(), i.local.info().get_id());
        assert!(i.is_ended() && r.is_ended());
    }

    /// A responder refuses a ping in the other mode, whichever it is.
    #[test]
    fn a_responder_refuses_the_other_mode() {
        for (i_mode, r_mode) in [
            (AuthMode::NoAuth, AuthMode::Signed),
            (AuthMode::Signed, AuthMode::NoAuth),
        ] {
            let (_, ping, mut r, mut seen, now) = pair(i_mode, r_mode);
            assert_eq!(
                r.on_ping(&ping, &mut seen, now).err(),
                Some(AuthError::ModeMismatch)
            );
        }
    }

    /// An initiator refuses a pong of the other mode (a responder that
    /// ignored the ping's mode): a `Signed` one never takes an unsigned pong.
    #[test]
    fn an_initiator_refuses_a_pong_of_the_other_mode() {
        for (mode, other) in [
            (AuthMode::Signed, AuthMode::NoAuth),
            (AuthMode::NoAuth, AuthMode::Signed),
        ] {
            let (mut i, mut ping, mut r, mut seen, now) = pair(mode, other);
            ping.mode = other;
            let pong = r.on_ping(&ping, &mut seen, now).unwrap();
            let refused = i.answer_pong(&pong, now).err();
            let expected = match mode {
                AuthMode::Signed => AuthError::Malformed("signature"),
                AuthMode::NoAuth => AuthError::ModeMismatch,
            };
            assert_eq!(refused, Some(expected));
        }
    }
}
