//! The tunnel's cryptographic primitives: openssl, and ring for AES-256-GCM.
//!
//! X25519 for the one asymmetric operation of a hop, HKDF-SHA256 to expand
//! its shared secret into [`HopKeys`], ChaCha20 as a keystream for the header
//! routing block (and a reply relay's layer), ChaCha20-Poly1305 for the
//! header MAC and the reports, all through openssl; AES-256-GCM for the
//! content cells' layers through `ring`, which picks its implementation
//! when the process starts (VAES and VPCLMULQDQ where the CPU has them),
//! with openssl's AES-256-CTR to compute the GCM keystream a sender
//! predicts (see `cell/layer.rs`); AES-256-GCM for the reply link entries
//! through openssl (see `cell/link.rs`).

use std::fmt;
use std::sync::OnceLock;

use openssl::cipher::{Cipher, CipherRef};
use openssl::cipher_ctx::CipherCtx;
use openssl::error::ErrorStack;
use openssl::pkey::{Id, PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::sha::{sha256, Sha256};
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_256_GCM};

/// Length of a symmetric key.
pub const KEY_LEN: usize = 32;
/// Length of an X25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of a tag (Poly1305 and GCM alike).
pub const TAG_LEN: usize = 16;
/// Length of a ChaCha20 / ChaCha20-Poly1305 / AES-256-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length of a hop's replay identifier.
pub const REPLAY_ID_LEN: usize = 16;

/// HKDF info string: versions the key schedule so a later format cannot
/// reuse these keys by accident.
const HOP_KEYS_INFO: &[u8] = b"mydht-tunnel v1 hop keys";

/// A cryptographic operation failed in openssl (bad key, low-order point).
#[derive(Clone, Debug)]
pub struct CryptoError(ErrorStack);

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tunnel crypto: {}", self.0)
    }
}

impl std::error::Error for CryptoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl From<ErrorStack> for CryptoError {
    fn from(e: ErrorStack) -> Self {
        CryptoError(e)
    }
}

/// An X25519 private key with its public key: a peer's static tunnel key or a
/// sender's per-hop ephemeral key.
pub struct X25519Secret {
    key: PKey<Private>,
    public: [u8; PUBLIC_KEY_LEN],
}

impl fmt::Debug for X25519Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private part.
        f.debug_struct("X25519Secret")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl X25519Secret {
    /// A fresh random key.
    pub fn generate() -> Result<Self, CryptoError> {
        Self::from_pkey(PKey::generate_x25519()?)
    }

    /// The key whose raw private bytes are `private`.
    pub fn from_private_bytes(private: &[u8; KEY_LEN]) -> Result<Self, CryptoError> {
        Self::from_pkey(PKey::private_key_from_raw_bytes(private, Id::X25519)?)
    }

    fn from_pkey(key: PKey<Private>) -> Result<Self, CryptoError> {
        let raw = key.raw_public_key()?;
        let mut public = [0u8; PUBLIC_KEY_LEN];
        // openssl always returns 32 bytes for X25519; a mismatch is an error,
        // not a panic.
        if raw.len() != PUBLIC_KEY_LEN {
            return Err(ErrorStack::get().into());
        }
        public.copy_from_slice(&raw);
        Ok(X25519Secret { key, public })
    }

    /// The public key, as published in `Peer::tunnel_public_key`.
    pub fn public_key(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public
    }

    /// The X25519 shared secret with `peer_public`; fails on a low-order
    /// public key (all-zero shared secret).
    pub fn diffie_hellman(
        &self,
        peer_public: &[u8; PUBLIC_KEY_LEN],
    ) -> Result<[u8; KEY_LEN], CryptoError> {
        let peer = PKey::public_key_from_raw_bytes(peer_public, Id::X25519)?;
        let mut ctx = PkeyCtx::new(&self.key)?;
        ctx.derive_init()?;
        ctx.derive_set_peer(&peer)?;
        let mut shared = [0u8; KEY_LEN];
        let n = ctx.derive(Some(&mut shared))?;
        if n != KEY_LEN {
            return Err(ErrorStack::get().into());
        }
        Ok(shared)
    }
}

