//! The session shadow: ChaCha20-Poly1305 authenticated chunks with counter
//! nonces, one key per direction.

use std::fmt;
use std::io;

use mydht_base::Result;
use openssl::cipher::Cipher;
use openssl::cipher_ctx::CipherCtx;
use readwrite_comp::chunk::held_len;
use readwrite_comp::{ChunkCipher, ChunkMode, ChunkR, ChunkW};

use super::Shadow;
use crate::auth::{SessionKey, SessionKeys};

/// Length of a ChaCha20-Poly1305 tag.
pub const SESSION_TAG_LEN: usize = 16;
/// Default largest chunk of the session shadow: 64 KiB. Each chunk costs a
/// nonce set-up and a read of its own (writes take two chunks), so bulk
/// messages go about 1.3x faster than with 16 KiB chunks, and no faster with
/// 128 KiB ones; the price is buffers of one chunk (reading) and two chunks
/// (writing) per connection.
pub const DEFAULT_MAX_CHUNK: usize = 64 * 1024;

/// A [`ChunkCipher`] sealing each chunk with ChaCha20-Poly1305.
///
/// The 96-bit nonce is the chunk index (the per-direction counter of the
/// chunk framing, big-endian, last 8 bytes) with the chunk's *last* flag in
/// the first byte, so a chunk presented at another position or as the end
/// of a message does not open. Sealing refuses an index already used with
/// this key (no nonce reuse, even if misused) and the last index (counter
/// exhausted): the connection must then be re-keyed by a new handshake.
pub struct SessionCipher {
    key: SessionKey,
    seal_ctx: Option<CipherCtx>,
    open_ctx: Option<CipherCtx>,
    next_seal: u64,
}

impl fmt::Debug for SessionCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCipher")
            .field("next_seal", &self.next_seal)
            .finish_non_exhaustive()
    }
}

impl SessionCipher {
    /// A cipher for one direction, keyed with `key`; its openssl contexts
    /// are made on first use.
    pub fn new(key: &SessionKey) -> Self {
        SessionCipher {
            key: key.clone(),
            seal_ctx: None,
            open_ctx: None,
            next_seal: 0,
        }
    }

    /// [`SessionCipher::new`] with the context of the direction's one
    /// operation (sealing or opening) made and keyed now: a shadow built
    /// while the peer checks the handshake's last message then has nothing
    /// left to set up on the first chunk (openssl 3 fetches the algorithm
    /// when a context is first initialised).
    pub fn prepared(key: &SessionKey, seal: bool) -> io::Result<Self> {
        let mut cipher = Self::new(key);
        let slot = if seal {
            &mut cipher.seal_ctx
        } else {
            &mut cipher.open_ctx
        };
        Self::context(slot, key, seal)?;
        Ok(cipher)
    }

    fn nonce(chunk_index: u64, last: bool) -> [u8; 12] {
        let mut nonce = [0u8; 12];
        nonce[0] = u8::from(last);
        nonce[4..].copy_from_slice(&chunk_index.to_be_bytes());
        nonce
    }

    /// Checks a seal's index and tag, counts the index as used, and returns
    /// the sealing context and the chunk's nonce.
    fn seal_context(
        &mut self,
        chunk_index: u64,
        last: bool,
        tag: &[u8],
    ) -> io::Result<(&mut CipherCtx, [u8; 12])> {
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
        let ctx = Self::context(&mut self.seal_ctx, &self.key, true)?;
        // Counted as used before sealing: a failure half-way must not let
        // the same nonce be tried again.
        self.next_seal = chunk_index + 1;
        Ok((ctx, nonce))
    }

