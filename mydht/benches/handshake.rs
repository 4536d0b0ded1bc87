//! The complete three-message authentication in memory, both sides, against
//! its physical limit: the public-key operations it cannot avoid (per side
//! one X25519 key generation, one X25519 derivation, one Ed25519 signature,
//! one Ed25519 verification), done directly with openssl in the same run.
//! Prints this run's medians, their ratio, and the median of paired
//! per-sample ratios, at the end.
//!
//! `cargo bench -p mydht --bench handshake -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use mydht::{ChallengeCache, Handshake, Identity, LocalPeer};
use openssl::pkey::{Id, PKey};
use openssl::pkey_ctx::PkeyCtx;
use openssl::sign::{Signer, Verifier};

/// This run's medians and ratios (see the module's docs).
#[path = "../../mydht-base/benches/support/ratio.rs"]
mod ratio;

const GROUP: &str = "handshake";
const SAMPLES: usize = 30;
const MEASURED: &str = "handshake/three_messages";
const BASELINE: &str = "handshake/public_key_ops_sum";

fn handshake(c: &mut Criterion, run: &ratio::Run) {
    let peer = |a: &str| Arc::new(LocalPeer::new(Identity::generate().unwrap(), a.into()).unwrap());
    let (alice, bob) = (peer("alice:1"), peer("bob:2"));
    let timeout = Duration::from_secs(10);
    let mut seen = ChallengeCache::new(1024, timeout);

    // The baseline's long-term keys, as the handshake's.
    let (id_a, id_b) = (
        PKey::generate_ed25519().unwrap(),
        PKey::generate_ed25519().unwrap(),
    );
    let pub_a =
        PKey::public_key_from_raw_bytes(&id_a.raw_public_key().unwrap(), Id::ED25519).unwrap();
    let pub_b =
        PKey::public_key_from_raw_bytes(&id_b.raw_public_key().unwrap(), Id::ED25519).unwrap();
    let transcript = [7u8; 64];

    let mut one_handshake = || {
        let now = Instant::now();
        let (mut i, ping) = Handshake::initiate(alice.clone(), None, timeout, now).unwrap();
        let mut r = Handshake::respond(bob.clone(), timeout, now);
        let pong = r.on_ping(&ping, &mut seen, now).unwrap();
        let (fin, at_alice) = i.on_pong(&pong, now).unwrap();
        let at_bob = r.on_final(&fin, now).unwrap();
        black_box((at_alice, at_bob));
    };
    let public_key_ops = || {
        let (ea, eb) = (
            PKey::generate_x25519().unwrap(),
            PKey::generate_x25519().unwrap(),
        );
        let mut secrets = [[0u8; 32]; 2];
        for (mine, theirs, out) in [(&ea, &eb, 0), (&eb, &ea, 1)] {
            let peer =
                PKey::public_key_from_raw_bytes(&theirs.raw_public_key().unwrap(), Id::X25519)
                    .unwrap();
            let mut ctx = PkeyCtx::new(mine).unwrap();
            ctx.derive_init().unwrap();
            ctx.derive_set_peer(&peer).unwrap();
            ctx.derive(Some(&mut secrets[out])).unwrap();
        }
        let mut sigs = [[0u8; 64]; 2];
        for (key, out) in [(&id_b, 0), (&id_a, 1)] {
            Signer::new_without_digest(key)
                .unwrap()
                .sign_oneshot(&mut sigs[out], &transcript)
                .unwrap();
        }
        for (key, sig) in [(&pub_b, &sigs[0]), (&pub_a, &sigs[1])] {
            let ok = Verifier::new_without_digest(key)
                .unwrap()
                .verify_oneshot(sig, &transcript)
                .unwrap();
            assert!(ok);
        }
        black_box((secrets, sigs));
    };

    let mut group = c.benchmark_group(GROUP);
    group.sample_size(run.samples());
    group.bench_function("three_messages", |b| {
        run.paired(b, (MEASURED, BASELINE), &mut one_handshake, public_key_ops)
    });
    group.bench_function("public_key_ops_sum", |b| {
        run.iter(b, BASELINE, public_key_ops)
    });
    group.finish();
}

fn main() {
    let run = ratio::Run::new(SAMPLES);
    let mut c = Criterion::default().configure_from_args();
    handshake(&mut c, &run);
    c.final_summary();
    run.compare(
        "three-message handshake vs its public-key operations",
        MEASURED,
        BASELINE,
    );
    run.summary("handshake, times per handshake (both sides)");
}
