//! Chunk framing overhead: ChaCha20-Poly1305 (openssl) through
//! `ChunkW`/`ChunkR` at 16 KiB chunks, against raw openssl sealing/opening
//! the same chunks, measured in the same run. Prints the throughput ratio.
//!
//! `cargo bench -p readwrite-comp --bench chunk -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use openssl::cipher::Cipher;
use openssl::cipher_ctx::CipherCtx;
use readwrite_comp::{ChunkCipher, ChunkMode, ChunkR, ChunkW, CompR, CompW};
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::path::Path;

const CHUNK: usize = 16 * 1024;
const MESSAGE: usize = 64 * CHUNK;
const TAG: usize = 16;
const KEY: [u8; 32] = [7; 32];
const GROUP: &str = "chacha20poly1305_16k";

/// What the node's session shadow does: counter nonce, last flag in the nonce.
struct ChaCha {
    ctx: CipherCtx,
}

fn nonce(index: u64, last: bool) -> [u8; 12] {
    let mut n = [0; 12];
    n[0] = u8::from(last);
    n[4..].copy_from_slice(&index.to_be_bytes());
    n
}

fn to_io(e: openssl::error::ErrorStack) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl ChunkCipher for ChaCha {
    fn tag_len(&self) -> usize {
        TAG
    }

    fn seal(
        &mut self,
        index: u64,
        last: bool,
        aad: &[u8],
        data: &mut [u8],
        tag: &mut [u8],
    ) -> io::Result<()> {
        let c = &mut self.ctx;
        c.encrypt_init(
            Some(Cipher::chacha20_poly1305()),
            Some(&KEY),
            Some(&nonce(index, last)),
        )
        .map_err(to_io)?;
        c.cipher_update(aad, None).map_err(to_io)?;
        let len = data.len();
        c.cipher_update_inplace(data, len).map_err(to_io)?;
        c.cipher_final(&mut []).map_err(to_io)?;
        c.tag(tag).map_err(to_io)
    }

    fn open(
        &mut self,
        index: u64,
        last: bool,
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> io::Result<()> {
        let c = &mut self.ctx;
        c.decrypt_init(
            Some(Cipher::chacha20_poly1305()),
            Some(&KEY),
            Some(&nonce(index, last)),
        )
        .map_err(to_io)?;
        c.set_tag(tag).map_err(to_io)?;
        c.cipher_update(aad, None).map_err(to_io)?;
        let len = data.len();
        c.cipher_update_inplace(data, len).map_err(to_io)?;
        c.cipher_final(&mut []).map_err(to_io)?;
        Ok(())
    }
}

fn chacha() -> ChaCha {
    ChaCha {
        ctx: CipherCtx::new().unwrap(),
    }
}

fn mode() -> ChunkMode {
    ChunkMode::Variable { max_chunk: CHUNK }
}

/// Raw openssl: seal each 16 KiB chunk of `msg` into `out`, tag after it.
fn raw_seal(c: &mut ChaCha, msg: &[u8], out: &mut [u8]) {
    for (i, (chunk, o)) in msg
        .chunks(CHUNK)
        .zip(out.chunks_mut(CHUNK + TAG))
        .enumerate()
    {
        let last = (i + 1) * CHUNK >= msg.len();
        let ctx = &mut c.ctx;
        ctx.encrypt_init(
            Some(Cipher::chacha20_poly1305()),
            Some(&KEY),
            Some(&nonce(i as u64, last)),
        )
        .unwrap();
        ctx.cipher_update(&[0; 4], None).unwrap();
        let (data, tag) = o.split_at_mut(CHUNK);
        ctx.cipher_update(chunk, Some(data)).unwrap();
        ctx.cipher_final(&mut []).unwrap();
        ctx.tag(tag).unwrap();
    }
}

/// Raw openssl: open each sealed chunk of `sealed` into `out`.
fn raw_open(c: &mut ChaCha, sealed: &[u8], out: &mut [u8]) {
    let n = sealed.len() / (CHUNK + TAG);
    for (i, (s, o)) in sealed
        .chunks(CHUNK + TAG)
        .zip(out.chunks_mut(CHUNK))
        .enumerate()
    {
        let ctx = &mut c.ctx;
        ctx.decrypt_init(
            Some(Cipher::chacha20_poly1305()),
            Some(&KEY),
            Some(&nonce(i as u64, i + 1 == n)),
        )
        .unwrap();
        let (data, tag) = s.split_at(CHUNK);
        ctx.set_tag(tag).unwrap();
        ctx.cipher_update(&[0; 4], None).unwrap();
        ctx.cipher_update(data, Some(o)).unwrap();
        ctx.cipher_final(&mut []).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let msg: Vec<u8> = (0..MESSAGE).map(|i| i as u8).collect();
    let mut g = c.benchmark_group(GROUP);
    g.throughput(Throughput::Bytes(MESSAGE as u64));
    g.sample_size(20);

    let mut cipher = chacha();
    let mut sealed = vec![0; MESSAGE / CHUNK * (CHUNK + TAG)];
    g.bench_function(BenchmarkId::new("seal", "raw"), |b| {
        b.iter(|| raw_seal(&mut cipher, black_box(&msg), &mut sealed))
    });
    g.bench_function(BenchmarkId::new("seal", "chunkw"), |b| {
        let mut w = CompW::new(io::sink(), ChunkW::new(chacha(), mode()).unwrap());
        b.iter(|| {
            w.write_all(black_box(&msg)).unwrap();
            w.write_end().unwrap();
        })
    });

    let mut opened = vec![0; MESSAGE];
    g.bench_function(BenchmarkId::new("open", "raw"), |b| {
        b.iter(|| raw_open(&mut cipher, black_box(&sealed), &mut opened))
    });
    // The reader expects chunk indexes to go on: one wire of many messages,
    // read from the start in each timed batch.
    let mut w = CompW::new(Vec::new(), ChunkW::new(chacha(), mode()).unwrap());
    for _ in 0..64 {
        w.write_all(&msg).unwrap();
        w.write_end().unwrap();
    }
    let wire = w.into_inner();
    g.bench_function(BenchmarkId::new("open", "chunkr"), |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let batch = left.min(64);
                let mut r = CompR::new(&wire[..], ChunkR::new(chacha(), mode()).unwrap());
                let start = std::time::Instant::now();
                for _ in 0..batch {
                    r.read_exact(&mut opened).unwrap();
                    r.read_end().unwrap();
                }
                total += start.elapsed();
                left -= batch;
            }
            total
        })
    });
    g.finish();
}

/// Median time of one bench from criterion's saved estimates.
fn median_ns(dir: &Path, op: &str, which: &str) -> Option<f64> {
    let path = dir
        .join(GROUP)
        .join(op)
        .join(which)
        .join("new/estimates.json");
    let json = std::fs::read_to_string(path).ok()?;
    let at = json.find("\"median\"")?;
    let pe = at + json[at..].find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let end = pe + json[pe..].find([',', '}'])?;
    json[pe..end].trim().parse().ok()
}

fn report_ratios() {
    // The bench binary lives in <target>/release/deps/.
    let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.parent()?.join("criterion")))
    else {
        return;
    };
    for (op, ours) in [("seal", "chunkw"), ("open", "chunkr")] {
        if let (Some(raw), Some(layer)) = (median_ns(&dir, op, "raw"), median_ns(&dir, op, ours)) {
            let mib_s = |ns: f64| MESSAGE as f64 / ns * 1e9 / (1 << 20) as f64;
            println!(
                "{op}: raw {:.0} MiB/s, {ours} {:.0} MiB/s, ratio {:.2} (median)",
                mib_s(raw),
                mib_s(layer),
                raw / layer
            );
        }
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    report_ratios();
}