    /// The context of one operation, created and keyed on first use: the
    /// key schedule is done once, each chunk only sets its nonce.
    fn context<'a>(
        slot: &'a mut Option<CipherCtx>,
        key: &SessionKey,
        seal: bool,
    ) -> io::Result<&'a mut CipherCtx> {
        let ctx = match slot.take() {
            Some(ctx) => ctx,
            None => {
                let mut ctx = CipherCtx::new().map_err(io::Error::other)?;
                let cipher = Cipher::chacha20_poly1305();
                if seal {
                    ctx.encrypt_init(Some(cipher), Some(key.as_bytes()), None)
                } else {
                    ctx.decrypt_init(Some(cipher), Some(key.as_bytes()), None)
                }
                .map_err(io::Error::other)?;
                ctx
            }
        };
        Ok(slot.insert(ctx))
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
        let (ctx, nonce) = self.seal_context(chunk_index, last, tag)?;
        seal_in_place(ctx, &nonce, aad, data, tag).map_err(io::Error::other)
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
        let (ctx, nonce) = self.seal_context(chunk_index, last, tag)?;
        seal_out_of_place(ctx, &nonce, aad, src, dst, held, tag).map_err(io::Error::other)
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
        let ctx = Self::context(&mut self.open_ctx, &self.key, false)?;
        open_in_place(ctx, &nonce, aad, data, tag).map_err(|_| invalid())
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

/// Seals `dst[..held] ‖ src` into `dst`; `dst` is `held` bytes longer
/// than `src` (checked by the caller): a stream cipher's output is exactly
/// its input's length, and it carries over between the two updates.
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

/// The default shadow: [`SessionCipher`] chunks in the given [`ChunkMode`].
///
/// ```
/// use std::io::{Read, Write};
/// use mydht::auth::{SessionKey, SessionKeys};
/// use mydht::{SessionShadow, Shadow};
/// use readwrite_comp::{CompR, CompW};
///
/// // Normally from `Authenticated::keys` on each side.
/// let (k1, k2) = (SessionKey::from_bytes([1; 32]), SessionKey::from_bytes([2; 32]));
/// let alice = SessionKeys { send: k1.clone(), recv: k2.clone() };
/// let bob = SessionKeys { send: k2, recv: k1 };
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
            SessionCipher::prepared(&keys.send, true)?,
            self.mode,
        )?)
    }

    fn reader(&self, keys: &SessionKeys) -> Result<Self::Reader> {
        Ok(ChunkR::new(
            SessionCipher::prepared(&keys.recv, false)?,
            self.mode,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use readwrite_comp::{CompR, CompW};

    use super::*;

    fn keys() -> SessionKeys {
        SessionKeys {
            send: SessionKey::from_bytes([3; 32]),
            recv: SessionKey::from_bytes([3; 32]),
        }
    }

    fn wire(message: &[u8], step: usize) -> Vec<u8> {
        let shadow = SessionShadow::default();
        let mut w = CompW::new(Vec::new(), shadow.writer(&keys()).expect("writer"));
        for part in message.chunks(step) {
            w.write_all(part).expect("write");
        }
        w.write_end().expect("end");
        w.into_inner()
    }

    /// Whole chunks sealed from the caller's buffer (one big write; or
    /// after a short one, each chunk's first bytes sealed in place and its
    /// rest from the caller's buffer) give the bytes sealing in place gives
    /// (small writes), and open.
    #[test]
    fn sealing_from_the_callers_buffer_matches_sealing_in_place() {
        let message: Vec<u8> = (0..3 * DEFAULT_MAX_CHUNK + 100).map(|i| i as u8).collect();
        let direct = wire(&message, message.len());
        // Writes that divide a chunk: every chunk sealed in place.
        assert_eq!(direct, wire(&message, 1024));
        let shadow = SessionShadow::default();
        let mut w = CompW::new(Vec::new(), shadow.writer(&keys()).expect("writer"));
        // 37 bytes: not a multiple of ChaCha20's 64-byte block.
        w.write_all(&message[..37]).expect("write");
        w.write_all(&message[37..]).expect("write");
        w.write_end().expect("end");
        assert_eq!(w.into_inner(), direct);
        let shadow = SessionShadow::default();
        let mut r = CompR::new(&direct[..], shadow.reader(&keys()).expect("reader"));
        let mut got = Vec::new();
        r.read_to_end(&mut got).expect("read");
        r.read_end().expect("end");
        assert_eq!(got, message);
    }
}
