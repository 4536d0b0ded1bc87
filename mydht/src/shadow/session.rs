//! The session shadow: authenticated chunks with counter nonces, one key per
//! direction, sealed with the [`CipherSuite`] the handshake agreed
//! (ChaCha20-Poly1305 through openssl, AES-256-GCM through ring).

use std::fmt;
use std::io;
use std::sync::OnceLock;

use mydht_base::Result;
use openssl::cipher::{Cipher, CipherRef};
use openssl::cipher_ctx::CipherCtx;
use readwrite_comp::chunk::held_len;
use readwrite_comp::{ChunkCipher, ChunkMode, ChunkR, ChunkW};
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_256_GCM};

use super::Shadow;
use crate::auth::{CipherSuite, SessionKey, SessionKeys};

/// Length of a chunk's tag (ChaCha20-Poly1305 and AES-256-GCM alike).
pub const SESSION_TAG_LEN: usize = 16;
/// Default largest chunk of the session shadow: 64 KiB. Each chunk costs a
/// nonce set-up and a read of its own (writes take up to four chunks), so
/// bulk messages go about 1.3x faster than with 16 KiB chunks, and no
/// faster with 128 KiB ones; the price is buffers of one chunk (reading) and
/// one chunk, four once a write went past one (writing), per connection.
pub const DEFAULT_MAX_CHUNK: usize = 64 * 1024;

/// A [`ChunkCipher`] sealing each chunk with its [`CipherSuite`]'s AEAD.
///
/// The 96-bit nonce is the chunk index (the per-direction counter of the
/// chunk framing, big-endian, last 8 bytes) with the chunk's *last* flag in
/// the first byte, so a chunk presented at another position or as the end
/// of a message does not open. Sealing refuses an index already used with
/// this key (no nonce reuse, even if misused) and the last index (counter
/// exhausted): the connection must then be re-keyed by a new handshake.
///
/// ChaCha20-Poly1305 runs on openssl; AES-256-GCM on `ring`, which picks
/// its implementation when the process starts (VAES and VPCLMULQDQ where
/// the CPU has them: about 9 GB/s on 16 KiB messages on an AVX-512 EPYC,
/// where openssl 3.0's AES-256-GCM, without a VAES path, gives 3.9 GB/s
/// and its ChaCha20-Poly1305 4.4 GB/s). Both give the bytes the other
/// library gives for the same key and nonce (tests).
pub struct SessionCipher {
    key: SessionKey,
    suite: CipherSuite,
    seal_aead: Option<ChunkAead>,
    open_aead: Option<ChunkAead>,
    next_seal: u64,
}

impl fmt::Debug for SessionCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCipher")
            .field("suite", &self.suite)
            .field("next_seal", &self.next_seal)
            .finish_non_exhaustive()
    }
}

impl SessionCipher {
    /// A cipher for one direction, keyed with `key`, sealing with `suite`;
    /// its keyed state (openssl context or ring key) is made on first use.
    pub fn new(key: &SessionKey, suite: CipherSuite) -> Self {
        SessionCipher {
            key: key.clone(),
            suite,
            seal_aead: None,
            open_aead: None,
            next_seal: 0,
        }
    }

    /// [`SessionCipher::new`] with the keyed state of the direction's one
    /// operation (sealing or opening) made now: a shadow built while the
    /// peer checks the handshake's last message then has nothing left to
    /// set up on the first chunk (openssl 3 fetches the algorithm when a
    /// context is first initialised; ring expands the AES key).
    pub fn prepared(key: &SessionKey, suite: CipherSuite, seal: bool) -> io::Result<Self> {
        let mut cipher = Self::new(key, suite);
        let slot = if seal {
            &mut cipher.seal_aead
        } else {
            &mut cipher.open_aead
        };
        ChunkAead::keyed(slot, key, suite, seal)?;
        Ok(cipher)
    }

    /// The suite this cipher seals and opens with.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }

    fn nonce(chunk_index: u64, last: bool) -> [u8; 12] {
        let mut nonce = [0u8; 12];
        nonce[0] = u8::from(last);
        nonce[4..].copy_from_slice(&chunk_index.to_be_bytes());
        nonce
    }

