//! Per-hop cell streaming throughput on one core, beside openssl
//! ChaCha20-Poly1305 opening the same number of bytes, in the same run; the
//! medians of this run and their ratio are printed at the end (when a
//! filter skips a benchmark, its median is NaN).
//!
//! `cargo bench -p tunnel --bench cells -- --warm-up-time 1 --measurement-time 3`

use std::cell::RefCell;
use std::hint::black_box;
use std::io;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use openssl::cipher::Cipher;
use openssl::cipher_ctx::CipherCtx;
use readwrite_comp::ExtWrite;
use tunnel::cell::{
    CellLayout, CellPeeler, CellProxy, CellSealer, CellWriter, ReplyCellSealer, ReplyCellWrapper,
};
use tunnel::config::TunnelConfig;

const GROUP: &str = "cells_16KiB";
/// Cells per iteration: 1 MiB, so per-iteration setup is negligible.
const CELLS: usize = 64;

/// `CELLS` cells sealed for a relay then the exit.
fn query_stream(layout: CellLayout, relay_key: &[u8; 32]) -> Vec<u8> {
    let mut w = CellWriter::new(CellSealer::new(layout, &[*relay_key, [9; 32]]).unwrap());
    let mut out = Vec::new();
    let payload = vec![7u8; layout.data_capacity() * CELLS];
    w.write_all_into(&mut out, &payload).unwrap();
    w.write_end(&mut out).unwrap();
    assert_eq!(out.len(), CELLS * layout.cell_size());
    out
}

/// `CELLS` reply cells sealed by an exit, their link entries under
/// `link_key`.
fn reply_stream(layout: CellLayout, link_key: &[u8; 32]) -> Vec<u8> {
    let sealer = ReplyCellSealer::new(layout, &[8; 32], link_key).unwrap();
    let mut w = CellWriter::new(sealer);
    let mut out = Vec::new();
    let payload = vec![7u8; layout.reply().data_capacity() * CELLS];
    w.write_all_into(&mut out, &payload).unwrap();
    w.write_end(&mut out).unwrap();
    assert_eq!(out.len(), CELLS * layout.cell_size());
    out
}

/// `CELLS` raw ChaCha20-Poly1305 messages of one cell each, tag first.
fn raw_stream(cell_size: usize, key: &[u8; 32]) -> Vec<u8> {
    let mut out = vec![3u8; CELLS * cell_size];
    let mut ctx = CipherCtx::new().unwrap();
    ctx.encrypt_init(Some(Cipher::chacha20_poly1305()), Some(key), Some(&[0; 12]))
        .unwrap();
    for (i, cell) in out.chunks_mut(cell_size).enumerate() {
        ctx.encrypt_init(None, None, Some(&nonce(i))).unwrap();
        let (tag, body) = cell.split_at_mut(16);
        let len = body.len();
        ctx.cipher_update_inplace(body, len).unwrap();
        ctx.cipher_final(&mut []).unwrap();
        ctx.tag(tag).unwrap();
    }
    out
}

fn nonce(i: usize) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&(i as u64).to_le_bytes());
    n
}

/// Per-iteration times of each sample of one benchmark, in ns, kept to
/// compare medians measured in this very run.
#[derive(Default)]
struct Samples(RefCell<Vec<f64>>);

impl Samples {
    fn record(&self, elapsed: Duration, iters: u64) -> Duration {
        self.0
            .borrow_mut()
            .push(elapsed.as_nanos() as f64 / iters.max(1) as f64);
        elapsed
    }

    /// Median of the measured samples (the last `SAMPLES`, after warm-up).
    fn median(&self) -> f64 {
        let all = self.0.borrow();
        let mut v = all[all.len().saturating_sub(SAMPLES)..].to_vec();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }
}

const SAMPLES: usize = 20;

fn per_hop(c: &mut Criterion) {
    let layout = CellLayout::new(&TunnelConfig::default()).unwrap();
    let size = layout.cell_size();
    let key = [1u8; 32];
    let query = query_stream(layout, &key);
    let raw = raw_stream(size, &key);
    let link_in = [5u8; 32];
    let reply = reply_stream(layout, &link_in);
    let (base, peel, wrap) = (Samples::default(), Samples::default(), Samples::default());

    let mut group = c.benchmark_group(GROUP);
    group.sample_size(SAMPLES);
    group.throughput(Throughput::Bytes((CELLS * size) as u64));

    // Baseline: open (decipher and verify) each cell from the input into an
    // output buffer, one reused context, a fresh nonce per cell.
    let mut ctx = CipherCtx::new().unwrap();
    ctx.decrypt_init(
        Some(Cipher::chacha20_poly1305()),
        Some(&key),
        Some(&[0; 12]),
    )
    .unwrap();
    let mut out = vec![0u8; size];
    group.bench_function("openssl_chacha20poly1305_open", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for (i, cell) in raw.chunks(size).enumerate() {
                    ctx.decrypt_init(None, None, Some(&nonce(i))).unwrap();
                    ctx.cipher_update(&cell[16..], Some(&mut out[16..]))
                        .unwrap();
                    ctx.set_tag(&cell[..16]).unwrap();
                    ctx.cipher_final(&mut []).unwrap();
                }
                black_box(&out);
            }
            base.record(start.elapsed(), iters)
        })
    });

    // A relay: read each cell from the input, check and remove its layer in
    // place, write it on. A fresh relay per iteration (made untimed).
    group.bench_function("relay_peel", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut proxy = CellProxy::new(CellPeeler::new(layout, &key).unwrap());
                let start = Instant::now();
                proxy.pump(&mut &query[..], &mut io::sink()).unwrap();
                total += start.elapsed();
            }
            peel.record(total, iters)
        })
    });

    // A reply relay: check the incoming link entry, add its layer to each
    // cell, seal the outgoing link entry.
    group.bench_function("reply_wrap", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let wrapper = ReplyCellWrapper::new(layout, &key, &link_in, &[6; 32]).unwrap();
                let mut proxy = CellProxy::new(wrapper);
                let start = Instant::now();
                proxy.pump(&mut &reply[..], &mut io::sink()).unwrap();
                total += start.elapsed();
            }
            wrap.record(total, iters)
        })
    });
    group.finish();

    let gbps = |ns: f64| (CELLS * size) as f64 / ns;
    let b = base.median();
    println!("medians of this run, {CELLS} cells of {size} bytes per iteration:");
    println!(
        "openssl ChaCha20-Poly1305 open: {:.0} us, {:.2} GB/s",
        b / 1e3,
        gbps(b)
    );
    for (name, s) in [("relay_peel", &peel), ("reply_wrap", &wrap)] {
        let t = s.median();
        println!(
            "{name}: {:.0} us, {:.2} GB/s, {:.0}% of the baseline",
            t / 1e3,
            gbps(t),
            100.0 * b / t
        );
    }
}

criterion_group!(benches, per_hop);
criterion_main!(benches);
