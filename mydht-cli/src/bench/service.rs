//! `mydht bench service`: one million commands through `ThreadPark` +
//! `MpscChannel` against a raw std channel, alternately in each sample.

use std::time::Instant;

use mydht_base::workload::{expected_sum, raw_mpsc, thread_park_mpsc};

use crate::bench::BenchRow;
use crate::error::CliError;
use crate::stats::median;

/// Commands per run (as the criterion bench).
const COMMANDS: u64 = 1_000_000;
/// Channel capacity (as the criterion bench).
const CAPACITY: usize = 1024;
/// Issue 15's goal: within 1.3 times the raw channel.
const GOAL: f64 = 1.3;

/// Runs `samples` alternated pairs; one row.
pub fn run(samples: usize, quiet: bool) -> Result<Vec<BenchRow>, CliError> {
    let bar = super::dht::progress(samples, "bench service", quiet);
    let expected = expected_sum(COMMANDS);
    let fail = |e: mydht_base::Error| CliError::failed(format!("bench service: {}", e.message()));
    let (mut measured, mut baseline, mut paired) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..samples {
        // The order alternates from one sample to the next.
        let mut times = [0.0; 2];
        for side in [i % 2, 1 - i % 2] {
            let t = Instant::now();
            let sum = if side == 0 {
                thread_park_mpsc(COMMANDS, CAPACITY).map_err(fail)?
            } else {
                raw_mpsc(COMMANDS, CAPACITY).map_err(fail)?
            };
            times[side] = t.elapsed().as_secs_f64() * 1e9 / COMMANDS as f64;
            if sum != expected {
                return Err(CliError::failed("bench service: a command was lost"));
            }
        }
        measured.push(times[0]);
        baseline.push(times[1]);
        paired.push(times[0] / times[1]);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let (m, b, p) = (median(&measured), median(&baseline), median(&paired));
    Ok(vec![BenchRow {
        bench: "service",
        figure: "ThreadPark + MpscChannel, per command (1M commands)".into(),
        measured: m,
        baseline_name: "std sync_channel".into(),
        baseline: b,
        unit: "ns",
        ratio: m / b,
        paired_ratio: p,
        goal: Some(GOAL),
        meets_goal: Some(p <= GOAL),
        samples,
    }])
}
