//! Chunk framing overhead: ChaCha20-Poly1305 (openssl) through
//! `ChunkW`/`ChunkR` at 16 KiB chunks, against raw openssl sealing/opening
//! the same chunks. Prints the throughput ratio from raw and layer runs
//! interleaved in the same process.
//!
//! `cargo bench -p readwrite-comp --bench chunk -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use openssl::cipher::Cipher;
use openssl::cipher_ctx::CipherCtx;
use readwrite_comp::{ChunkCipher, ChunkMode, ChunkR, ChunkW, CompR, CompW};
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

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

/// Raw openssl as a stream receiver does it: read each sealed chunk from
/// the stream into `out`, then open it there in place.
fn raw_read_open(c: &mut ChaCha, mut stream: &[u8], out: &mut [u8]) {
    let n = stream.len() / (CHUNK + TAG);
    let mut tag = [0; TAG];
    for (i, o) in out.chunks_mut(CHUNK).enumerate() {
        stream.read_exact(o).unwrap();
        stream.read_exact(&mut tag).unwrap();
        let ctx = &mut c.ctx;
        ctx.decrypt_init(
            Some(Cipher::chacha20_poly1305()),
            Some(&KEY),
            Some(&nonce(i as u64, i + 1 == n)),
        )
        .unwrap();
        ctx.set_tag(&tag).unwrap();
        ctx.cipher_update(&[0; 4], None).unwrap();
        ctx.cipher_update_inplace(o, CHUNK).unwrap();
        ctx.cipher_final(&mut []).unwrap();
    }
}

/// Opens the messages of a wire (indexes go on), starting over with a fresh
/// reader when the wire is used up. One message, so the wire stays as
/// cache-warm as the raw baseline's buffer.
struct LayerOpen {
    wire: &'static [u8],
    reader: CompR<&'static [u8], ChunkR<ChaCha>>,
    left: usize,
}

const WIRE_MESSAGES: usize = 1;

impl LayerOpen {
    fn new(msg: &[u8]) -> Self {
        let mut w = CompW::new(Vec::new(), ChunkW::new(chacha(), mode()).unwrap());
        for _ in 0..WIRE_MESSAGES {
            w.write_all(msg).unwrap();
            w.write_end().unwrap();
        }
        // Leaked once so readers can borrow it for the whole bench run.
        let wire: &'static [u8] = w.into_inner().leak();
        LayerOpen {
            wire,
            reader: Self::reader(wire),
            left: WIRE_MESSAGES,
        }
    }

    fn reader(wire: &'static [u8]) -> CompR<&'static [u8], ChunkR<ChaCha>> {
        CompR::new(wire, ChunkR::new(chacha(), mode()).unwrap())
    }

    fn restart(&mut self) {
        self.reader = Self::reader(self.wire);
        self.left = WIRE_MESSAGES;
    }

    /// Time to read one message into `out`.
    fn once(&mut self, out: &mut [u8]) -> Duration {
        if self.left == 0 {
            self.restart();
        }
        self.left -= 1;
        let start = Instant::now();
        self.reader.read_exact(out).unwrap();
        self.reader.read_end().unwrap();
        start.elapsed()
    }
}

fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
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
    let mut w = CompW::new(io::sink(), ChunkW::new(chacha(), mode()).unwrap());
    g.bench_function(BenchmarkId::new("seal", "chunkw"), |b| {
        b.iter(|| {
            w.write_all(black_box(&msg)).unwrap();
            w.write_end().unwrap();
        })
    });

    let mut opened = vec![0; MESSAGE];
    g.bench_function(BenchmarkId::new("open", "raw"), |b| {
        b.iter(|| raw_open(&mut cipher, black_box(&sealed), &mut opened))
    });
    g.bench_function(BenchmarkId::new("open", "raw_read_inplace"), |b| {
        b.iter(|| raw_read_open(&mut cipher, black_box(&sealed), &mut opened))
    });
    let mut layer = LayerOpen::new(&msg);
    g.bench_function(BenchmarkId::new("open", "chunkr"), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| layer.once(&mut opened)).sum())
    });
    g.finish();

    // The ratio from raw and layer runs interleaved one message at a time,
    // so the shared machine's drift hits both sides alike.
    let seal = paired(
        || timed(|| raw_seal(&mut cipher, black_box(&msg), &mut sealed)),
        || {
            timed(|| {
                w.write_all(black_box(&msg)).unwrap();
                w.write_end().unwrap();
            })
        },
    );
    let mut opened2 = vec![0; MESSAGE];
    let open = paired(
        || timed(|| raw_open(&mut cipher, black_box(&sealed), &mut opened)),
        || layer.once(&mut opened2),
    );
    let read_open = paired(
        || timed(|| raw_read_open(&mut cipher, black_box(&sealed), &mut opened)),
        || layer.once(&mut opened2),
    );
    report("seal", "raw seal", "chunkw", seal);
    report("open", "raw open", "chunkr", open);
    report("open", "raw read+open in place", "chunkr", read_open);
}

const ROUNDS: usize = 300;

/// Median times of `raw` and `layer`, run alternately `ROUNDS` times.
fn paired(
    mut raw: impl FnMut() -> Duration,
    mut layer: impl FnMut() -> Duration,
) -> (Duration, Duration) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        a.push(raw());
        b.push(layer());
    }
    a.sort_unstable();
    b.sort_unstable();
    (a[ROUNDS / 2], b[ROUNDS / 2])
}

fn report(op: &str, base: &str, ours: &str, (raw, layer): (Duration, Duration)) {
    let mib_s = |d: Duration| MESSAGE as f64 / d.as_secs_f64() / (1 << 20) as f64;
    println!(
        "{op} (paired medians, {ROUNDS} rounds): {base} {:.0} MiB/s, {ours} {:.0} MiB/s, ratio {:.2}",
        mib_s(raw),
        mib_s(layer),
        raw.as_secs_f64() / layer.as_secs_f64()
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
