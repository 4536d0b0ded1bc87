//! Per-hop cell streaming throughput on one core, beside openssl
//! ChaCha20-Poly1305 opening the same number of bytes (the cells' AEAD
//! before AES-256-GCM on ring: a relay faster than it shows the gain), in
//! the same run;
//! this run's medians and their ratios are printed at the end (one table;
//! each relay bench is also timed alternately with the baseline inside each
//! sample, and the median of those per-sample ratios printed; when a filter
//! skips a benchmark, the ratios that need it are printed as unavailable).
//!
//! `cargo bench -p mydht-onion --bench cells -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::io;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
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

const SAMPLES: usize = 20;

fn id(bench: &str) -> String {
    format!("{GROUP}/{bench}")
}

fn per_hop(c: &mut Criterion, run: &ratio::Run) {
    let layout = CellLayout::new(&TunnelConfig::default()).unwrap();
    let size = layout.cell_size();
    let key = [1u8; 32];
    let query = query_stream(layout, &key);
    let raw = raw_stream(size, &key);
    let link_in = [5u8; 32];
    let reply = reply_stream(layout, &link_in);

    let mut group = c.benchmark_group(GROUP);
    group.sample_size(run.samples());
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
    let mut open_all = || {
        let start = Instant::now();
        for (i, cell) in raw.chunks(size).enumerate() {
            ctx.decrypt_init(None, None, Some(&nonce(i))).unwrap();
            ctx.cipher_update(&cell[16..], Some(&mut out[16..]))
                .unwrap();
            ctx.set_tag(&cell[..16]).unwrap();
            ctx.cipher_final(&mut []).unwrap();
        }
        black_box(&out);
        start.elapsed()
    };
    let base = id("openssl_chacha20poly1305_open");
    group.bench_function("openssl_chacha20poly1305_open", |b| {
        run.custom(b, &base, |iters| (0..iters).map(|_| open_all()).sum())
    });

    // A relay: read each cell from the input, check and remove its layer in
    // place, write it on. A fresh relay per iteration (made untimed). Each
    // sample also times as many iterations of the baseline.
    group.bench_function("relay_peel", |b| {
        run.paired_custom(
            b,
            (&id("relay_peel"), &base),
            |iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut proxy = CellProxy::new(CellPeeler::new(layout, &key).unwrap());
                    let start = Instant::now();
                    proxy.pump(&mut &query[..], &mut io::sink()).unwrap();
                    total += start.elapsed();
                }
                total
            },
            |iters| (0..iters).map(|_| open_all()).sum(),
        )
    });

    // A reply relay: check the incoming link entry, add its layer to each
    // cell, seal the outgoing link entry.
    group.bench_function("reply_wrap", |b| {
        run.paired_custom(
            b,
            (&id("reply_wrap"), &base),
            |iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let wrapper = ReplyCellWrapper::new(layout, &key, &link_in, &[6; 32]).unwrap();
                    let mut proxy = CellProxy::new(wrapper);
                    let start = Instant::now();
                    proxy.pump(&mut &reply[..], &mut io::sink()).unwrap();
                    total += start.elapsed();
                }
                total
            },
            |iters| (0..iters).map(|_| open_all()).sum(),
        )
    });
    group.finish();
    let gbps = |id: &str| run.median(id).map(|ns| (CELLS * size) as f64 / ns);
    println!("{CELLS} cells of {size} bytes per iteration; GB/s of this run's medians:");
    for bench in ["openssl_chacha20poly1305_open", "relay_peel", "reply_wrap"] {
        if let Some(g) = gbps(&id(bench)) {
            println!("  {bench}: {g:.2} GB/s");
        }
    }
}

fn main() {
    let run = ratio::Run::new(SAMPLES);
    let mut c = Criterion::default().configure_from_args();
    per_hop(&mut c, &run);
    c.final_summary();
    let base = id("openssl_chacha20poly1305_open");
    run.compare("query relay vs openssl open", &id("relay_peel"), &base);
    run.compare("reply relay vs openssl open", &id("reply_wrap"), &base);
    run.summary("cells, times per MiB (64 cells of 16 KiB)");
}

/// This run's medians and ratios (see the module's docs).
#[path = "../../mydht-base/benches/support/ratio.rs"]
mod ratio;
