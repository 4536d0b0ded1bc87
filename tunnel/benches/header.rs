//! Per-hop header processing (decipher own layer, prepare next header) beside
//! the cost of the one X25519 derivation it contains, measured in one run;
//! the medians and their ratio are printed at the end.
//!
//! `cargo bench -p tunnel --bench header -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, Criterion};
use tunnel::config::TunnelConfig;
use tunnel::crypto::{chacha20_xor, derive_hop_keys, verify_mac, X25519Secret};
use tunnel::header::{build_header, HeaderLayout, HeaderProcessor, RouteHop};

const GROUP: &str = "header";

fn per_hop(c: &mut Criterion) {
    let hop = X25519Secret::generate().unwrap();
    let eph = X25519Secret::generate().unwrap();
    let mut group = c.benchmark_group(GROUP);
    group.sample_size(30);
    group.bench_function("x25519_derive", |b| {
        b.iter(|| hop.diffie_hellman(black_box(eph.public_key())).unwrap())
    });
    for max_hops in [32usize, 128] {
        let layout = HeaderLayout::new(&TunnelConfig::with_max_hops(max_hops)).unwrap();
        let next_hop = X25519Secret::generate().unwrap();
        let route = [
            RouteHop {
                public_key: *hop.public_key(),
                address: b"first".to_vec(),
            },
            RouteHop {
                public_key: *next_hop.public_key(),
                address: b"127.0.0.1:4000".to_vec(),
            },
        ];
        let header = build_header(&layout, &route, false, b"").unwrap().bytes;
        let mut proc = HeaderProcessor::new(layout);
        let mut next = vec![0u8; layout.header_len()];
        // The hop's work without the X25519 derivation: key schedule, MAC
        // check and routing-block keystream, through the same primitives.
        let shared = [5u8; 32];
        let mut work = vec![0u8; layout.routing_len() + layout.slot_len()];
        group.bench_function(format!("symmetric_part_max{max_hops}"), |b| {
            b.iter(|| {
                let keys = derive_hop_keys(black_box(&shared), hop.public_key()).unwrap();
                let routing = &header[32..32 + layout.routing_len()];
                let ok = verify_mac(&keys.header_mac_key, routing, &[0; 16]).unwrap();
                work[..routing.len()].copy_from_slice(routing);
                chacha20_xor(&keys.header_stream_key, &[0; 12], &mut work).unwrap();
                ok
            })
        });
        group.bench_function(format!("process_hop_max{max_hops}"), |b| {
            b.iter(|| {
                proc.process(&hop, black_box(&header), &mut next)
                    .unwrap()
                    .kind
            })
        });
    }
    group.finish();
}

/// The median of a benchmark of this run, in µs, read back from the
/// estimates criterion saves under `target/criterion`.
fn median_us(bench: &str) -> Option<f64> {
    // The bench binary lives in target/<profile>/deps/.
    let target: PathBuf = std::env::current_exe().ok()?.ancestors().nth(3)?.into();
    let file = target
        .join("criterion")
        .join(GROUP)
        .join(bench)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(file).ok()?;
    let from = text.find("\"median\"")?;
    let rest = &text[from..];
    let at = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let num: String = rest[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    num.parse::<f64>().ok().map(|ns| ns / 1000.0)
}

fn report() {
    let Some(dh) = median_us("x25519_derive") else {
        return;
    };
    println!("median x25519_derive: {dh:.1} µs");
    for max in [32, 128] {
        let (Some(sym), Some(hop)) = (
            median_us(&format!("symmetric_part_max{max}")),
            median_us(&format!("process_hop_max{max}")),
        ) else {
            continue;
        };
        println!(
            "max {max} hops: process_hop {hop:.1} µs = {:.2} × x25519_derive; \
             symmetric part alone {sym:.1} µs",
            hop / dh
        );
    }
}

criterion_group!(benches, per_hop);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    report();
}
