//! The signature check of a value: [`SignedValue::verify`] (ed25519-dalek)
//! beside the same check by openssl (what it used before), on a value of
//! 256 bytes as the live benchmark puts. Each batch checks a fresh copy of
//! the value (a value remembers that it verified) `N` times with one, then
//! `N` times with the other; printed: the median time of a check for each,
//! and the median of the batches' ratios (dalek / openssl).
//!
//! ```sh
//! cargo bench -p mydht-kvstore --bench verify            # 11 batches of 1,000
//! cargo bench -p mydht-kvstore --bench verify -- 21 2000 # batches, checks per batch
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use mydht::Identity;
use mydht_kvstore::{Key, SignedValue, ValueLimits};
use openssl::pkey::{Id, PKey};
use openssl::sign::Verifier;

/// The check as it was done with openssl: the key parsed, then verified.
fn verify_openssl(v: &SignedValue) -> bool {
    let Ok(key) = PKey::public_key_from_raw_bytes(v.publisher_key(), Id::ED25519) else {
        return false;
    };
    Verifier::new_without_digest(&key)
        .and_then(|mut verifier| verifier.verify_oneshot(&v.signature(), &v.signed_message()))
        .unwrap_or(false)
}

/// Microseconds per check of `check` over `n` fresh copies of `v`.
fn time(n: usize, v: &SignedValue, check: impl Fn(&SignedValue) -> bool) -> f64 {
    let copies: Vec<SignedValue> = (0..n)
        .map(|_| SignedValue::from_parts(v.to_parts()))
        .collect();
    let start = Instant::now();
    for c in &copies {
        assert!(check(black_box(c)), "a good value did not verify");
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let batches = args.first().copied().unwrap_or(11).max(1);
    let n = args.get(1).copied().unwrap_or(1000).max(1);
    let now = 1_700_000_000_000;
    let identity = Identity::from_seed([7; 32]).expect("an identity");
    let value = SignedValue::sign(
        &identity,
        Key::hash_of(b"bench"),
        vec![0x5a; 256],
        Duration::from_secs(3600),
        now,
    )
    .expect("a signed value");
    let limits = ValueLimits::default();
    let dalek = |v: &SignedValue| v.verify(now, &limits).is_ok();
    // Warm both up.
    time(100, &value, verify_openssl);
    time(100, &value, dalek);
    let (mut ossl, mut ours, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..batches {
        let a = time(n, &value, verify_openssl);
        let b = time(n, &value, dalek);
        ossl.push(a);
        ours.push(b);
        ratios.push(b / a);
    }
    println!(
        "value of 256 B, {batches} batches of {n} checks each: openssl {:.1} us, \
         SignedValue::verify (ed25519-dalek) {:.1} us a check (medians); paired ratio {:.3}",
        median(ossl),
        median(ours),
        median(ratios)
    );
}
