//! Per-hop header processing (decipher own layer, prepare next header) beside
//! the cost of the one X25519 derivation it contains, measured in one run.
//!
//! `cargo bench -p tunnel --bench header -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tunnel::config::TunnelConfig;
use tunnel::crypto::X25519Secret;
use tunnel::header::{build_header, HeaderLayout, HeaderProcessor, RouteHop};

fn per_hop(c: &mut Criterion) {
    let hop = X25519Secret::generate().unwrap();
    let eph = X25519Secret::generate().unwrap();
    let mut group = c.benchmark_group("header");
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

criterion_group!(benches, per_hop);
criterion_main!(benches);
