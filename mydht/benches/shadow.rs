//! Session shadow throughput on one core against the bare openssl cipher
//! on the same buffers, in the same run: 256 KiB messages in 16 KiB chunks,
//! for each suite (`shadow_16k`: ChaCha20-Poly1305, the default;
//! `shadow_16k_aes`: AES-256-GCM).
//! The shadow writes to and reads from memory (`io::sink` / a slice), so
//! what is measured is the layer: framing, copies through its chunk buffer,
//! and the cipher. The baselines are the bare cipher calls on the same
//! 16 KiB chunks (in place to seal, out of place to open), no framing, no
//! copy, through openssl for both suites: the shadow seals AES-256-GCM
//! through ring, so in `shadow_16k_aes` the ratio to the baseline is ring's
//! gain over openssl 3.0's AES-256-GCM, less the layer's cost. Prints this
//! run's medians, their ratios, and the medians of paired per-sample
//! ratios, at the end.
//!
//! `cargo bench -p mydht --bench shadow -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::io::{self, Read, Write};

use criterion::{Criterion, Throughput};
use mydht::auth::{CipherSuite, SessionKey, SessionKeys};
use mydht::shadow::SESSION_TAG_LEN;
use mydht::{SessionShadow, Shadow};
use openssl::cipher::Cipher;
use openssl::cipher_ctx::CipherCtx;
use readwrite_comp::{ChunkMode, CompR, CompW};

/// Each suite's group.
const GROUPS: [(CipherSuite, &str); 2] = [
    (CipherSuite::ChaCha20Poly1305, "shadow_16k"),
    (CipherSuite::Aes256Gcm, "shadow_16k_aes"),
];
/// Small enough that the measured and the baseline work, run alternately,
/// both stay in the L2 cache (2 MiB a core here).
const MESSAGE: usize = 256 << 10;
/// The chunk size of the goal (16 KiB), pinned: the node's default chunk is
/// larger (64 KiB) and would not compare with a 16 KiB baseline.
const CHUNK: usize = 16 << 10;
/// Messages in the wire the reader goes through before it is rebuilt (its
/// counter must start again with the wire's), so keying is amortised.
const WIRE_MESSAGES: usize = 8;

fn keys(suite: CipherSuite) -> SessionKeys {
    SessionKeys {
        send: SessionKey::from_bytes([1; 32]),
        recv: SessionKey::from_bytes([1; 32]),
        suite,
    }
}

fn nonce(i: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&i.to_be_bytes());
    n
}

/// A context of `suite`'s cipher keyed once, to seal (`seal`) or open.
fn context(suite: CipherSuite, key: &[u8; 32], seal: bool) -> CipherCtx {
    let mut ctx = CipherCtx::new().unwrap();
    let cipher = match suite {
        CipherSuite::ChaCha20Poly1305 => Cipher::chacha20_poly1305(),
        CipherSuite::Aes256Gcm => Cipher::aes_256_gcm(),
    };
    if seal {
        ctx.encrypt_init(Some(cipher), Some(key), None).unwrap();
    } else {
        ctx.decrypt_init(Some(cipher), Some(key), None).unwrap();
    }
    ctx
}

fn seal_chunk(ctx: &mut CipherCtx, index: u64, chunk: &mut [u8], tag: &mut [u8]) {
    ctx.encrypt_init(None, None, Some(&nonce(index))).unwrap();
    ctx.cipher_update(&(chunk.len() as u32).to_be_bytes(), None)
        .unwrap();
    let len = chunk.len();
    ctx.cipher_update_inplace(chunk, len).unwrap();
    ctx.cipher_final(&mut []).unwrap();
    ctx.tag(tag).unwrap();
}

/// Samples per benchmark.
const SAMPLES: usize = 30;

