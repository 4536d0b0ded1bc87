//! The canonical bytes both sides sign. Built field by field here, never
//! from an encoder's output, so the signature means the same whatever
//! `MsgEnc` carried the messages.

use mydht_base::Peer;
use openssl::sha::Sha256;

use super::challenge::Challenge;
use super::CipherSuite;
use crate::identity::PeerInfo;

/// Length of an ephemeral X25519 public key: a fixed-size field of the
/// transcript (and of the ping and pong that carry it).
pub const EPHEMERAL_KEY_LEN: usize = 32;

const TRANSCRIPT_LABEL: &[u8] = b"mydht-auth-v1 transcript\0";
const INITIATOR_LABEL: &[u8] = b"mydht-auth-v1 initiator signature\0";
const RESPONDER_LABEL: &[u8] = b"mydht-auth-v1 responder signature\0";

/// Which side of the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The side that connects and sends the ping.
    Initiator,
    /// The side that accepts and answers with a pong.
    Responder,
}

/// SHA-256 of everything the handshake agrees on: both peers' info, both
/// challenges, both ephemeral keys, initiator first, and the cipher suite.
#[derive(Clone, Copy)]
pub(crate) struct Transcript([u8; 32]);

/// The initiator's and responder's halves of a transcript.
pub(crate) struct Side<'a> {
    pub(crate) peer: &'a PeerInfo,
    pub(crate) challenge: &'a Challenge,
    pub(crate) ephemeral_key: &'a [u8; EPHEMERAL_KEY_LEN],
}

impl Transcript {
    pub(crate) fn new(initiator: &Side<'_>, responder: &Side<'_>, suite: CipherSuite) -> Self {
        let mut h = Sha256::new();
        h.update(TRANSCRIPT_LABEL);
        for side in [initiator, responder] {
            let peer = side.peer;
            h.update(peer.get_id().as_bytes());
            h.update(peer.identity_key());
            h.update(peer.tunnel_public_key());
            // Length-prefixed: the address is the only variable-size field.
            let address = peer.get_address().as_bytes();
            h.update(&(address.len() as u16).to_be_bytes());
            h.update(address);
        }
        for side in [initiator, responder] {
            h.update(side.challenge.as_bytes());
        }
        for side in [initiator, responder] {
            h.update(side.ephemeral_key);
        }
        // Signed, so a suite rewritten in the ping or pong fails the
        // signature; and the HKDF salt, so each suite gets its own keys.
        h.update(&[suite.transcript_id()]);
        Transcript(h.finish())
    }

    /// The transcript hash: the HKDF salt of the session keys.
    pub(crate) fn hash(&self) -> &[u8; 32] {
        &self.0
    }

    /// What `signer` signs: a label naming its role, then the hash. The role
    /// label stops one side's signature being reflected as the other's.
    pub(crate) fn signed_message(&self, signer: Role) -> Vec<u8> {
        let label = match signer {
            Role::Initiator => INITIATOR_LABEL,
            Role::Responder => RESPONDER_LABEL,
        };
        [label, &self.0[..]].concat()
    }
}
