//! Per-hop header processing (decipher own layer, prepare next header) beside
//! the cost of the one X25519 derivation it contains, measured in one run;
//! this run's medians and their ratios are printed at the end (one table;
//! `process_hop_*` is also timed alternately with the derivation inside
//! each sample, and the median of those per-sample ratios printed).
//!
//! Then a fresh X25519 key pair and its exchange with a static key (a
//! known-key dial's, or a sender's header hop without a table) by each
//! implementation at hand, against openssl's (the crate's hop keys
//! without a table): ring's ephemeral agreement, and curve25519-dalek's
//! base point and Edwards multiplication (how mydht prepares its dial
//! keys), to show whether another implementation would lower the round
//! trip's floor of public-key operations.
//!
//! `cargo bench -p mydht-onion --bench header -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::Criterion;
use curve25519_dalek::montgomery::MontgomeryPoint;
use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use ring::rand::SystemRandom;
use tunnel::config::TunnelConfig;
use tunnel::crypto::{chacha20_xor, derive_hop_keys, verify_mac, X25519Secret};
use tunnel::header::{build_header, HeaderLayout, HeaderProcessor, RouteHop};

const GROUP: &str = "header";
const SAMPLES: usize = 30;

fn id(bench: &str) -> String {
    format!("{GROUP}/{bench}")
}

fn per_hop(c: &mut Criterion, run: &ratio::Run) {
    let hop = X25519Secret::generate().unwrap();
    let eph = X25519Secret::generate().unwrap();
    let mut group = c.benchmark_group(GROUP);
    group.sample_size(run.samples());
    let derive = || hop.diffie_hellman(black_box(eph.public_key())).unwrap();
    group.bench_function("x25519_derive", |b| {
        run.iter(b, &id("x25519_derive"), derive)
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
        let sym = format!("symmetric_part_max{max_hops}");
        group.bench_function(&sym, |b| {
            run.iter(b, &id(&sym), || {
                let keys = derive_hop_keys(black_box(&shared), hop.public_key()).unwrap();
                let routing = &header[32..32 + layout.routing_len()];
                let ok = verify_mac(&keys.header_mac_key, routing, &[0; 16]).unwrap();
                work[..routing.len()].copy_from_slice(routing);
                chacha20_xor(&keys.header_stream_key, &[0; 12], &mut work).unwrap();
                ok
            })
        });
        let hop_id = format!("process_hop_max{max_hops}");
        group.bench_function(&hop_id, |b| {
            run.paired(
                b,
                (&id(&hop_id), &id("x25519_derive")),
                || {
                    black_box(
                        proc.process(&hop, black_box(&header), &mut next)
                            .unwrap()
                            .kind,
                    );
                },
                || {
                    black_box(derive());
                },
            )
        });
    }
    group.finish();
}

/// A fresh key pair and its exchange with `peer`'s static key, by
/// openssl, ring and curve25519-dalek.
fn fresh_exchanges(c: &mut Criterion, run: &ratio::Run) {
    let peer = *X25519Secret::generate().unwrap().public_key();
    let rng = SystemRandom::new();
    let mut group = c.benchmark_group(GROUP);
    group.sample_size(run.samples());
    group.bench_function("fresh_exchange_openssl", |b| {
        run.iter(b, &id("fresh_exchange_openssl"), || {
            let mine = X25519Secret::generate().unwrap();
            (
                *mine.public_key(),
                mine.diffie_hellman(black_box(&peer)).unwrap(),
            )
        })
    });
    group.bench_function("fresh_exchange_ring", |b| {
        run.iter(b, &id("fresh_exchange_ring"), || {
            let mine = EphemeralPrivateKey::generate(&X25519, &rng).unwrap();
            let public = mine.compute_public_key().unwrap();
            let peer = UnparsedPublicKey::new(&X25519, black_box(&peer));
            let shared = agree_ephemeral(mine, &peer, |s| s[0]).unwrap();
            (public.as_ref()[0], shared)
        })
    });
    // As mydht prepares its dial keys: the peer's key in Edwards form
    // (decoded once per peer), multiplied by the vectorised backend.
    let peer_point = MontgomeryPoint(peer).to_edwards(0).unwrap();
    let mut scalar = [0u8; 32];
    group.bench_function("fresh_exchange_dalek", |b| {
        run.iter(b, &id("fresh_exchange_dalek"), || {
            tunnel::crypto::random_bytes(&mut scalar).unwrap();
            let public = MontgomeryPoint::mul_base_clamped(scalar);
            let shared = black_box(peer_point).mul_clamped(scalar).to_montgomery();
            (public, shared)
        })
    });
    group.finish();
}

fn main() {
    let run = ratio::Run::new(SAMPLES);
    let mut c = Criterion::default().configure_from_args();
    per_hop(&mut c, &run);
    fresh_exchanges(&mut c, &run);
    c.final_summary();
    for other in ["ring", "dalek"] {
        run.compare(
            &format!("a fresh key pair and its exchange, {other} vs openssl"),
            &id(&format!("fresh_exchange_{other}")),
            &id("fresh_exchange_openssl"),
        );
    }
    for max in [32, 128] {
        run.compare(
            &format!("hop, max {max} hops, vs its one X25519 derivation"),
            &id(&format!("process_hop_max{max}")),
            &id("x25519_derive"),
        );
        run.compare(
            &format!("symmetric part alone, max {max} hops, vs one X25519 derivation"),
            &id(&format!("symmetric_part_max{max}")),
            &id("x25519_derive"),
        );
    }
    run.summary("header, times per hop");
}

/// This run's medians and ratios (see the module's docs).
#[path = "../../mydht-base/benches/support/ratio.rs"]
mod ratio;
