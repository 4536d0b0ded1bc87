//! Per-hop cell streaming throughput on one core, beside openssl
//! ChaCha20-Poly1305 opening the same number of bytes, in the same run; the
//! ratio of the medians is printed at the end.
//!
//! `cargo bench -p tunnel --bench cells -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::io;
use std::path::PathBuf;

use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use openssl::cipher::Cipher;
use openssl::cipher_ctx::CipherCtx;
use readwrite_comp::ExtWrite;
use tunnel::cell::{CellLayout, CellPeeler, CellProxy, CellSealer, CellWriter, ReplyCellWrapper};
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

fn per_hop(c: &mut Criterion) {
    let layout = CellLayout::new(&TunnelConfig::default()).unwrap();
    let size = layout.cell_size();
    let key = [1u8; 32];
    let query = query_stream(layout, &key);
    let raw = raw_stream(size, &key);

    let mut group = c.benchmark_group(GROUP);
    group.sample_size(20);
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
        b.iter(|| {
            for (i, cell) in raw.chunks(size).enumerate() {
                ctx.decrypt_init(None, None, Some(&nonce(i))).unwrap();
                ctx.cipher_update(&cell[16..], Some(&mut out[16..]))
                    .unwrap();
                ctx.set_tag(&cell[..16]).unwrap();
                ctx.cipher_final(&mut []).unwrap();
            }
            black_box(&out);
        })
    });

    group.bench_function("relay_peel", |b| {
        b.iter_batched(
            || CellProxy::new(CellPeeler::new(layout, &key).unwrap()),
            |mut proxy| {
                proxy.pump(&mut &query[..], &mut io::sink()).unwrap();
                proxy
            },
            BatchSize::SmallInput,
        )
    });

    group.bench_function("reply_wrap", |b| {
        b.iter_batched(
            || CellProxy::new(ReplyCellWrapper::new(layout, &key).unwrap()),
            |mut proxy| {
                proxy.pump(&mut &raw[..], &mut io::sink()).unwrap();
                proxy
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// Median time of a finished benchmark, from criterion's saved estimates.
fn median_ns(bench: &str) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/<bench exe>
    let target: PathBuf = exe.ancestors().nth(3)?.into();
    let path = target
        .join("criterion")
        .join(GROUP)
        .join(bench)
        .join("new/estimates.json");
    let json = std::fs::read_to_string(path).ok()?;
    let median = &json[json.find("\"median\"")?..];
    let value = &median[median.find("\"point_estimate\":")? + 17..];
    let end = value.find([',', '}'])?;
    value[..end].trim().parse().ok()
}

fn report_ratios() {
    let Some(base) = median_ns("openssl_chacha20poly1305_open") else {
        return;
    };
    let gbps = |ns: f64| (CELLS * TunnelConfig::default().cell_size) as f64 / ns;
    println!(
        "baseline openssl ChaCha20-Poly1305 open: {:.2} GB/s",
        gbps(base)
    );
    for bench in ["relay_peel", "reply_wrap"] {
        if let Some(t) = median_ns(bench) {
            println!(
                "{bench}: {:.2} GB/s, {:.0}% of the baseline (median ratio)",
                gbps(t),
                100.0 * base / t
            );
        }
    }
}

criterion_group!(benches, per_hop);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    report_ratios();
}