/// The symmetric keys of one hop of one onion, derived from its X25519
/// shared secret. Sender and hop compute the same value.
#[derive(Clone, PartialEq, Eq)]
pub struct HopKeys {
    /// ChaCha20 key of the header routing block keystream.
    pub header_stream_key: [u8; KEY_LEN],
    /// Key of the header MAC (ChaCha20-Poly1305 tag over the routing block).
    pub header_mac_key: [u8; KEY_LEN],
    /// Key of this hop's layer of the content cells.
    pub content_key: [u8; KEY_LEN],
    /// Key for this hop's messages back to the sender (errors, reply layer).
    pub back_key: [u8; KEY_LEN],
    /// Identifies this onion at this hop, for the replay cache.
    pub replay_id: [u8; REPLAY_ID_LEN],
    /// Key of the link into this hop on a reply route: the previous reply
    /// hop (the exit or a reply relay) seals its cells' link entries under
    /// it and this hop checks them. The sender gives it to the previous hop
    /// in that hop's slot (or the exit's reply block).
    pub link_key: [u8; KEY_LEN],
}

impl fmt::Debug for HopKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HopKeys")
            .field("replay_id", &self.replay_id)
            .finish_non_exhaustive()
    }
}

/// Expands an X25519 shared secret into the [`HopKeys`] of a hop
/// (HKDF-SHA256, salt = the onion's ephemeral public key for this hop).
pub fn derive_hop_keys(
    shared: &[u8; KEY_LEN],
    ephemeral_public: &[u8; PUBLIC_KEY_LEN],
) -> Result<HopKeys, CryptoError> {
    let mut okm = [0u8; 5 * KEY_LEN + REPLAY_ID_LEN];
    hkdf_sha256(shared, ephemeral_public, HOP_KEYS_INFO, &mut okm)?;
    let mut keys = HopKeys {
        header_stream_key: [0; KEY_LEN],
        header_mac_key: [0; KEY_LEN],
        content_key: [0; KEY_LEN],
        back_key: [0; KEY_LEN],
        replay_id: [0; REPLAY_ID_LEN],
        link_key: [0; KEY_LEN],
    };
    let (a, rest) = okm.split_at(KEY_LEN);
    let (b, rest) = rest.split_at(KEY_LEN);
    let (c, rest) = rest.split_at(KEY_LEN);
    let (d, rest) = rest.split_at(KEY_LEN);
    let (e, f) = rest.split_at(REPLAY_ID_LEN);
    keys.header_stream_key.copy_from_slice(a);
    keys.header_mac_key.copy_from_slice(b);
    keys.content_key.copy_from_slice(c);
    keys.back_key.copy_from_slice(d);
    keys.replay_id.copy_from_slice(e);
    keys.link_key.copy_from_slice(f);
    Ok(keys)
}

