//! The complete three-message authentication in memory, both sides, against
//! its physical limit: the public-key operations it cannot avoid (per side
//! one X25519 key generation, one X25519 derivation, one Ed25519 signature,
//! one Ed25519 verification), done directly with openssl in the same run.
//! Prints the ratio of the medians, and the median of paired per-sample
//! ratios, at the end.
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

/// How the ratio is reported: the criterion medians of both benches, and,
/// because the shared machine's load changes from one bench to the next,
/// the median of per-sample ratios where each sample ran the measured and
/// the baseline work alternately (so both saw the same load).
mod ratio {
    use std::cell::RefCell;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use criterion::Bencher;

    /// Per-sample (measured, baseline) times.
    #[derive(Default)]
    pub struct Paired(RefCell<Vec<(Duration, Duration)>>);

    impl Paired {
        /// Times `measured` for criterion, running `baseline` after each
        /// call and timing it alongside.
        pub fn iter(
            &self,
            b: &mut Bencher,
            mut measured: impl FnMut(),
            mut baseline: impl FnMut(),
        ) {
            b.iter_custom(|iters| {
                let (mut m, mut base) = (Duration::ZERO, Duration::ZERO);
                for _ in 0..iters {
                    let t0 = Instant::now();
                    measured();
                    let t1 = Instant::now();
                    baseline();
                    base += t1.elapsed();
                    m += t1 - t0;
                }
                self.0.borrow_mut().push((m, base));
                m
            })
        }

        fn median_ratio(&self) -> Option<(f64, usize)> {
            let mut r: Vec<f64> = self
                .0
                .borrow()
                .iter()
                .filter(|(_, b)| !b.is_zero())
                .map(|(m, b)| m.as_secs_f64() / b.as_secs_f64())
                .collect();
            r.sort_by(f64::total_cmp);
            Some((*r.get(r.len() / 2)?, r.len()))
        }
    }

    /// Prints the medians of `measured` and `baseline` in `group`, their
    /// ratio, and the paired ratio.
    pub fn report(group: &str, measured: &str, baseline: &str, paired: &Paired) {
        if let (Some(m), Some(b)) = (median_ns(group, measured), median_ns(group, baseline)) {
            println!(
                "{group}: medians {measured} {:.2} µs, {baseline} {:.2} µs: time ratio {:.3}",
                m / 1e3,
                b / 1e3,
                m / b
            );
        }
        if let Some((r, n)) = paired.median_ratio() {
            println!(
                "{group}: {measured} / {baseline}, median of {n} paired samples: {r:.3} \
                 (throughput {:.1}% of baseline)",
                100.0 / r
            );
        }
    }

    /// Median of one benchmark in ns, from `<target>/criterion/<group>/<id>/new/estimates.json`.
    fn median_ns(group: &str, id: &str) -> Option<f64> {
        let path = criterion_dir()?
            .join(group)
            .join(id)
            .join("new/estimates.json");
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        json["median"]["point_estimate"].as_f64()
    }

    fn criterion_dir() -> Option<PathBuf> {
        if let Some(home) = std::env::var_os("CRITERION_HOME") {
            return Some(PathBuf::from(home));
        }
        if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
            return Some(PathBuf::from(target).join("criterion"));
        }
        // The bench runs from <target>/<profile>/deps/.
        let exe = std::env::current_exe().ok()?;
        Some(exe.ancestors().nth(3)?.join("criterion"))
    }
}

const GROUP: &str = "handshake";

fn handshake(c: &mut Criterion, paired: &ratio::Paired) {
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
    group.bench_function("three_messages", |b| {
        paired.iter(b, &mut one_handshake, public_key_ops)
    });
    group.bench_function("public_key_ops_sum", |b| b.iter(public_key_ops));
    group.finish();
}

fn main() {
    let paired = ratio::Paired::default();
    let mut c = Criterion::default().configure_from_args();
    handshake(&mut c, &paired);
    c.final_summary();
    ratio::report(GROUP, "three_messages", "public_key_ops_sum", &paired);
}