fn shadow(c: &mut Criterion, (suite, group): (CipherSuite, &str), run: &ratio::Run) {
    let keys = keys(suite);
    let key = *keys.send.as_bytes();
    let shadow = SessionShadow::new(ChunkMode::Variable { max_chunk: CHUNK });
    let message: Vec<u8> = (0..MESSAGE).map(|i| i as u8).collect();
    let wire = {
        let mut w = CompW::new(Vec::new(), shadow.writer(&keys).unwrap());
        for _ in 0..WIRE_MESSAGES {
            w.write_all(&message).unwrap();
            w.write_end().unwrap();
        }
        w.into_inner()
    };

    // Sealing: through the shadow, and bare.
    let mut writer = CompW::new(io::sink(), shadow.writer(&keys).unwrap());
    let mut session_seal = || {
        writer.write_all(black_box(&message)).unwrap();
        writer.write_end().unwrap();
    };
    let mut seal_ctx = context(suite, &key, true);
    let mut buf = message.clone();
    let mut tag = [0u8; SESSION_TAG_LEN];
    let mut index = 0u64;
    let mut openssl_seal = || {
        for chunk in buf.chunks_mut(CHUNK) {
            seal_chunk(&mut seal_ctx, index, chunk, &mut tag);
            index += 1;
        }
        black_box(&tag);
    };

    // Opening: through the shadow, and bare on the same chunks, data and
    // tags apart.
    let mut reader = None;
    let mut read_count = 0;
    let mut out = vec![0u8; CHUNK];
    let mut session_open = || {
        if read_count % WIRE_MESSAGES == 0 {
            reader = Some(CompR::new(&wire[..], shadow.reader(&keys).unwrap()));
        }
        read_count += 1;
        let r = reader.as_mut().unwrap();
        let mut total = 0;
        loop {
            let n = r.read(&mut out).unwrap();
            if n == 0 {
                break;
            }
            total += n;
        }
        r.read_end().unwrap();
        assert_eq!(total, MESSAGE);
    };
    let mut ctx = context(suite, &key, true);
    let sealed: Vec<(Vec<u8>, [u8; SESSION_TAG_LEN])> = message
        .chunks(CHUNK)
        .enumerate()
        .map(|(i, chunk)| {
            let mut data = chunk.to_vec();
            let mut tag = [0u8; SESSION_TAG_LEN];
            seal_chunk(&mut ctx, i as u64, &mut data, &mut tag);
            (data, tag)
        })
        .collect();
    let mut open_ctx = context(suite, &key, false);
    let mut plain = vec![0u8; CHUNK];
    let mut openssl_open = || {
        for (i, (data, tag)) in sealed.iter().enumerate() {
            open_ctx
                .decrypt_init(None, None, Some(&nonce(i as u64)))
                .unwrap();
            open_ctx
                .cipher_update(&(data.len() as u32).to_be_bytes(), None)
                .unwrap();
            open_ctx.cipher_update(data, Some(&mut plain)).unwrap();
            open_ctx.set_tag(tag).unwrap();
            open_ctx.cipher_final(&mut []).unwrap();
        }
        black_box(&plain);
    };

    let id = |bench: &str| format!("{group}/{bench}");
    let mut g = c.benchmark_group(group);
    g.sample_size(run.samples());
    g.throughput(Throughput::Bytes(MESSAGE as u64));
    g.bench_function("session_seal", |b| {
        let ids = (&id("session_seal"), &id("openssl_seal"));
        run.paired(b, (ids.0, ids.1), &mut session_seal, &mut openssl_seal)
    });
    g.bench_function("openssl_seal", |b| {
        run.iter(b, &id("openssl_seal"), &mut openssl_seal)
    });
    g.bench_function("session_open", |b| {
        let ids = (&id("session_open"), &id("openssl_open"));
        run.paired(b, (ids.0, ids.1), &mut session_open, &mut openssl_open)
    });
    g.bench_function("openssl_open", |b| {
        run.iter(b, &id("openssl_open"), &mut openssl_open)
    });
    g.finish();
}

fn main() {
    let run = ratio::Run::new(SAMPLES);
    let mut c = Criterion::default().configure_from_args();
    for &group in &GROUPS {
        shadow(&mut c, group, &run);
    }
    c.final_summary();
    for (suite, group) in GROUPS {
        for (op, base) in [("seal", "openssl_seal"), ("open", "openssl_open")] {
            run.compare(
                &format!("session shadow {op}, {suite:?} vs the bare cipher"),
                &format!("{group}/session_{op}"),
                &format!("{group}/{base}"),
            );
        }
    }
    run.summary("shadow, times per 256 KiB message (16 KiB chunks)");
}

/// This run's medians and ratios (see the module's docs).
#[path = "../../mydht-base/benches/support/ratio.rs"]
mod ratio;
