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
//!
//! The module, one file per concept:
//!
//! - here: the [`Handshake`] state machine, what each state expects, and
//!   its entry point [`Handshake::handle`];
//! - `initiator`: the initiator's side ([`Handshake::initiate`],
//!   [`Handshake::on_pong`], [`Handshake::answer_pong`]);
//! - `responder`: the responder's side ([`Handshake::respond`],
//!   [`Handshake::on_ping`], [`Handshake::derive_keys`],
//!   [`Handshake::on_final`]);
//! - `known_side`: both sides of the one-message known-key handshake
//!   ([`Handshake::dial_known`], [`Handshake::on_known`]; see
//!   [`known`](crate::auth::known));
//! - `exchange`: the key exchange left for later ([`AnsweredPong`], the
//!   responder's keys) and the outcome, [`Authenticated`].

mod exchange;
mod initiator;
mod known_side;
mod responder;
#[cfg(test)]
mod tests;

use std::mem;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::challenge::{Challenge, ChallengeCache};
use crate::auth::crypto::EphemeralKey;
use crate::auth::error::AuthError;
use crate::auth::message::AuthMessage;
use crate::auth::mode::AuthMode;
use crate::auth::suite::CipherSuite;
use crate::auth::transcript::{Role, Transcript};
use crate::identity::{LocalPeer, PeerId, PeerInfo};

pub(crate) use exchange::AnsweredPong;
pub use exchange::Authenticated;
use exchange::Keys;
pub use known_side::wall_clock_ms;

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
    /// A responder also answers pings in this mode (the mode of the
    /// send-once connections a node accepts); [`mode`](Self::mode) then
    /// says which one the ping used.
    also: Option<AuthMode>,
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
    /// The mode of this handshake: for a responder that also accepts
    /// another ([`also_accept`](Self::also_accept)), the mode of the ping
    /// once it answered it.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// A responder also answers pings in `mode`: a node whose send-once
    /// connections are unauthenticated accepts them beside its own mode;
    /// its owner then checks [`mode`](Self::mode) and treats a peer
    /// authenticated in `mode` as that mode allows.
    pub fn also_accept(mut self, mode: AuthMode) -> Self {
        if mode != self.mode {
            self.also = Some(mode);
        }
        self
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
    /// not know which one comes next. `seen` is only used for pings and
    /// known-key flights.
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
            // The one clock this reads: a flight's time window is in wall
            // time, the same on both nodes.
            AuthMessage::Known(flight) => self
                .on_known(flight, seen, now, wall_clock_ms())
                .map(Step::Finish),
            AuthMessage::Resumed(flight) => self
                .on_resumed(flight, seen, now, wall_clock_ms())
                .map(Step::Finish),
        }
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