    /// Checks a seal's index and tag, counts the index as used, and returns
    /// the sealing state and the chunk's nonce.
    fn seal_context(
        &mut self,
        chunk_index: u64,
        last: bool,
        tag: &[u8],
    ) -> io::Result<(&mut ChunkAead, [u8; 12])> {
        if chunk_index < self.next_seal {
            return Err(io::Error::other("nonce reuse refused"));
        }
        if chunk_index == u64::MAX {
            return Err(io::Error::other("nonce counter exhausted: re-key"));
        }
        if tag.len() != SESSION_TAG_LEN {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "tag length"));
        }
        let nonce = Self::nonce(chunk_index, last);
        let aead = ChunkAead::keyed(&mut self.seal_aead, &self.key, self.suite, true)?;
        // Counted as used before sealing: a failure half-way must not let
        // the same nonce be tried again.
        self.next_seal = chunk_index + 1;
        Ok((aead, nonce))
    }
}

/// One direction's keyed AEAD: the key schedule is done once, each chunk
/// only brings its nonce.
enum ChunkAead {
    /// ChaCha20-Poly1305: an openssl context initialised with the key,
    /// re-initialised with each chunk's nonce (a 96-bit nonce, openssl's
    /// default length).
    Openssl(CipherCtx),
    /// AES-256-GCM: ring's expanded key (its nonces are 96-bit), boxed:
    /// its key schedule and hash table are ~0.5 KiB.
    Ring(Box<LessSafeKey>),
}

impl ChunkAead {
    /// The state in `slot`, made and keyed on first use.
    fn keyed<'a>(
        slot: &'a mut Option<ChunkAead>,
        key: &SessionKey,
        suite: CipherSuite,
        seal: bool,
    ) -> io::Result<&'a mut ChunkAead> {
        if let Some(aead) = slot {
            return Ok(aead);
        }
        let aead = match suite {
            CipherSuite::ChaCha20Poly1305 => {
                let mut ctx = CipherCtx::new().map_err(io::Error::other)?;
                let cipher = chacha20_poly1305();
                if seal {
                    ctx.encrypt_init(Some(cipher), Some(key.as_bytes()), None)
                } else {
                    ctx.decrypt_init(Some(cipher), Some(key.as_bytes()), None)
                }
                .map_err(io::Error::other)?;
                ChunkAead::Openssl(ctx)
            }
            CipherSuite::Aes256Gcm => {
                let key = UnboundKey::new(&AES_256_GCM, key.as_bytes())
                    .map_err(|_| io::Error::other("AES-256-GCM key"))?;
                ChunkAead::Ring(Box::new(LessSafeKey::new(key)))
            }
        };
        Ok(slot.insert(aead))
    }

    /// Seals `data` in place and writes its tag (`SESSION_TAG_LEN` bytes,
    /// checked by the caller) in `tag`.
    fn seal(
        &mut self,
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &mut [u8],
    ) -> io::Result<()> {
        match self {
            ChunkAead::Openssl(ctx) => {
                seal_in_place(ctx, nonce, aad, data, tag).map_err(io::Error::other)
            }
            ChunkAead::Ring(key) => {
                let sealed = key
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(*nonce),
                        Aad::from(aad),
                        data,
                    )
                    .map_err(|_| io::Error::other("AES-256-GCM seal: message too long"))?;
                tag.copy_from_slice(sealed.as_ref());
                Ok(())
            }
        }
    }

    /// Seals `dst[..held] ‖ src` into `dst`; `dst` is `held` bytes longer
    /// than `src` (checked by the caller).
    fn seal_from(
        &mut self,
        nonce: &[u8; 12],
        aad: &[u8],
        src: &[u8],
        dst: &mut [u8],
        held: usize,
        tag: &mut [u8],
    ) -> io::Result<()> {
        match self {
            ChunkAead::Openssl(ctx) => {
                seal_out_of_place(ctx, nonce, aad, src, dst, held, tag).map_err(io::Error::other)
            }
            ChunkAead::Ring(_) => {
                // ring seals in place only: the copy costs a fraction of
                // the pass (memory bandwidth against ~9 GB/s of cipher).
                dst[held..].copy_from_slice(src);
                self.seal(nonce, aad, dst, tag)
            }
        }
    }

    /// Checks `tag` and deciphers `data` in place; `false` if the chunk
    /// does not authenticate (`data` is then unspecified).
    fn open(&mut self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8], tag: &[u8]) -> bool {
        match self {
            ChunkAead::Openssl(ctx) => open_in_place(ctx, nonce, aad, data, tag).is_ok(),
            ChunkAead::Ring(key) => {
                let Ok(tag) = Tag::try_from(tag) else {
                    return false;
                };
                key.open_in_place_separate_tag(
                    Nonce::assume_unique_for_key(*nonce),
                    Aad::from(aad),
                    tag,
                    data,
                    0..,
                )
                .is_ok()
            }
        }
    }
}

