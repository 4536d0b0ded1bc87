//! The known-key flight's cryptography: the hash both sides start from,
//! the sealed identity of the dialler, and the keys and proof derived from
//! both exchanges. Built byte by byte here, never from an encoder's output.

use openssl::sha::Sha256;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};

use crate::auth::crypto::{hkdf_sha256, hmac_sha256};
use crate::auth::error::AuthError;
use crate::auth::session_keys::{SessionKey, SessionKeys, SESSION_KEY_LEN};
use crate::auth::suite::CipherSuite;
use crate::auth::transcript::{Role, EPHEMERAL_KEY_LEN};
use crate::identity::{KeyBinding, PeerInfo, IDENTITY_KEY_LEN, MAX_ADDRESS_LEN, SIGNATURE_LEN};

const HASH_LABEL: &[u8] = b"mydht-known-v3 flight\0";
const SEAL_INFO: &[u8] = b"mydht-known-v1 sealed identity";
const SESSION_INFO: &[u8] = b"mydht-known-v1 session keys";
const PROOF_INFO: &[u8] = b"mydht-known-v1 proof";
const TAG_LEN: usize = 16;
/// The sealed identity's fixed part: identity key, tunnel key, binding.
const FIXED_LEN: usize = IDENTITY_KEY_LEN + EPHEMERAL_KEY_LEN + SIGNATURE_LEN;
/// The longest sealed identity (its address at the longest allowed).
pub(super) const MAX_SEALED_LEN: usize = FIXED_LEN + MAX_ADDRESS_LEN + TAG_LEN;
/// Length of the proof.
pub(super) const PROOF_LEN: usize = 32;

/// What the flight's hash covers in the clear: whom it is for, the
/// dialler's ephemeral key, its time, the suite, whether the dialler
/// sends one message only and whether it asks for a ticket.
pub(super) struct Clear<'a> {
    pub(super) responder: &'a PeerInfo,
    pub(super) ephemeral_key: &'a [u8; EPHEMERAL_KEY_LEN],
    pub(super) timestamp_ms: u64,
    pub(super) suite: CipherSuite,
    pub(super) send_once: bool,
    pub(super) ticket: bool,
}

impl Clear<'_> {
    /// `h0`: SHA-256 of the label and the clear fields.
    pub(super) fn hash(&self) -> [u8; 32] {
        use mydht_base::Peer;
        let mut h = Sha256::new();
        h.update(HASH_LABEL);
        h.update(self.responder.get_id().as_bytes());
        h.update(self.responder.identity_key());
        h.update(self.responder.tunnel_public_key());
        h.update(self.ephemeral_key);
        h.update(&self.timestamp_ms.to_be_bytes());
        h.update(&[
            self.suite.transcript_id(),
            u8::from(self.send_once),
            u8::from(self.ticket),
        ]);
        h.finish()
    }
}

/// The dialler's identity as sealed in the flight: its keys, their binding
/// and its listening address.
pub(super) struct SealedIdentity {
    pub(super) identity_key: [u8; IDENTITY_KEY_LEN],
    pub(super) tunnel_key: [u8; EPHEMERAL_KEY_LEN],
    pub(super) binding: KeyBinding,
    pub(super) address: String,
}

fn seal_key(es: &[u8; 32], h0: &[u8; 32]) -> [u8; 32] {
    let okm = hkdf_sha256(es, h0, SEAL_INFO);
    let mut key = [0u8; 32];
    key.copy_from_slice(&okm[..32]);
    key
}

/// The sealed identity's ChaCha20-Poly1305 key from `es` and `h0`, through
/// ring: the same bytes as openssl's, whose legacy cipher constant made
/// openssl 3 fetch the cipher again for every seal and open (with the
/// context set-up, 1.9% of the CPU of a tunnel round trip through 3 relays
/// in its profile, for a seal of about 150 bytes on each side of a hop).
fn seal_cipher(es: &[u8; 32], h0: &[u8; 32]) -> Result<LessSafeKey, AuthError> {
    let mut key = seal_key(es, h0);
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, &key);
    key.fill(0);
    unbound
        .map(LessSafeKey::new)
        .map_err(|_| AuthError::Crypto("ChaCha20-Poly1305 key".into()))
}

impl SealedIdentity {
    /// ChaCha20-Poly1305 under a key from `es` and `h0` (nonce zero: the
    /// key serves this one seal), `h0` as associated data: the ciphertext
    /// then its tag.
    pub(super) fn seal(&self, es: &[u8; 32], h0: &[u8; 32]) -> Result<Vec<u8>, AuthError> {
        let address = self.address.as_bytes();
        if address.len() > MAX_ADDRESS_LEN {
            return Err(AuthError::Malformed("address"));
        }
        let mut sealed = Vec::with_capacity(FIXED_LEN + address.len() + TAG_LEN);
        sealed.extend_from_slice(&self.identity_key);
        sealed.extend_from_slice(&self.tunnel_key);
        sealed.extend_from_slice(&self.binding.0);
        sealed.extend_from_slice(address);
        seal_cipher(es, h0)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key([0u8; 12]),
                Aad::from(h0),
                &mut sealed,
            )
            .map_err(|_| AuthError::Crypto("ChaCha20-Poly1305 seal".into()))?;
        Ok(sealed)
    }

    /// Opens what [`seal`](Self::seal) made: [`AuthError::BadSeal`] for
    /// bytes not sealed for this `es` and `h0`.
    pub(super) fn open(sealed: &[u8], es: &[u8; 32], h0: &[u8; 32]) -> Result<Self, AuthError> {
        if sealed.len() < FIXED_LEN + TAG_LEN || sealed.len() > MAX_SEALED_LEN {
            return Err(AuthError::Malformed("sealed identity"));
        }
        let mut buf = sealed.to_vec();
        let plain: &[u8] = seal_cipher(es, h0)?
            .open_in_place(
                Nonce::assume_unique_for_key([0u8; 12]),
                Aad::from(h0),
                &mut buf,
            )
            .map_err(|_| AuthError::BadSeal)?;
        // Lengths checked above: the plaintext is as long as the ciphertext.
        let field = |from: usize, to: usize| plain.get(from..to).ok_or(AuthError::BadSeal);
        let identity_key = field(0, IDENTITY_KEY_LEN)?
            .try_into()
            .map_err(|_| AuthError::BadSeal)?;
        let tunnel_key = field(IDENTITY_KEY_LEN, IDENTITY_KEY_LEN + EPHEMERAL_KEY_LEN)?
            .try_into()
            .map_err(|_| AuthError::BadSeal)?;
        let binding = field(IDENTITY_KEY_LEN + EPHEMERAL_KEY_LEN, FIXED_LEN)?
            .try_into()
            .map_err(|_| AuthError::BadSeal)?;
        let address = String::from_utf8(field(FIXED_LEN, plain.len())?.to_vec())
            .map_err(|_| AuthError::Malformed("address"))?;
        Ok(SealedIdentity {
            identity_key,
            tunnel_key,
            binding: KeyBinding(binding),
            address,
        })
    }
}

