//! The public-key operations of the handshake, on openssl: ephemeral X25519
//! keys, Ed25519 verification, and HKDF-SHA256 of the session keys.

use openssl::md::Md;
use openssl::pkey::{Id, PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::sign::Verifier;

use super::session_keys::{SessionKey, SessionKeys, SESSION_KEY_LEN};
use super::transcript::{Role, Transcript};
use super::AuthError;
use crate::identity::{IDENTITY_KEY_LEN, SIGNATURE_LEN};

/// Length of an ephemeral X25519 public key.
pub const EPHEMERAL_KEY_LEN: usize = 32;

const SESSION_KEYS_INFO: &[u8] = b"mydht-auth-v1 session keys";

/// A one-handshake X25519 key pair.
pub(crate) struct EphemeralKey {
    private: PKey<Private>,
    public: [u8; EPHEMERAL_KEY_LEN],
}

impl EphemeralKey {
    pub(crate) fn generate() -> Result<Self, AuthError> {
        let private = PKey::generate_x25519()?;
        let public = private
            .raw_public_key()?
            .try_into()
            .map_err(|_| AuthError::Crypto("X25519 public key length".into()))?;
        Ok(EphemeralKey { private, public })
    }

    pub(crate) fn public(&self) -> &[u8; EPHEMERAL_KEY_LEN] {
        &self.public
    }

    /// The session keys of `role` from the exchange with `peer_public`,
    /// bound to `transcript`.
    pub(crate) fn session_keys(
        &self,
        peer_public: &[u8; EPHEMERAL_KEY_LEN],
        transcript: &Transcript,
        role: Role,
    ) -> Result<SessionKeys, AuthError> {
        let peer = PKey::public_key_from_raw_bytes(peer_public, Id::X25519)
            .map_err(|_| AuthError::Malformed("ephemeral key"))?;
        let mut shared = [0u8; 32];
        let mut ctx = PkeyCtx::new(&self.private)?;
        ctx.derive_init()?;
        ctx.derive_set_peer(&peer)?;
        let len = ctx
            .derive(Some(&mut shared))
            .map_err(|_| AuthError::KeyExchange)?;
        // A low-order peer key gives an all-zero secret anyone can compute.
        if len != shared.len() || shared.iter().all(|&b| b == 0) {
            return Err(AuthError::KeyExchange);
        }
        let mut okm = [0u8; 2 * SESSION_KEY_LEN];
        let mut hkdf = PkeyCtx::new_id(Id::HKDF)?;
        hkdf.derive_init()?;
        hkdf.set_hkdf_md(Md::sha256())?;
        hkdf.set_hkdf_key(&shared)?;
        hkdf.set_hkdf_salt(transcript.hash())?;
        hkdf.add_hkdf_info(SESSION_KEYS_INFO)?;
        hkdf.derive(Some(&mut okm))?;
        shared.fill(0);
        let mut to_responder = [0u8; SESSION_KEY_LEN];
        let mut to_initiator = [0u8; SESSION_KEY_LEN];
        to_responder.copy_from_slice(&okm[..SESSION_KEY_LEN]);
        to_initiator.copy_from_slice(&okm[SESSION_KEY_LEN..]);
        okm.fill(0);
        let (send, recv) = match role {
            Role::Initiator => (to_responder, to_initiator),
            Role::Responder => (to_initiator, to_responder),
        };
        Ok(SessionKeys {
            send: SessionKey::from_bytes(send),
            recv: SessionKey::from_bytes(recv),
        })
    }
}

/// Checks `signer`'s Ed25519 `signature` over `transcript`.
pub(crate) fn verify_transcript(
    identity_key: &[u8; IDENTITY_KEY_LEN],
    transcript: &Transcript,
    signer: Role,
    signature: &[u8; SIGNATURE_LEN],
) -> Result<(), AuthError> {
    let key = PKey::public_key_from_raw_bytes(identity_key, Id::ED25519)
        .map_err(|_| AuthError::Malformed("identity key"))?;
    let ok = Verifier::new_without_digest(&key)?
        .verify_oneshot(signature, &transcript.signed_message(signer))
        // openssl reports an undecodable key or signature as an error.
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(AuthError::BadSignature)
    }
}
