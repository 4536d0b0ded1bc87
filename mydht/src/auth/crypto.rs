//! The public-key operations of the handshake: ephemeral X25519 keys
//! (openssl, and curve25519-dalek for a known-key dial's), Ed25519
//! verification (ed25519-dalek, [`verify_signature`]), and HKDF-SHA256 of
//! the session keys.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::montgomery::MontgomeryPoint;
use openssl::pkey::{Id, PKey, PKeyRef, Private, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::sha::Sha256;

use super::session_keys::{SessionKey, SessionKeys, SESSION_KEY_LEN};
use super::transcript::{Role, Transcript, EPHEMERAL_KEY_LEN};
use super::{AuthError, CipherSuite};
use crate::identity::{verify_signature, IDENTITY_KEY_LEN, SIGNATURE_LEN};

const SESSION_KEYS_INFO: &[u8] = b"mydht-auth-v1 session keys";

/// A one-handshake X25519 key pair, and, for a known-key dial, its
/// exchange with the peer it was made for, made ahead
/// ([`prepare_for`](Self::prepare_for), [`prepared`](Self::prepared)).
pub(crate) struct EphemeralKey {
    /// `None` for a key made for one prepared exchange
    /// ([`prepared`](Self::prepared)): its private scalar is gone.
    private: Option<PKey<Private>>,
    public: [u8; EPHEMERAL_KEY_LEN],
    /// The peer's static key and the shared secret with it.
    prepared: Option<([u8; EPHEMERAL_KEY_LEN], [u8; 32])>,
}

impl Drop for EphemeralKey {
    fn drop(&mut self) {
        if let Some((_, secret)) = self.prepared.as_mut() {
            secret.fill(0);
        }
    }
}

impl EphemeralKey {
    pub(crate) fn generate() -> Result<Self, AuthError> {
        let private = PKey::generate_x25519()?;
        let public = private
            .raw_public_key()?
            .try_into()
            .map_err(|_| AuthError::Crypto("X25519 public key length".into()))?;
        Ok(EphemeralKey {
            private: Some(private),
            public,
            prepared: None,
        })
    }

    /// A fresh key made for one exchange only, with the peer whose static
    /// key is `peer_key` (`peer`, its Edwards form: [`edwards_of`]), and
    /// that exchange: the public key by curve25519-dalek's base-point
    /// table, the exchange by its (vectorised, constant-time)
    /// multiplication of `peer`, about 18 + 33 µs on this project's
    /// machine against openssl's 50 + 41 µs for the key generation and the
    /// exchange (one run, bench lock held). The private scalar is dropped
    /// once both are made: the key serves that exchange only
    /// ([`exchange_for`](Self::exchange_for) with that key).
    pub(crate) fn prepared(
        peer_key: &[u8; EPHEMERAL_KEY_LEN],
        peer: &EdwardsPoint,
    ) -> Result<Self, AuthError> {
        let mut secret = [0u8; 32];
        openssl::rand::rand_priv_bytes(&mut secret)?;
        let key = Self::prepared_with(peer_key, peer, &secret);
        secret.fill(0);
        key
    }

    /// [`prepared`](Self::prepared) with the private scalar given.
    fn prepared_with(
        peer_key: &[u8; EPHEMERAL_KEY_LEN],
        peer: &EdwardsPoint,
        secret: &[u8; 32],
    ) -> Result<Self, AuthError> {
        let public = MontgomeryPoint::mul_base_clamped(*secret).to_bytes();
        // The clamped scalar is a multiple of the cofactor: the same
        // multiple whichever Edwards point of the key's `u` it multiplies,
        // whose `u` is the X25519 function's result.
        let mut shared = peer.mul_clamped(*secret).to_montgomery().to_bytes();
        if shared.iter().all(|&b| b == 0) {
            return Err(AuthError::KeyExchange);
        }
        let key = EphemeralKey {
            private: None,
            public,
            prepared: Some((*peer_key, shared)),
        };
        shared.fill(0);
        Ok(key)
    }

    /// Makes the exchange with `peer_key` (the bytes of `peer`) now, for
    /// the one dial to that peer that will take this key: its
    /// [`exchange_for`](Self::exchange_for) then costs nothing.
    pub(crate) fn prepare_for(
        &mut self,
        peer_key: &[u8; EPHEMERAL_KEY_LEN],
        peer: &PKeyRef<Public>,
    ) -> Result<(), AuthError> {
        let secret = x25519_with(self.private()?, peer)?;
        self.prepared = Some((*peer_key, secret));
        Ok(())
    }

    /// The static key this key's exchange was prepared for, if any.
    pub(crate) fn prepared_for(&self) -> Option<&[u8; EPHEMERAL_KEY_LEN]> {
        self.prepared.as_ref().map(|(k, _)| k)
    }

    pub(crate) fn public(&self) -> &[u8; EPHEMERAL_KEY_LEN] {
        &self.public
    }

    /// The X25519 shared secret with `peer` (imported with
    /// [`x25519_public`]).
    pub(crate) fn exchange_with(&self, peer: &PKeyRef<Public>) -> Result<[u8; 32], AuthError> {
        x25519_with(self.private()?, peer)
    }

    /// The private key; a key made for one prepared exchange has none.
    fn private(&self) -> Result<&PKeyRef<Private>, AuthError> {
        self.private
            .as_deref()
            .ok_or_else(|| AuthError::Crypto("a key made for one prepared exchange".into()))
    }

    /// The X25519 shared secret with `peer`, whose bytes are `peer_key`:
    /// the one prepared for that key, else made now.
    pub(crate) fn exchange_for(
        &self,
        peer_key: &[u8; EPHEMERAL_KEY_LEN],
        peer: &PKeyRef<Public>,
    ) -> Result<[u8; 32], AuthError> {
        match &self.prepared {
            Some((key, secret)) if key == peer_key => Ok(*secret),
            _ => self.exchange_with(peer),
        }
    }

    /// The session keys of `role` for `suite` from the exchange with
    /// `peer_public`, bound to `transcript` (which names the suite).
    pub(crate) fn session_keys(
        &self,
        peer_public: &[u8; EPHEMERAL_KEY_LEN],
        transcript: &Transcript,
        role: Role,
        suite: CipherSuite,
    ) -> Result<SessionKeys, AuthError> {
        let mut shared = x25519(self.private()?, peer_public)?;
        let mut okm = hkdf_sha256(&shared, transcript.hash(), SESSION_KEYS_INFO);
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
            suite,
        })
    }
}