/// openssl's ChaCha20-Poly1305, fetched from the default provider once per
/// process. A context initialised with openssl's legacy constant
/// (`Cipher::chacha20_poly1305()`) has openssl 3 look the implementation
/// up again (name look-ups, locks) at every initialisation, about a third
/// of keying a context for a short message. Falls back to the legacy
/// constant if the fetch fails.
fn chacha20_poly1305() -> &'static CipherRef {
    static CHACHA: OnceLock<Option<Cipher>> = OnceLock::new();
    match CHACHA.get_or_init(|| Cipher::fetch(None, "ChaCha20-Poly1305", None).ok()) {
        Some(cipher) => cipher,
        None => Cipher::chacha20_poly1305(),
    }
}

impl ChunkCipher for SessionCipher {
    fn tag_len(&self) -> usize {
        SESSION_TAG_LEN
    }

    fn seal(
        &mut self,
        chunk_index: u64,
        last: bool,
        aad: &[u8],
        data: &mut [u8],
        tag: &mut [u8],
    ) -> io::Result<()> {
        let (aead, nonce) = self.seal_context(chunk_index, last, tag)?;
        aead.seal(&nonce, aad, data, tag)
    }

    fn seal_from(
        &mut self,
        chunk_index: u64,
        last: bool,
        aad: &[u8],
        src: &[u8],
        dst: &mut [u8],
        tag: &mut [u8],
    ) -> io::Result<()> {
        let held = held_len(src, dst)?;
        let (aead, nonce) = self.seal_context(chunk_index, last, tag)?;
        aead.seal_from(&nonce, aad, src, dst, held, tag)
    }

