//! The handshake messages as they travel: plain serde structs that any
//! `MsgEnc` can encode. Keys, challenges and signatures are byte vectors here;
//! the handshake checks every length on receipt before using them.

use mydht_base::Peer;
use serde::{Deserialize, Serialize};

use super::{AuthError, AuthKnown, AuthMode, AuthResumed, CipherSuite};
use crate::identity::{KeyBinding, PeerId, PeerInfo, MAX_ADDRESS_LEN};

/// A peer's [`PeerInfo`] on the wire, unchecked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfoMsg {
    /// The announced id: must be SHA-256 of `identity_key`.
    pub id: Vec<u8>,
    /// Ed25519 identity public key (32 bytes).
    pub identity_key: Vec<u8>,
    /// Listening address (at most [`MAX_ADDRESS_LEN`] bytes).
    pub address: String,
    /// X25519 tunnel public key (32 bytes).
    pub tunnel_key: Vec<u8>,
    /// The peer's [`KeyBinding`] (64 bytes), or empty: lets the nodes this
    /// peer is passed on to dial it known-key. Not under the transcript's
    /// signatures (a binding proves itself, checked by whoever uses it).
    #[serde(default)]
    pub binding: Vec<u8>,
}

impl From<&PeerInfo> for PeerInfoMsg {
    fn from(info: &PeerInfo) -> Self {
        PeerInfoMsg {
            id: info.get_id().as_bytes().to_vec(),
            identity_key: info.identity_key().to_vec(),
            address: info.get_address().clone(),
            tunnel_key: info.tunnel_public_key().to_vec(),
            binding: info.key_binding().map(|b| b.0.to_vec()).unwrap_or_default(),
        }
    }
}

impl PeerInfoMsg {
    /// The checked [`PeerInfo`]: every length bounded, and the id the hash of
    /// the identity key ([`AuthError::WrongId`] otherwise). Its binding, if
    /// any, is kept as claimed (not verified here).
    pub fn validate(&self) -> Result<PeerInfo, AuthError> {
        let identity_key = fixed(&self.identity_key, "identity key")?;
        let id: [u8; 32] = fixed(&self.id, "peer id")?;
        let tunnel_key = fixed(&self.tunnel_key, "tunnel key")?;
        let binding = match self.binding.len() {
            0 => None,
            _ => Some(KeyBinding(fixed(&self.binding, "key binding")?)),
        };
        if self.address.len() > MAX_ADDRESS_LEN {
            return Err(AuthError::Malformed("address"));
        }
        if PeerId::of_key(&identity_key) != PeerId::from(id) {
            return Err(AuthError::WrongId);
        }
        let info = PeerInfo::new(identity_key, self.address.clone(), tunnel_key)
            .map_err(|_| AuthError::Malformed("address"))?;
        Ok(match binding {
            Some(b) => info.with_binding(b),
            None => info,
        })
    }
}

/// First message, initiator to responder: who I am, a fresh challenge, my
/// ephemeral X25519 key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthPing {
    /// The initiator.
    pub peer: PeerInfoMsg,
    /// The initiator's fresh challenge (32 bytes).
    pub challenge: Vec<u8>,
    /// The initiator's ephemeral X25519 public key (32 bytes).
    pub ephemeral_key: Vec<u8>,
    /// The initiator's mode: a responder refuses a ping in another mode.
    pub mode: AuthMode,
    /// The initiator's cipher suite: a responder refuses a ping with
    /// another.
    pub suite: CipherSuite,
}

/// Second message, responder to initiator: who I am, the challenge I
/// answer, my own challenge and ephemeral key, and my signature over the
/// transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthPong {
    /// The responder.
    pub peer: PeerInfoMsg,
    /// The initiator's challenge this pong answers (32 bytes).
    pub your_challenge: Vec<u8>,
    /// The responder's fresh challenge (32 bytes).
    pub challenge: Vec<u8>,
    /// The responder's ephemeral X25519 public key (32 bytes).
    pub ephemeral_key: Vec<u8>,
    /// Responder's Ed25519 signature over the transcript (64 bytes; empty
    /// under [`AuthMode::NoAuth`], which has no third message).
    pub signature: Vec<u8>,
    /// The responder's cipher suite: an initiator refuses a pong with
    /// another (a responder that ignored the ping's).
    pub suite: CipherSuite,
}

/// Third message, initiator to responder: the initiator's signature over
/// the same transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthPongFinal {
    /// The responder's challenge this message answers (32 bytes).
    pub your_challenge: Vec<u8>,
    /// Initiator's Ed25519 signature over the transcript (64 bytes).
    pub signature: Vec<u8>,
}

/// Any handshake message, for a decoder that does not know which comes next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthMessage {
    /// See [`AuthPing`].
    Ping(AuthPing),
    /// See [`AuthPong`].
    Pong(AuthPong),
    /// See [`AuthPongFinal`].
    PongFinal(AuthPongFinal),
    /// See [`AuthKnown`]: the known-key handshake's one message.
    Known(AuthKnown),
    /// See [`AuthResumed`]: a send-once flight resumed from the last one
    /// between the same two peers.
    Resumed(AuthResumed),
}

impl AuthMessage {
    /// The message's name, for errors and logs.
    pub fn name(&self) -> &'static str {
        match self {
            AuthMessage::Ping(_) => "ping",
            AuthMessage::Pong(_) => "pong",
            AuthMessage::PongFinal(_) => "final pong",
            AuthMessage::Known(_) => "known-key flight",
            AuthMessage::Resumed(_) => "resumed flight",
        }
    }
}

/// `bytes` as a fixed-size array, or [`AuthError::Malformed`].
pub(crate) fn fixed<const N: usize>(
    bytes: &[u8],
    what: &'static str,
) -> Result<[u8; N], AuthError> {
    bytes.try_into().map_err(|_| AuthError::Malformed(what))
}