/// The X25519 shared secret of `private` and `peer_public`;
/// [`AuthError::KeyExchange`] for a key that gives none (a low-order peer
/// key gives an all-zero secret anyone can compute).
pub(crate) fn x25519(
    private: &PKeyRef<Private>,
    peer_public: &[u8; EPHEMERAL_KEY_LEN],
) -> Result<[u8; 32], AuthError> {
    let peer = x25519_public(peer_public)?;
    x25519_with(private, &peer)
}

/// `peer_public` as an openssl key, to exchange with more than once
/// ([`x25519_with`]): the import is a fifth of an exchange's time.
pub(crate) fn x25519_public(
    peer_public: &[u8; EPHEMERAL_KEY_LEN],
) -> Result<PKey<Public>, AuthError> {
    PKey::public_key_from_raw_bytes(peer_public, Id::X25519)
        .map_err(|_| AuthError::Malformed("X25519 key"))
}

/// [`x25519`] with the peer's key imported already.
pub(crate) fn x25519_with(
    private: &PKeyRef<Private>,
    peer: &PKeyRef<Public>,
) -> Result<[u8; 32], AuthError> {
    let mut shared = [0u8; 32];
    let mut ctx = PkeyCtx::new(private)?;
    ctx.derive_init()?;
    ctx.derive_set_peer(peer)?;
    let len = ctx
        .derive(Some(&mut shared))
        .map_err(|_| AuthError::KeyExchange)?;
    if len != shared.len() || shared.iter().all(|&b| b == 0) {
        return Err(AuthError::KeyExchange);
    }
    Ok(shared)
}