    fn open(
        &mut self,
        chunk_index: u64,
        last: bool,
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> io::Result<()> {
        let invalid = || io::Error::new(io::ErrorKind::InvalidData, "chunk failed to authenticate");
        if tag.len() != SESSION_TAG_LEN {
            return Err(invalid());
        }
        let nonce = Self::nonce(chunk_index, last);
        let aead = ChunkAead::keyed(&mut self.open_aead, &self.key, self.suite, false)?;
        if aead.open(&nonce, aad, data, tag) {
            Ok(())
        } else {
            Err(invalid())
        }
    }
}

fn seal_in_place(
    ctx: &mut CipherCtx,
    nonce: &[u8; 12],
    aad: &[u8],
    data: &mut [u8],
    tag: &mut [u8],
) -> std::result::Result<(), openssl::error::ErrorStack> {
    ctx.encrypt_init(None, None, Some(nonce))?;
    if !aad.is_empty() {
        ctx.cipher_update(aad, None)?;
    }
    if !data.is_empty() {
        let len = data.len();
        ctx.cipher_update_inplace(data, len)?;
    }
    ctx.cipher_final(&mut [])?;
    ctx.tag(tag)
}

/// Seals `dst[..held] ‖ src` into `dst` through openssl; `dst` is `held`
/// bytes longer than `src` (checked by the caller): ChaCha20 is a stream
/// cipher, whose output is exactly its input's length and whose keystream
/// carries over between the two updates.
fn seal_out_of_place(
    ctx: &mut CipherCtx,
    nonce: &[u8; 12],
    aad: &[u8],
    src: &[u8],
    dst: &mut [u8],
    held: usize,
    tag: &mut [u8],
) -> std::result::Result<(), openssl::error::ErrorStack> {
    ctx.encrypt_init(None, None, Some(nonce))?;
    if !aad.is_empty() {
        ctx.cipher_update(aad, None)?;
    }
    let (head, rest) = dst.split_at_mut(held);
    if !head.is_empty() {
        ctx.cipher_update_inplace(head, held)?;
    }
    if !src.is_empty() {
        ctx.cipher_update(src, Some(rest))?;
    }
    ctx.cipher_final(&mut [])?;
    ctx.tag(tag)
}

fn open_in_place(
    ctx: &mut CipherCtx,
    nonce: &[u8; 12],
    aad: &[u8],
    data: &mut [u8],
    tag: &[u8],
) -> std::result::Result<(), openssl::error::ErrorStack> {
    ctx.decrypt_init(None, None, Some(nonce))?;
    if !aad.is_empty() {
        ctx.cipher_update(aad, None)?;
    }
    if !data.is_empty() {
        let len = data.len();
        ctx.cipher_update_inplace(data, len)?;
    }
    ctx.set_tag(tag)?;
    ctx.cipher_final(&mut []).map(|_| ())
}

/// The default shadow: [`SessionCipher`] chunks in the given [`ChunkMode`],
/// sealed with the suite of the [`SessionKeys`] it is given (the one the
/// handshake agreed, [`NodeConstants::cipher_suite`](crate::NodeConstants::cipher_suite)).
///
/// ```
/// use std::io::{Read, Write};
/// use mydht::auth::{SessionKey, SessionKeys};
/// use mydht::{CipherSuite, SessionShadow, Shadow};
/// use readwrite_comp::{CompR, CompW};
///
/// // Normally from `Authenticated::keys` on each side.
/// let (k1, k2) = (SessionKey::from_bytes([1; 32]), SessionKey::from_bytes([2; 32]));
/// let suite = CipherSuite::Aes256Gcm;
/// let alice = SessionKeys { send: k1.clone(), recv: k2.clone(), suite };
/// let bob = SessionKeys { send: k2, recv: k1, suite };
///
/// let shadow = SessionShadow::default();
/// let mut w = CompW::new(Vec::new(), shadow.writer(&alice)?);
/// w.write_all(b"hello")?;
/// w.write_end()?;
/// let wire = w.into_inner();
/// let mut r = CompR::new(&wire[..], shadow.reader(&bob)?);
/// let mut got = Vec::new();
/// r.read_to_end(&mut got)?;
/// r.read_end()?;
/// assert_eq!(got, b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionShadow {
    mode: ChunkMode,
}

impl SessionShadow {
    /// A session shadow cutting messages as `mode` says.
    pub fn new(mode: ChunkMode) -> Self {
        SessionShadow { mode }
    }
}

impl Default for SessionShadow {
    /// Variable chunks of at most [`DEFAULT_MAX_CHUNK`] bytes.
    fn default() -> Self {
        SessionShadow::new(ChunkMode::Variable {
            max_chunk: DEFAULT_MAX_CHUNK,
        })
    }
}

impl Shadow for SessionShadow {
    type Writer = ChunkW<SessionCipher>;
    type Reader = ChunkR<SessionCipher>;

    fn writer(&self, keys: &SessionKeys) -> Result<Self::Writer> {
        Ok(ChunkW::new(
            SessionCipher::prepared(&keys.send, keys.suite, true)?,
            self.mode,
        )?)
    }

