//! The demo's summary: its figures, as a table or as JSON.

use std::time::Duration;

use serde::Serialize;

use super::tunnel::TunnelFigures;
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
    /// Tunnel nodes started (a network of their own).
    pub tunnel_nodes: usize,
    /// Relays of the query's tunnel.
    pub tunnel_query_hops: usize,
    /// Whether the query's reply came back, right.
    pub tunnel_query_ok: bool,
    /// Why the tunnel query failed, if it did.
    pub tunnel_query_error: Option<String>,
    /// Query to reply through the tunnel, in milliseconds.
    pub tunnel_query_ms: f64,
    /// Relays of the file's tunnel.
    pub file_hops: usize,
    /// Bytes of the file.
    pub file_bytes: u64,
    /// Whether the exit got the whole file, same SHA-256.
    pub file_ok: bool,
    /// Why the file did not arrive whole, if it did not.
    pub file_error: Option<String>,
    /// Send to the exit's answer, in milliseconds.
    pub file_ms: f64,
    /// File bytes per second through the tunnel, in MB/s.
    pub file_mb_s: f64,
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

    /// Records the tunnel steps' figures.
    pub fn set_tunnel(&mut self, f: &TunnelFigures) {
        self.tunnel_query_hops = f.query_hops;
        self.tunnel_query_ok = f.query_ok;
        self.tunnel_query_error = f.query_error.clone();
        self.tunnel_query_ms = f.query_ms;
        self.file_hops = f.file_hops;
        self.file_bytes = f.file_bytes;
        self.file_ok = f.file_ok;
        self.file_error = f.file_error.clone();
        self.file_ms = f.file_ms;
        self.file_mb_s = if f.file_ms > 0.0 {
            f.file_bytes as f64 / (f.file_ms / 1e3) / 1e6
        } else {
            0.0
        };
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
                &format!("query through {} hops", self.tunnel_query_hops),
                ok(self.tunnel_query_ok, "replied", &self.tunnel_query_error),
                &format!("{:.2} ms there and back", self.tunnel_query_ms),
            ),
            row(
                &format!(
                    "{} MiB through {} hops",
                    self.file_bytes >> 20,
                    self.file_hops
                ),
                ok(self.file_ok, "SHA-256 checked", &self.file_error),
                &format!("{:.0} ms, {:.1} MB/s", self.file_ms, self.file_mb_s),
            ),
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
            (usize::from(!self.tunnel_query_ok), "tunnel query failed"),
            (usize::from(!self.file_ok), "file did not arrive whole"),
        ];
        let why = |n: usize, what: &str| match (what, &self.tunnel_query_error, &self.file_error) {
            ("tunnel query failed", Some(e), _) | ("file did not arrive whole", _, Some(e)) => {
                format!("demo failed: {n} {what} ({e})")
            }
            _ => format!("demo failed: {n} {what}"),
        };
        match missing.iter().find(|(n, _)| *n > 0) {
            Some((n, what)) => Err(CliError::failed(why(*n, what))),
            None => Ok(()),
        }
    }
}

fn ok(good: bool, what: &str, why: &Option<String>) -> String {
    match (good, why) {
        (true, _) => what.to_string(),
        (false, Some(why)) => format!("FAILED: {why}"),
        (false, None) => "FAILED".to_string(),
    }
}

fn row(step: &str, result: String, detail: &str) -> Vec<String> {
    vec![step.to_string(), result, detail.to_string()]
}
