//! Ratios from this run's own samples.
//!
//! A bench times its routines through a [`Run`], which records every
//! sample's time per iteration in memory (criterion's `iter_custom`), and
//! registers the measured/baseline pairs to compare with [`Run::compare`].
//! At the end, [`Run::summary`] prints one table: for each pair, the
//! measured median, the baseline median, their ratio, and, where the two
//! ran alternately within each sample ([`Run::paired`]), the median of the
//! per-sample ratios (both sides of a sample saw the same machine load, so
//! on a shared machine this is the figure to read). Nothing is read from
//! files: a benchmark left out by a filter has no samples, and a ratio that
//! needs it is printed as unavailable.
//!
//! One file for the workspace: the benches of `mydht-base` include it, and
//! those of `tunnel` and `mydht` include this same file by its path (a
//! bench is built in the workspace, never from a packaged crate).

// Each bench uses the part of it that it needs.
#![allow(dead_code)]

use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Bencher;

/// The samples of one run, by benchmark id, and the pairs to report.
pub struct Run {
    samples: usize,
    /// Per benchmark id, each call's time per iteration (ns), warm-up
    /// calls first.
    times: RefCell<Vec<(String, Vec<f64>)>>,
    pairs: RefCell<Vec<Pair>>,
    rows: RefCell<Vec<Row>>,
}

/// The alternated calls of a measured benchmark and its baseline.
struct Pair {
    /// The (measured, baseline) ids.
    ids: (String, String),
    /// Each call's (measured, baseline) time per iteration (ns).
    times: Vec<(f64, f64)>,
}

struct Row {
    figure: String,
    measured: String,
    baseline: String,
}

impl Run {
    /// A run whose groups take `samples` samples (set each group's
    /// `sample_size` to [`Run::samples`]: the medians are over the last
    /// `samples` calls of each benchmark, the earlier ones being
    /// criterion's warm-up).
    pub fn new(samples: usize) -> Self {
        Run {
            samples,
            times: RefCell::default(),
            pairs: RefCell::default(),
            rows: RefCell::default(),
        }
    }

    /// Samples per benchmark.
    pub fn samples(&self) -> usize {
        self.samples
    }

    fn record(&self, id: &str, elapsed: Duration, iters: u64) {
        let per = elapsed.as_nanos() as f64 / iters.max(1) as f64;
        let mut times = self.times.borrow_mut();
        match times.iter_mut().find(|(k, _)| k == id) {
            Some((_, v)) => v.push(per),
            None => times.push((id.to_string(), vec![per])),
        }
    }