/// `h1`: `h0` then the sealed identity.
pub(super) fn sealed_hash(h0: &[u8; 32], sealed: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(h0);
    h.update(sealed);
    h.finish()
}

/// The session keys of `role` and the flight's proof, from the flight's
/// secrets `ikm` (a known-key flight's ephemeral-static and static-static
/// secrets, `es ‖ ss`; a resumed flight's ticket secret) and its hash.
pub(super) fn derive(
    ikm: &[u8],
    h1: &[u8; 32],
    role: Role,
    suite: CipherSuite,
) -> (SessionKeys, [u8; PROOF_LEN]) {
    let mut okm = hkdf_sha256(ikm, h1, SESSION_INFO);
    let mut proof_okm = hkdf_sha256(ikm, h1, PROOF_INFO);
    let mut proof_key = [0u8; 32];
    proof_key.copy_from_slice(&proof_okm[..32]);
    proof_okm.fill(0);
    let proof = hmac_sha256(&proof_key, &[h1]);
    proof_key.fill(0);
    let mut to_responder = [0u8; SESSION_KEY_LEN];
    let mut to_initiator = [0u8; SESSION_KEY_LEN];
    to_responder.copy_from_slice(&okm[..SESSION_KEY_LEN]);
    to_initiator.copy_from_slice(&okm[SESSION_KEY_LEN..]);
    okm.fill(0);
    let (send, recv) = match role {
        Role::Initiator => (to_responder, to_initiator),
        Role::Responder => (to_initiator, to_responder),
    };
    let keys = SessionKeys {
        send: SessionKey::from_bytes(send),
        recv: SessionKey::from_bytes(recv),
        suite,
    };
    (keys, proof)
}

#[cfg(test)]
mod tests {
    use openssl::symm::{encrypt_aead, Cipher};

    use super::*;

    fn identity() -> SealedIdentity {
        SealedIdentity {
            identity_key: [1; IDENTITY_KEY_LEN],
            tunnel_key: [2; EPHEMERAL_KEY_LEN],
            binding: KeyBinding([3; SIGNATURE_LEN]),
            address: "127.0.0.1:4000".into(),
        }
    }

    /// ring's seal gives openssl's ChaCha20-Poly1305 bytes (the flight's
    /// format is unchanged), and opens back to the same identity.
    #[test]
    fn the_sealed_identity_is_openssls_chacha20_poly1305() {
        let (es, h0) = ([7u8; 32], [9u8; 32]);
        let id = identity();
        let sealed = id.seal(&es, &h0).unwrap();
        let plain = [
            &id.identity_key[..],
            &id.tunnel_key[..],
            &id.binding.0[..],
            id.address.as_bytes(),
        ]
        .concat();
        let mut tag = [0u8; TAG_LEN];
        let mut expected = encrypt_aead(
            Cipher::chacha20_poly1305(),
            &seal_key(&es, &h0),
            Some(&[0u8; 12]),
            &h0,
            &plain,
            &mut tag,
        )
        .unwrap();
        expected.extend_from_slice(&tag);
        assert_eq!(sealed, expected);
        let opened = SealedIdentity::open(&sealed, &es, &h0).unwrap();
        assert_eq!(opened.identity_key, id.identity_key);
        assert_eq!(opened.tunnel_key, id.tunnel_key);
        assert_eq!(opened.binding.0, id.binding.0);
        assert_eq!(opened.address, id.address);
    }

    #[test]
    fn a_changed_seal_or_key_is_refused_typed() {
        let (es, h0) = ([7u8; 32], [9u8; 32]);
        let sealed = identity().seal(&es, &h0).unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(matches!(
                SealedIdentity::open(&bad, &es, &h0),
                Err(AuthError::BadSeal)
            ));
        }
        assert!(matches!(
            SealedIdentity::open(&sealed, &[8u8; 32], &h0),
            Err(AuthError::BadSeal)
        ));
        assert!(matches!(
            SealedIdentity::open(&sealed, &es, &[0u8; 32]),
            Err(AuthError::BadSeal)
        ));
        for len in [0, FIXED_LEN + TAG_LEN - 1, MAX_SEALED_LEN + 1] {
            assert!(matches!(
                SealedIdentity::open(&vec![0u8; len], &es, &h0),
                Err(AuthError::Malformed(_))
            ));
        }
    }
}
