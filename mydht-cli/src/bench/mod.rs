//! `mydht bench`: benchmarks run with their baselines in the same run,
//! printed as a table of figure, baseline, ratio and goal (or as JSON).
//!
//! - `service`: the service dispatch workload of `mydht-base`
//!   ([`mydht_base::workload`], the one its criterion bench runs);
//! - `link`: two nodes on loopback against raw TCP (request/response,
//!   bulk, connect), the workload `mydht`'s criterion bench includes
//!   (`link::workload`);
//! - `dht`: lookups through a local network of DHT nodes against a raw
//!   TCP round trip on the same loopback;
//! - `tunnel`: a file through a tunnel of three relays against the same
//!   bytes over one raw TCP connection.

mod dht;
mod link;
mod service;
mod tunnel;

use serde::Serialize;

use crate::cli::{BenchArgs, BenchWhich};
use crate::error::CliError;
use crate::table;

/// One line of the table: a measured figure against its baseline.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// Which benchmark.
    pub bench: &'static str,
    /// What is measured.
    pub figure: String,
    /// The measured median, in `unit`.
    pub measured: f64,
    /// What the baseline is.
    pub baseline_name: String,
    /// The baseline's median, in `unit`.
    pub baseline: f64,
    /// Unit of both medians.
    pub unit: &'static str,
    /// Ratio of the medians (measured / baseline: lower is better).
    pub ratio: f64,
    /// Median of the per-sample ratios (both sides of a sample ran one
    /// after the other, under the same load): the figure to read.
    pub paired_ratio: f64,
    /// The goal on the paired ratio, if the project set one.
    pub goal: Option<f64>,
    /// Whether the paired ratio meets the goal.
    pub meets_goal: Option<bool>,
    /// Samples per side.
    pub samples: usize,
}

impl BenchRow {
    fn cells(&self) -> Vec<String> {
        let goal = match (self.goal, self.meets_goal) {
            (Some(g), Some(true)) => format!("<= {g:.2} met"),
            (Some(g), _) => format!("<= {g:.2} NOT met"),
            _ => "-".into(),
        };
        vec![
            format!("{}: {}", self.bench, self.figure),
            format!("{:.3} {}", self.measured, self.unit),
            format!("{}: {:.3} {}", self.baseline_name, self.baseline, self.unit),
            format!("{:.2}", self.ratio),
            format!("{:.2}", self.paired_ratio),
            goal,
        ]
    }
}

/// Runs the benchmarks `args` names and prints their table.
pub fn run(args: BenchArgs) -> Result<(), CliError> {
    let samples = args.samples as usize;
    let mut rows = Vec::new();
    if matches!(args.which, BenchWhich::Service | BenchWhich::All) {
        rows.extend(service::run(samples, args.json)?);
    }
    if matches!(args.which, BenchWhich::Link | BenchWhich::All) {
        rows.extend(link::run(samples, args.profile, args.json)?);
    }
    if matches!(args.which, BenchWhich::Dht | BenchWhich::All) {
        rows.extend(dht::run(samples, args.profile, args.json)?);
    }
    if matches!(args.which, BenchWhich::Tunnel | BenchWhich::All) {
        rows.extend(tunnel::run(samples, args.profile, args.json)?);
    }
    if args.json {
        let text = serde_json::to_string_pretty(&rows)
            .map_err(|e| CliError::failed(format!("cannot write the table: {e}")))?;
        println!("{text}");
    } else {
        let cells: Vec<_> = rows.iter().map(BenchRow::cells).collect();
        table::print(
            &[
                "figure",
                "measured (median)",
                "baseline (median)",
                "ratio",
                "paired",
                "goal",
            ],
            &cells,
        );
    }
    Ok(())
}
