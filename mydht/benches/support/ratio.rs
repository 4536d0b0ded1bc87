//! How the ratio is reported: the criterion medians of both benches, and,
//! because the shared machine's load changes from one bench to the next,
//! the median of per-sample ratios where each sample ran the measured and
//! the baseline work alternately (so both saw the same load).
//!
//! Shared by the mydht benches (`#[path]`-included).

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
    pub fn iter(&self, b: &mut Bencher, mut measured: impl FnMut(), mut baseline: impl FnMut()) {
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
