//! The demo's summary: its figures, as a table or as JSON.

use std::time::Duration;

use serde::Serialize;

use crate::error::CliError;
use crate::stats::ms;
use crate::table;

/// Percentiles of a latency, in milliseconds.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Latency {
    /// The percentiles of `samples`, computed by `percentile`.
    pub fn of(samples: &[Duration], percentile: fn(&[Duration], f64) -> Duration) -> Self {
        Latency {
            p50: ms(percentile(samples, 50.0)),
            p95: ms(percentile(samples, 95.0)),
            p99: ms(percentile(samples, 99.0)),
        }
    }
}

/// What the demo did and measured.
#[derive(Debug, Default, Serialize)]
pub struct DemoReport {
    /// The nodes' profile.
    pub profile: String,
    /// Nodes asked for.
    pub nodes: usize,
    /// Nodes started.
    pub nodes_up: usize,
    /// Nodes whose every link was authenticated (both sides admitted).
    pub authenticated: usize,
    /// Links of the topology.
    pub links: usize,
    /// Links connected and authenticated.
    pub links_up: usize,
    /// Seconds to connect and authenticate every link.
    pub link_s: f64,
    /// Values asked for.
    pub values: usize,
    /// Values stored through the DHT.
    pub stored: usize,
    /// Values found from another node, checked (value and publisher).
    pub found: usize,
    /// Mean nodes a lookup reached (hops).
    pub mean_hops: f64,
    /// Latency of a put, from the call to the answer.
    pub put_latency_ms: Latency,
    /// Latency of a get, from the call to the verified value.
    pub get_latency_ms: Latency,
    /// Nodes stopped cleanly at the end.
    pub nodes_stopped: usize,
    /// Seconds the whole demo took.
    pub elapsed_s: f64,
}

impl DemoReport {
    /// An empty report of a demo of `nodes` nodes and `values` values.
    pub fn new(profile: &str, nodes: usize, values: usize) -> Self {
        DemoReport {
            profile: profile.into(),
            nodes,
            values,
            ..DemoReport::default()
        }
    }

    /// Prints the summary table on standard output.
    pub fn print(&self) {
        let lat = |l: &Latency| {
            format!(
                "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
                l.p50, l.p95, l.p99
            )
        };
        let rows = vec![
            row(
                "nodes up",
                format!("{} / {}", self.nodes_up, self.nodes),
                "",
            ),
            row(
                "links authenticated",
                format!("{} / {}", self.links_up, self.links),
                &format!("in {:.2} s", self.link_s),
            ),
            row(
                "nodes with all links up",
                format!("{} / {}", self.authenticated, self.nodes),
                "",
            ),
            row(
                "values stored",
                format!("{} / {}", self.stored, self.values),
                &format!("put {}", lat(&self.put_latency_ms)),
            ),
            row(
                "values found",
                format!("{} / {}", self.found, self.values),
                &format!("get {}", lat(&self.get_latency_ms)),
            ),
            row("mean hops per lookup", format!("{:.2}", self.mean_hops), ""),
            row(
                "nodes stopped",
                format!("{} / {}", self.nodes_stopped, self.nodes_up),
                &format!("demo took {:.1} s", self.elapsed_s),
            ),
        ];
        println!(
            "MyDHT demo: {} nodes ({}) on loopback, {} values",
            self.nodes, self.profile, self.values
        );
        table::print(&["step", "result", "detail"], &rows);
    }

    /// Success when every node came up and linked, and every value was
    /// stored and found.
    pub fn verdict(&self) -> Result<(), CliError> {
        let missing = [
            (self.nodes - self.nodes_up, "nodes did not start"),
            (self.nodes - self.authenticated, "nodes did not link"),
            (self.values - self.stored, "values were not stored"),
            (self.values - self.found, "values were not found"),
        ];
        match missing.iter().find(|(n, _)| *n > 0) {
            Some((n, what)) => Err(CliError::failed(format!("demo failed: {n} {what}"))),
            None => Ok(()),
        }
    }
}

fn row(step: &str, result: String, detail: &str) -> Vec<String> {
    vec![step.to_string(), result, detail.to_string()]
}