/// `key`'s Edwards form, for [`EphemeralKey::prepared`]; `None` for a key
/// on the curve's twist (exchanges with it go through openssl).
pub(crate) fn edwards_of(key: &[u8; EPHEMERAL_KEY_LEN]) -> Option<EdwardsPoint> {
    MontgomeryPoint(*key).to_edwards(0)
}

/// The X25519 public keys of small order, as they may be encoded (the top
/// bit is ignored): an exchange with one gives an all-zero secret anyone
/// can compute. Refused before a message is signed over them, since the
/// keys are now derived after that message is sent; the all-zero check of
/// the derivation stays as the last word.
const SMALL_ORDER: [[u8; EPHEMERAL_KEY_LEN]; 7] = {
    let zero = [0u8; 32];
    let mut one = [0u8; 32];
    one[0] = 1;
    // p - 1, p and p + 1, with p = 2^255 - 19.
    let mut p_minus_1 = [0xffu8; 32];
    p_minus_1[0] = 0xec;
    p_minus_1[31] = 0x7f;
    let mut p = p_minus_1;
    p[0] = 0xed;
    let mut p_plus_1 = p_minus_1;
    p_plus_1[0] = 0xee;
    [
        zero,
        one,
        // The two points of order 8.
        [
            0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f,
            0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16,
            0x5f, 0x49, 0xb8, 0x00,
        ],
        [
            0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83,
            0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd,
            0xd0, 0x9f, 0x11, 0x57,
        ],
        p_minus_1,
        p,
        p_plus_1,
    ]
};

/// Refuses a peer's ephemeral key of small order ([`AuthError::KeyExchange`]).
pub(crate) fn check_exchange_key(key: &[u8; EPHEMERAL_KEY_LEN]) -> Result<(), AuthError> {
    let mut masked = *key;
    masked[31] &= 0x7f;
    if SMALL_ORDER.contains(&masked) {
        return Err(AuthError::KeyExchange);
    }
    Ok(())
}

/// Checks `signer`'s Ed25519 `signature` over `transcript`.
pub(crate) fn verify_transcript(
    identity_key: &[u8; IDENTITY_KEY_LEN],
    transcript: &Transcript,
    signer: Role,
    signature: &[u8; SIGNATURE_LEN],
) -> Result<(), AuthError> {
    if verify_signature(identity_key, &transcript.signed_message(signer), signature) {
        Ok(())
    } else {
        Err(AuthError::BadSignature)
    }
}

/// HKDF-SHA256 (RFC 5869) of 64 bytes: both session keys at once.
///
/// Built on openssl's SHA-256 rather than its HKDF because the latter
/// fetches its algorithm on every call, which cost more than all the hashing
/// (about 25 µs against 3 µs); a test checks both agree.
pub(crate) fn hkdf_sha256(ikm: &[u8], salt: &[u8; 32], info: &[u8]) -> [u8; 2 * SESSION_KEY_LEN] {
    let prk = hmac_sha256(salt, &[ikm]);
    let t1 = hmac_sha256(&prk, &[info, &[1]]);
    let t2 = hmac_sha256(&prk, &[&t1, info, &[2]]);
    let mut okm = [0u8; 2 * SESSION_KEY_LEN];
    okm[..32].copy_from_slice(&t1);
    okm[32..].copy_from_slice(&t2);
    okm
}