    /// Times `routine` as criterion's `Bencher::iter` does, recording each
    /// sample under `id` (the group and function, `"group/function"`).
    pub fn iter<O>(&self, b: &mut Bencher, id: &str, mut routine: impl FnMut() -> O) {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(routine());
            }
            let elapsed = start.elapsed();
            self.record(id, elapsed, iters);
            elapsed
        })
    }

    /// `routine(iters)` times `iters` iterations itself (as for
    /// `Bencher::iter_custom`); each sample is recorded under `id`.
    pub fn custom(&self, b: &mut Bencher, id: &str, mut routine: impl FnMut(u64) -> Duration) {
        b.iter_custom(|iters| {
            let elapsed = routine(iters);
            self.record(id, elapsed, iters);
            elapsed
        })
    }

    /// Times `measured` for criterion, and `baseline` alongside, one call
    /// of each per iteration: a sample's two times saw the same load. The
    /// order alternates from one iteration to the next, so neither side
    /// always runs in what the other leaves behind (threads still winding
    /// down, caches). Recorded under `id` (measured) and as the pair (`id`,
    /// `base`).
    pub fn paired(
        &self,
        b: &mut Bencher,
        (id, base): (&str, &str),
        mut measured: impl FnMut(),
        mut baseline: impl FnMut(),
    ) {
        let time = |f: &mut dyn FnMut()| {
            let t = Instant::now();
            f();
            t.elapsed()
        };
        let mut flip = false;
        self.paired_inner(b, (id, base), |iters| {
            let (mut m, mut bl) = (Duration::ZERO, Duration::ZERO);
            for _ in 0..iters {
                flip = !flip;
                if flip {
                    m += time(&mut measured);
                    bl += time(&mut baseline);
                } else {
                    bl += time(&mut baseline);
                    m += time(&mut measured);
                }
            }
            (m, bl)
        })
    }

    /// `measured(iters)` and `baseline(iters)` each time `iters` iterations
    /// themselves (as for `Bencher::iter_custom`); each sample runs both,
    /// in an order that alternates from one sample to the next. Criterion
    /// is given the measured time.
    pub fn paired_custom(
        &self,
        b: &mut Bencher,
        (id, base): (&str, &str),
        mut measured: impl FnMut(u64) -> Duration,
        mut baseline: impl FnMut(u64) -> Duration,
    ) {
        let mut flip = false;
        self.paired_inner(b, (id, base), |iters| {
            flip = !flip;
            if flip {
                let m = measured(iters);
                (m, baseline(iters))
            } else {
                let bl = baseline(iters);
                (measured(iters), bl)
            }
        })
    }

    fn paired_inner(
        &self,
        b: &mut Bencher,
        (id, base): (&str, &str),
        mut routine: impl FnMut(u64) -> (Duration, Duration),
    ) {
        b.iter_custom(|iters| {
            let (m, bl) = routine(iters);
            self.record(id, m, iters);
            let n = iters.max(1) as f64;
            let pair = (m.as_nanos() as f64 / n, bl.as_nanos() as f64 / n);
            let mut pairs = self.pairs.borrow_mut();
            match pairs.iter_mut().find(|p| p.ids.0 == id && p.ids.1 == base) {
                Some(p) => p.times.push(pair),
                None => pairs.push(Pair {
                    ids: (id.to_string(), base.to_string()),
                    times: vec![pair],
                }),
            }
            m
        })
    }

    /// Reports `measured` against `baseline` (benchmark ids) in the summary,
    /// as `figure`.
    pub fn compare(&self, figure: &str, measured: &str, baseline: &str) {
        self.rows.borrow_mut().push(Row {
            figure: figure.to_string(),
            measured: measured.to_string(),
            baseline: baseline.to_string(),
        });
    }

    /// The median time per iteration of `id` in this run (ns), over its
    /// measured samples; `None` if it did not run.
    pub fn median(&self, id: &str) -> Option<f64> {
        let times = self.times.borrow();
        let (_, v) = times.iter().find(|(k, _)| k == id)?;
        median(v[v.len().saturating_sub(self.samples)..].to_vec())
    }

    /// The median of the per-sample ratios measured / baseline of the pair
    /// (`id`, `base`), and how many samples; `None` if it did not run.
    pub fn paired_ratio(&self, id: &str, base: &str) -> Option<(f64, usize)> {
        let pairs = self.pairs.borrow();
        let v = &pairs
            .iter()
            .find(|p| p.ids.0 == id && p.ids.1 == base)?
            .times;
        let ratios: Vec<f64> = v[v.len().saturating_sub(self.samples)..]
            .iter()
            .filter(|(_, b)| *b > 0.0)
            .map(|(m, b)| m / b)
            .collect();
        let n = ratios.len();
        Some((median(ratios)?, n))
    }

    /// Prints the table of the pairs registered with [`Run::compare`]
    /// whose measured side ran (markdown): the medians of this run, the ratio of the medians
    /// (measured / baseline time, and its inverse, the throughput ratio),
    /// and the median of the paired per-sample ratios where the pair ran
    /// alternately.
    pub fn summary(&self, title: &str) {
        let rows = self.rows.borrow();
        // A figure whose measured side did not run has nothing to show.
        let rows: Vec<&Row> = rows
            .iter()
            .filter(|r| self.median(&r.measured).is_some())
            .collect();
        if rows.is_empty() {
            return;
        }
        println!(
            "\n{title}: medians of this run (of the last {} samples of each benchmark)\n",
            self.samples
        );
        println!(
            "| figure | measured | median | baseline | median | time ratio m/b (b/m) | \
             paired: median of per-sample m/b (b/m) |"
        );
        println!("|---|---|---|---|---|---|---|");
        for r in &rows {
            let (m, b) = (self.median(&r.measured), self.median(&r.baseline));
            let ratio = match (m, b) {
                (Some(m), Some(b)) => format!("{:.3} ({:.3})", m / b, b / m),
                _ => "unavailable".to_string(),
            };
            let paired = match self.paired_ratio(&r.measured, &r.baseline) {
                Some((p, n)) => format!("{p:.3} ({:.3}), n = {n}", 1.0 / p),
                None => "—".to_string(),
            };
            println!(
                "| {} | `{}` | {} | `{}` | {} | {ratio} | {paired} |",
                r.figure,
                r.measured,
                show(m),
                r.baseline,
                show(b),
            );
        }
        let mut missing: Vec<&str> = Vec::new();
        for r in &rows {
            if self.median(&r.baseline).is_none() && !missing.contains(&r.baseline.as_str()) {
                missing.push(&r.baseline);
            }
        }
        if !missing.is_empty() {
            println!(
                "\nbaselines not run (left out by the filter): {}; the ratios of medians \
                 that need them are unavailable",
                missing.join(", ")
            );
        }
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// A time per iteration in ns, in a readable unit; "not run" if absent.
fn show(ns: Option<f64>) -> String {
    match ns {
        None => "not run".to_string(),
        Some(ns) if ns < 1e3 => format!("{ns:.1} ns"),
        Some(ns) if ns < 1e6 => format!("{:.2} µs", ns / 1e3),
        Some(ns) if ns < 1e9 => format!("{:.3} ms", ns / 1e6),
        Some(ns) => format!("{:.3} s", ns / 1e9),
    }
}