    fn reader(&self, keys: &SessionKeys) -> Result<Self::Reader> {
        Ok(ChunkR::new(
            SessionCipher::prepared(&keys.recv, keys.suite, false)?,
            self.mode,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use readwrite_comp::{CompR, CompW};

    use super::*;

    fn keys(suite: CipherSuite) -> SessionKeys {
        SessionKeys {
            send: SessionKey::from_bytes([3; 32]),
            recv: SessionKey::from_bytes([3; 32]),
            suite,
        }
    }

    fn wire(suite: CipherSuite, message: &[u8], step: usize) -> Vec<u8> {
        let shadow = SessionShadow::default();
        let mut w = CompW::new(Vec::new(), shadow.writer(&keys(suite)).expect("writer"));
        for part in message.chunks(step) {
            w.write_all(part).expect("write");
        }
        w.write_end().expect("end");
        w.into_inner()
    }

    /// Whole chunks sealed from the caller's buffer (one big write; or
    /// after a short one, each chunk's first bytes sealed in place and its
    /// rest from the caller's buffer) give the bytes sealing in place gives
    /// (small writes), and open; with either suite.
    #[test]
    fn sealing_from_the_callers_buffer_matches_sealing_in_place() {
        let message: Vec<u8> = (0..3 * DEFAULT_MAX_CHUNK + 100).map(|i| i as u8).collect();
        for suite in [CipherSuite::ChaCha20Poly1305, CipherSuite::Aes256Gcm] {
            let direct = wire(suite, &message, message.len());
            // Writes that divide a chunk: every chunk sealed in place.
            assert_eq!(direct, wire(suite, &message, 1024));
            let shadow = SessionShadow::default();
            let mut w = CompW::new(Vec::new(), shadow.writer(&keys(suite)).expect("writer"));
            // 37 bytes: not a multiple of ChaCha20's 64-byte block nor of
            // AES's 16-byte one.
            w.write_all(&message[..37]).expect("write");
            w.write_all(&message[37..]).expect("write");
            w.write_end().expect("end");
            assert_eq!(w.into_inner(), direct);
            let mut r = CompR::new(&direct[..], shadow.reader(&keys(suite)).expect("reader"));
            let mut got = Vec::new();
            r.read_to_end(&mut got).expect("read");
            r.read_end().expect("end");
            assert_eq!(got, message);
        }
    }

    /// A session ended by its writer reads to a clean end of stream; cut
    /// anywhere before its last chunk it is a truncation; its end moved,
    /// flagged on another chunk or changed does not open. In both suites.
    #[test]
    fn only_the_writers_end_is_a_clean_end() {
        let shadow = SessionShadow::new(ChunkMode::Variable { max_chunk: 32 });
        for suite in [CipherSuite::ChaCha20Poly1305, CipherSuite::Aes256Gcm] {
            let mut w = CompW::new(Vec::new(), shadow.writer(&keys(suite)).expect("writer"));
            for i in 0..5u8 {
                w.write_all(&[i; 40]).expect("write");
                w.flush().expect("flush");
            }
            let before_end = w.get_ref().len();
            w.write_end().expect("end");
            let wire = w.into_inner();
            let read = |wire: &[u8]| {
                let reader = shadow.reader(&keys(suite)).expect("reader");
                let mut got = Vec::new();
                CompR::new(wire, reader).read_to_end(&mut got).map(|_| got)
            };
            assert_eq!(read(&wire).expect("clean end").len(), 200);
            for cut in 0..wire.len() {
                let err = read(&wire[..cut]).expect_err("cut");
                assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
            }
            // The last chunk before the end, flagged as the last.
            let last_len = 4 + 8 + SESSION_TAG_LEN;
            let mut forged = wire[..before_end].to_vec();
            forged[before_end - last_len] |= 0x80;
            let err = read(&forged).expect_err("flag");
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            // The genuine end one chunk early.
            let forged = [&wire[..before_end - last_len], &wire[before_end..]].concat();
            let err = read(&forged).expect_err("moved");
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            // The end's tag changed.
            let mut forged = wire.clone();
            *forged.last_mut().expect("tag") ^= 1;
            let err = read(&forged).expect_err("tampered");
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        }
    }

    /// The fetched ChaCha20-Poly1305 seals as the legacy constant does.
    #[test]
    fn the_fetched_cipher_matches_the_legacy_one() {
        let seal = |cipher: &CipherRef| {
            let mut ctx = CipherCtx::new().expect("ctx");
            ctx.encrypt_init(Some(cipher), Some(&[5; 32]), Some(&[6; 12]))
                .expect("init");
            let mut data = vec![7u8; 100];
            let mut tag = [0u8; SESSION_TAG_LEN];
            seal_in_place(&mut ctx, &[6; 12], b"aad", &mut data, &mut tag).expect("seal");
            (data, tag)
        };
        assert_eq!(seal(chacha20_poly1305()), seal(Cipher::chacha20_poly1305()));
    }

    /// ring's AES-256-GCM gives openssl's bytes and tag (the wire of the
    /// `Aes256Gcm` suite did not change with the library), at lengths
    /// around AES's 16-byte block and ring's wider strides, and opens
    /// openssl's.
    #[test]
    fn ring_aes_gcm_matches_openssl() {
        let key = SessionKey::from_bytes([5; 32]);
        let nonce = [6u8; 12];
        for len in [0, 1, 15, 16, 17, 100, 255, 256, 257, 1000, 16 * 1024 + 3] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut ctx = CipherCtx::new().expect("ctx");
            ctx.encrypt_init(Some(Cipher::aes_256_gcm()), Some(key.as_bytes()), None)
                .expect("init");
            let mut expected = plain.clone();
            let mut expected_tag = [0u8; SESSION_TAG_LEN];
            seal_in_place(&mut ctx, &nonce, b"aad", &mut expected, &mut expected_tag)
                .expect("openssl seal");
            let mut slot = None;
            let ring =
                ChunkAead::keyed(&mut slot, &key, CipherSuite::Aes256Gcm, true).expect("ring key");
            let mut data = plain.clone();
            let mut tag = [0u8; SESSION_TAG_LEN];
            ring.seal(&nonce, b"aad", &mut data, &mut tag)
                .expect("ring seal");
            assert_eq!((&data, tag), (&expected, expected_tag), "len {len}");
            assert!(ring.open(&nonce, b"aad", &mut expected, &expected_tag));
            assert_eq!(expected, plain);
        }
    }

    /// A ring opening given a short tag, a wrong tag or a wrong nonce
    /// refuses the chunk, as an `InvalidData` error, without a panic.
    #[test]
    fn ring_refuses_bad_tags_without_panic() {
        let key = SessionKey::from_bytes([8; 32]);
        let mut sealer = SessionCipher::new(&key, CipherSuite::Aes256Gcm);
        let mut opener = SessionCipher::new(&key, CipherSuite::Aes256Gcm);
        let mut data = vec![1u8; 40];
        let mut tag = [0u8; SESSION_TAG_LEN];
        sealer
            .seal(0, false, b"", &mut data, &mut tag)
            .expect("seal");
        for short in [0, 1, SESSION_TAG_LEN - 1] {
            let err = opener
                .open(0, false, b"", &mut data.clone(), &tag[..short])
                .expect_err("short tag");
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        }
        let err = opener
            .open(1, false, b"", &mut data.clone(), &tag)
            .expect_err("other index");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let err = opener
            .open(0, true, b"", &mut data.clone(), &tag)
            .expect_err("last flag");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut bad = tag;
        bad[15] ^= 1;
        let err = opener
            .open(0, false, b"", &mut data.clone(), &bad)
            .expect_err("tag");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        opener.open(0, false, b"", &mut data, &tag).expect("open");
        assert_eq!(data, vec![1u8; 40]);
    }

    /// The two suites seal the same message with the same key differently,
    /// and neither opens the other's chunks.
    #[test]
    fn a_suite_does_not_open_the_others_chunks() {
        let message = b"the same bytes, the same key";
        let chacha = wire(CipherSuite::ChaCha20Poly1305, message, message.len());
        let aes = wire(CipherSuite::Aes256Gcm, message, message.len());
        assert_eq!(chacha.len(), aes.len());
        assert_ne!(chacha, aes);
        let shadow = SessionShadow::default();
        let reader = shadow.reader(&keys(CipherSuite::ChaCha20Poly1305));
        let mut r = CompR::new(&aes[..], reader.expect("reader"));
        let err = r.read_to_end(&mut Vec::new()).expect_err("other suite");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    }
}