/// HKDF-SHA256 (RFC 5869, extract and expand) of `ikm` into `out`, at most
/// 255 × 32 bytes.
///
/// Built on openssl's SHA-256 directly: the EVP HKDF context costs about
/// 10 µs to set up on OpenSSL 3, a sixth of a hop's budget.
pub fn hkdf_sha256(
    ikm: &[u8],
    salt: &[u8],
    info: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    if out.len() > 255 * SHA256_LEN {
        return Err(ErrorStack::get().into());
    }
    let prk = HmacSha256::new(salt).mac(&[ikm]);
    let expand = HmacSha256::new(&prk);
    let mut block = [0u8; SHA256_LEN];
    for (i, chunk) in out.chunks_mut(SHA256_LEN).enumerate() {
        // i < 255 by the check above.
        let counter = [i as u8 + 1];
        let previous: &[u8] = if i == 0 { &[] } else { &block };
        block = expand.mac(&[previous, info, &counter]);
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
    Ok(())
}

const SHA256_LEN: usize = 32;
const SHA256_BLOCK: usize = 64;

/// An HMAC-SHA256 key (RFC 2104) with its padded inner and outer hash states
/// computed once, so each MAC costs two compressions fewer.
struct HmacSha256 {
    inner: Sha256,
    outer: Sha256,
}

impl HmacSha256 {
    fn new(key: &[u8]) -> Self {
        let mut k = [0u8; SHA256_BLOCK];
        if key.len() > SHA256_BLOCK {
            k[..SHA256_LEN].copy_from_slice(&sha256(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let mut inner = Sha256::new();
        inner.update(&k.map(|b| b ^ 0x36));
        let mut outer = Sha256::new();
        outer.update(&k.map(|b| b ^ 0x5c));
        HmacSha256 { inner, outer }
    }

    /// The MAC of the concatenation of `parts`.
    fn mac(&self, parts: &[&[u8]]) -> [u8; SHA256_LEN] {
        let mut inner = self.inner.clone();
        for p in parts {
            inner.update(p);
        }
        let mut outer = self.outer.clone();
        outer.update(&inner.finish());
        outer.finish()
    }
}

/// A cipher implementation fetched from openssl's default provider once per
/// process. A context initialised with one of openssl's legacy cipher
/// constants (`Cipher::chacha20_poly1305()` and the like) makes openssl 3
/// look the implementation up again (name look-ups, locks) at every
/// initialisation: about a third of the cost of keying a context for a
/// short MAC. Falls back to the legacy constant if the fetch fails.
fn fetched(
    slot: &'static OnceLock<Option<Cipher>>,
    name: &str,
    legacy: fn() -> &'static CipherRef,
) -> &'static CipherRef {
    match slot.get_or_init(|| Cipher::fetch(None, name, None).ok()) {
        Some(cipher) => cipher,
        None => legacy(),
    }
}

/// ChaCha20-Poly1305, fetched once (see [`fetched`]).
pub(crate) fn chacha20_poly1305() -> &'static CipherRef {
    static CIPHER: OnceLock<Option<Cipher>> = OnceLock::new();
    fetched(&CIPHER, "ChaCha20-Poly1305", Cipher::chacha20_poly1305)
}

/// The bare ChaCha20 keystream, fetched once.
pub(crate) fn chacha20() -> &'static CipherRef {
    static CIPHER: OnceLock<Option<Cipher>> = OnceLock::new();
    fetched(&CIPHER, "ChaCha20", Cipher::chacha20)
}

/// AES-256-GCM, fetched once (link entries: see `cell/link.rs`).
pub(crate) fn aes_256_gcm() -> &'static CipherRef {
    static CIPHER: OnceLock<Option<Cipher>> = OnceLock::new();
    fetched(&CIPHER, "AES-256-GCM", Cipher::aes_256_gcm)
}

/// AES-256 in counter mode (128-bit big-endian counter), fetched once: the
/// keystream AES-256-GCM XORs, for the cells' predicted slots.
pub(crate) fn aes_256_ctr() -> &'static CipherRef {
    static CIPHER: OnceLock<Option<Cipher>> = OnceLock::new();
    fetched(&CIPHER, "AES-256-CTR", Cipher::aes_256_ctr)
}

/// An AES-256-GCM key, expanded once (ring), for the content cells'
/// layers. Nonces are the caller's: each is used once per key.
pub(crate) struct GcmKey(LessSafeKey);

impl GcmKey {
    /// The key `key`; `None` if ring refuses it (it takes every 32-byte
    /// key: a refusal is ring's CPU set-up failing).
    pub(crate) fn new(key: &[u8; KEY_LEN]) -> Option<Self> {
        let key = UnboundKey::new(&AES_256_GCM, key).ok()?;
        Some(GcmKey(LessSafeKey::new(key)))
    }

    /// Enciphers `data` in place and returns its tag over `aad` and it;
    /// `None` if `data` is longer than GCM allows (about 64 GiB).
    pub(crate) fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        data: &mut [u8],
    ) -> Option<[u8; TAG_LEN]> {
        let tag = self
            .0
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), data)
            .ok()?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Some(out)
    }

    /// Checks `tag` over `aad` and `data` and deciphers `data` in place;
    /// `false` (with `data` unspecified) if it does not verify.
    pub(crate) fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> bool {
        self.0
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                Tag::from(*tag),
                data,
                0..,
            )
            .is_ok()
    }
}

/// Enciphers (or deciphers) `data` in place with the ChaCha20 keystream of
/// `key` and `nonce`, starting at block 0.
pub fn chacha20_xor(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    data: &mut [u8],
) -> Result<(), CryptoError> {
    // openssl's ChaCha20 IV is the 32-bit little-endian block counter then
    // the 96-bit nonce.
    let mut iv = [0u8; 16];
    iv[4..].copy_from_slice(nonce);
    let mut ctx = CipherCtx::new()?;
    ctx.encrypt_init(Some(chacha20()), Some(key), Some(&iv))?;
    let len = data.len();
    ctx.cipher_update_inplace(data, len)?;
    Ok(())
}