/// HMAC-SHA256 (RFC 2104) of the concatenated `parts`, for a key of at
/// most one block (all keys here are 32 bytes).
pub(crate) fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut ipad = [0x36u8; BLOCK];
    let mut opad = [0x5cu8; BLOCK];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let mut inner = Sha256::new();
    inner.update(&ipad);
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(&opad);
    outer.update(&inner.finish());
    outer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::md::Md;

    fn openssl_hkdf(ikm: &[u8], salt: &[u8], info: &[u8]) -> [u8; 64] {
        let mut okm = [0u8; 64];
        let mut ctx = PkeyCtx::new_id(Id::HKDF).unwrap();
        ctx.derive_init().unwrap();
        ctx.set_hkdf_md(Md::sha256()).unwrap();
        ctx.set_hkdf_key(ikm).unwrap();
        ctx.set_hkdf_salt(salt).unwrap();
        ctx.add_hkdf_info(info).unwrap();
        ctx.derive(Some(&mut okm)).unwrap();
        okm
    }

    /// Every refused key is one whose exchange gives the all-zero secret
    /// (or that openssl refuses), with or without its top bit.
    #[test]
    fn small_order_keys_give_a_zero_secret() {
        let mine = PKey::generate_x25519().unwrap();
        for key in SMALL_ORDER {
            for top in [0, 0x80] {
                let mut k = key;
                k[31] |= top;
                assert_eq!(check_exchange_key(&k), Err(AuthError::KeyExchange));
                let peer = PKey::public_key_from_raw_bytes(&k, Id::X25519).unwrap();
                let mut ctx = PkeyCtx::new(&mine).unwrap();
                ctx.derive_init().unwrap();
                ctx.derive_set_peer(&peer).unwrap();
                let mut shared = [0xaau8; 32];
                if ctx.derive(Some(&mut shared)).is_ok() {
                    assert_eq!(shared, [0; 32], "{k:02x?}");
                }
            }
        }
        let fresh = EphemeralKey::generate().unwrap();
        assert_eq!(check_exchange_key(fresh.public()), Ok(()));
    }

    /// A key prepared by curve25519-dalek is the X25519 one: openssl's
    /// public key for the same scalar and openssl's exchange, on both
    /// sides; fresh each time; refused for a small-order peer key.
    #[test]
    fn a_prepared_key_is_the_x25519_one() {
        for _ in 0..8 {
            let peer = EphemeralKey::generate().unwrap();
            let point = edwards_of(peer.public()).expect("on the curve");
            let mut secret = [0u8; 32];
            openssl::rand::rand_bytes(&mut secret).unwrap();
            let prepared = EphemeralKey::prepared_with(peer.public(), &point, &secret).unwrap();
            let same = PKey::private_key_from_raw_bytes(&secret, Id::X25519).unwrap();
            assert_eq!(&same.raw_public_key().unwrap()[..], prepared.public());
            let peer_pkey = x25519_public(peer.public()).unwrap();
            let theirs = x25519(peer.private().unwrap(), prepared.public()).unwrap();
            assert_eq!(
                prepared.exchange_for(peer.public(), &peer_pkey).unwrap(),
                theirs
            );
            assert_eq!(x25519_with(&same, &peer_pkey).unwrap(), theirs);
            assert_eq!(prepared.prepared_for(), Some(peer.public()));
            // Its private scalar is gone: no other exchange.
            let other = EphemeralKey::generate().unwrap();
            let other_pkey = x25519_public(other.public()).unwrap();
            assert!(prepared.exchange_for(other.public(), &other_pkey).is_err());
        }
        let peer = EphemeralKey::generate().unwrap();
        let point = edwards_of(peer.public()).unwrap();
        let a = EphemeralKey::prepared(peer.public(), &point).unwrap();
        let b = EphemeralKey::prepared(peer.public(), &point).unwrap();
        assert_ne!(a.public(), b.public());
        // u = 0, of order 2: an all-zero exchange.
        let low = edwards_of(&[0u8; 32]).expect("on the curve");
        assert_eq!(
            EphemeralKey::prepared(&[0u8; 32], &low).err(),
            Some(AuthError::KeyExchange)
        );
    }

    #[test]
    fn hkdf_matches_openssl() {
        for (ikm, salt, info) in [
            (&[0x0bu8; 32][..], [7u8; 32], &b"mydht"[..]),
            (&[1u8; 32][..], [0u8; 32], &b""[..]),
            (&[0xffu8; 32][..], [0x5cu8; 32], &[0x36u8; 80][..]),
        ] {
            assert_eq!(
                hkdf_sha256(ikm, &salt, info),
                openssl_hkdf(ikm, &salt, info)
            );
        }
    }
}