/// Enciphers `data` in place with ChaCha20-Poly1305 and returns its tag.
pub fn aead_seal(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    data: &mut [u8],
) -> Result<[u8; TAG_LEN], CryptoError> {
    let mut ctx = CipherCtx::new()?;
    ctx.encrypt_init(Some(chacha20_poly1305()), Some(key), Some(nonce))?;
    if !aad.is_empty() {
        ctx.cipher_update(aad, None)?;
    }
    let len = data.len();
    if len > 0 {
        ctx.cipher_update_inplace(data, len)?;
    }
    ctx.cipher_final(&mut [])?;
    let mut tag = [0u8; TAG_LEN];
    ctx.tag(&mut tag)?;
    Ok(tag)
}

/// Checks `tag` and deciphers `data` in place (ChaCha20-Poly1305). Returns
/// `false`, with `data` unspecified, when the tag does not verify.
pub fn aead_open(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    data: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<bool, CryptoError> {
    let mut ctx = CipherCtx::new()?;
    ctx.decrypt_init(Some(chacha20_poly1305()), Some(key), Some(nonce))?;
    if !aad.is_empty() {
        ctx.cipher_update(aad, None)?;
    }
    let len = data.len();
    if len > 0 {
        ctx.cipher_update_inplace(data, len)?;
    }
    ctx.set_tag(tag)?;
    // A failed final is exactly a bad tag; it is not an openssl fault.
    Ok(ctx.cipher_final(&mut []).is_ok())
}

/// A Poly1305 tag authenticating `data` under a single-use `key`.
pub fn mac(key: &[u8; KEY_LEN], data: &[u8]) -> Result<[u8; TAG_LEN], CryptoError> {
    // The key is unique to one hop of one onion, so the fixed nonce is never
    // reused under the same key.
    aead_seal(key, &[0u8; NONCE_LEN], data, &mut [])
}

/// Checks a tag made by [`mac`] in constant time.
pub fn verify_mac(
    key: &[u8; KEY_LEN],
    data: &[u8],
    tag: &[u8; TAG_LEN],
) -> Result<bool, CryptoError> {
    aead_open(key, &[0u8; NONCE_LEN], data, &mut [], tag)
}

/// Fills `out` with random bytes from openssl's CSPRNG.
pub fn random_bytes(out: &mut [u8]) -> Result<(), CryptoError> {
    openssl::rand::rand_bytes(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_derive_the_same_hop_keys() {
        let hop = X25519Secret::generate().unwrap();
        let eph = X25519Secret::generate().unwrap();
        let s1 = eph.diffie_hellman(hop.public_key()).unwrap();
        let s2 = hop.diffie_hellman(eph.public_key()).unwrap();
        assert_eq!(s1, s2);
        let k1 = derive_hop_keys(&s1, eph.public_key()).unwrap();
        let k2 = derive_hop_keys(&s2, eph.public_key()).unwrap();
        assert!(k1 == k2);
        assert_ne!(k1.content_key, k1.header_stream_key);
        assert_ne!(k1.link_key, k1.content_key);
    }

    #[test]
    fn low_order_public_key_is_an_error() {
        let hop = X25519Secret::generate().unwrap();
        assert!(hop.diffie_hellman(&[0u8; 32]).is_err());
    }

    #[test]
    fn aead_round_trip_and_tamper() {
        let key = [7u8; KEY_LEN];
        let nonce = [1u8; NONCE_LEN];
        let mut data = b"hello tunnel".to_vec();
        let tag = aead_seal(&key, &nonce, b"aad", &mut data).unwrap();
        assert_ne!(&data[..], b"hello tunnel");
        let mut bad = data.clone();
        bad[0] ^= 1;
        assert!(!aead_open(&key, &nonce, b"aad", &mut bad, &tag).unwrap());
        assert!(aead_open(&key, &nonce, b"aad", &mut data, &tag).unwrap());
        assert_eq!(&data[..], b"hello tunnel");
    }

    #[test]
    fn mac_detects_a_flipped_bit() {
        let key = [3u8; KEY_LEN];
        let data = vec![9u8; 1000];
        let tag = mac(&key, &data).unwrap();
        assert!(verify_mac(&key, &data, &tag).unwrap());
        let mut bad = data.clone();
        bad[999] ^= 0x80;
        assert!(!verify_mac(&key, &bad, &tag).unwrap());
    }

    #[test]
    fn hkdf_matches_rfc5869_test_case_1() {
        let ikm = [0x0bu8; 22];
        let salt: Vec<u8> = (0u8..=0x0c).collect();
        let info: Vec<u8> = (0xf0u8..=0xf9).collect();
        let mut okm = [0u8; 42];
        hkdf_sha256(&ikm, &salt, &info, &mut okm).unwrap();
        let hex: String = okm.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    /// The fetched implementations give the legacy constants' bytes.
    #[test]
    fn fetched_ciphers_match_the_legacy_ones() {
        let key = [6u8; KEY_LEN];
        let iv = [1u8; 16];
        for (fetched, legacy, iv_len) in [
            (chacha20_poly1305(), Cipher::chacha20_poly1305(), NONCE_LEN),
            (chacha20(), Cipher::chacha20(), 16),
            (aes_256_gcm(), Cipher::aes_256_gcm(), NONCE_LEN),
            (aes_256_ctr(), Cipher::aes_256_ctr(), 16),
        ] {
            let out = |cipher: &CipherRef| {
                let mut ctx = CipherCtx::new().unwrap();
                ctx.encrypt_init(Some(cipher), Some(&key), Some(&iv[..iv_len]))
                    .unwrap();
                let mut data = vec![3u8; 100];
                ctx.cipher_update_inplace(&mut data, 100).unwrap();
                data
            };
            assert_eq!(out(fetched), out(legacy));
            assert_ne!(out(fetched), vec![3u8; 100]);
        }
    }

    /// ring's AES-256-GCM gives openssl's ciphertext and tag, at lengths
    /// around the AES block and ring's wider strides, and its keystream is
    /// openssl's AES-256-CTR from counter block `nonce ‖ 2`.
    #[test]
    fn ring_gcm_matches_openssl_gcm_and_ctr() {
        let key = [8u8; KEY_LEN];
        let nonce = [3u8; NONCE_LEN];
        let gcm = GcmKey::new(&key).unwrap();
        for len in [0, 1, 15, 16, 17, 255, 256, 257, 1000, 16 * 1024 + 5] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
            let mut ctx = CipherCtx::new().unwrap();
            ctx.encrypt_init(Some(Cipher::aes_256_gcm()), Some(&key), Some(&nonce))
                .unwrap();
            ctx.cipher_update(b"aad", None).unwrap();
            let mut expected = plain.clone();
            if len > 0 {
                ctx.cipher_update_inplace(&mut expected, len).unwrap();
            }
            ctx.cipher_final(&mut []).unwrap();
            let mut expected_tag = [0u8; TAG_LEN];
            ctx.tag(&mut expected_tag).unwrap();
            let mut data = plain.clone();
            let tag = gcm.seal(&nonce, b"aad", &mut data).unwrap();
            assert_eq!((&data, tag), (&expected, expected_tag), "len {len}");
            let mut iv = [0u8; 16];
            iv[..NONCE_LEN].copy_from_slice(&nonce);
            iv[15] = 2;
            let mut ctr = CipherCtx::new().unwrap();
            ctr.encrypt_init(Some(aes_256_ctr()), Some(&key), Some(&iv))
                .unwrap();
            let mut keystream = plain.clone();
            if len > 0 {
                ctr.cipher_update_inplace(&mut keystream, len).unwrap();
            }
            assert_eq!(keystream, expected, "ctr len {len}");
            assert!(gcm.open(&nonce, b"aad", &mut data, &tag));
            assert_eq!(data, plain);
            let mut bad = tag;
            bad[0] ^= 1;
            assert!(!gcm.open(&nonce, b"aad", &mut expected, &bad));
        }
    }

    #[test]
    fn chacha20_is_its_own_inverse() {
        let key = [5u8; KEY_LEN];
        let nonce = [0u8; NONCE_LEN];
        let mut data = vec![0u8; 300];
        chacha20_xor(&key, &nonce, &mut data).unwrap();
        assert!(data.iter().any(|b| *b != 0));
        chacha20_xor(&key, &nonce, &mut data).unwrap();
        assert!(data.iter().all(|b| *b == 0));
    }
}
