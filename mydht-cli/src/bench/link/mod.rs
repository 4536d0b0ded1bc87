//! `mydht bench link`: two nodes on loopback against raw TCP, the
//! workload of `cargo bench -p mydht --bench node` ([`workload`], which
//! that bench includes), under the chosen profile: 1 KiB
//! request/response with 1 and 64 in flight (against the raw mio echo
//! server), 16 MiB in 64 KiB messages (against the raw bulk receiver),
//! and a connection made, authenticated and answered between running
//! nodes (against a raw connect and first reply). Node and raw sides
//! alternate within each sample.

use std::net::TcpStream;
use std::time::{Duration, Instant};

// The criterion bench uses the rest of the shared workload.
#[allow(dead_code)]
pub mod workload;

use workload::raw::{
    bulk_server, connect_raw, connect_raw_once, echo_server, raw_bulk, raw_bulk_block, raw_requests,
};
use workload::{
    link_echo_conf, loopback, EchoCmd, EchoConf, EchoGlobal, EchoLocal, EchoMsg, Pair, BULK,
};

use crate::bench::BenchRow;
use crate::cli::Profile;
use crate::error::CliError;
use crate::stats::median;

/// How long one step of the workload may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Requests per sample, one in flight.
const REQUESTS_1: usize = 500;
/// Requests per sample, 64 in flight.
const REQUESTS_64: usize = 5_000;
/// Connections per sample.
const CONNECTS: u64 = 20;
/// Issue 15's goals as this table's ratios (node time / raw time): 64 in
/// flight at least 0.30 of raw TCP's throughput, bulk at least 0.35.
const GOAL_64: f64 = 1.0 / 0.30;
const GOAL_BULK: f64 = 1.0 / 0.35;

link_echo_conf!(Threaded, threaded);
link_echo_conf!(Restartable, restartable);
link_echo_conf!(SingleThread, single_thread);

/// Runs the link bench under `profile`; four rows.
pub fn run(samples: usize, profile: Profile, quiet: bool) -> Result<Vec<BenchRow>, CliError> {
    match profile {
        Profile::Threaded => run_with(samples, profile, quiet, || Threaded),
        Profile::Restartable => run_with(samples, profile, quiet, || Restartable),
        Profile::SingleThread => run_with(samples, profile, quiet, || SingleThread),
    }
}

fn node(e: mydht_base::Error) -> CliError {
    CliError::failed(format!("bench link: {}", e.message()))
}

fn io(e: std::io::Error) -> CliError {
    CliError::local(format!("bench link: raw TCP: {e}"))
}

/// The raw side's sockets.
struct Raw {
    echo: TcpStream,
    bulk: TcpStream,
    echo_address: std::net::SocketAddr,
    block: Vec<u8>,
}

fn run_with<C: EchoConf>(
    samples: usize,
    profile: Profile,
    quiet: bool,
    mk: fn() -> C,
) -> Result<Vec<BenchRow>, CliError> {
    let echo_address = echo_server().map_err(io)?;
    let mut raw = Raw {
        echo: connect_raw(echo_address).map_err(io)?,
        bulk: connect_raw(bulk_server().map_err(io)?).map_err(io)?,
        echo_address,
        block: raw_bulk_block(),
    };
    let bar = super::dht::progress(samples, "bench link", quiet);
    let pair = Pair::start(mk, TIMEOUT).map_err(node)?;
    let measured = measure(&pair, &mut raw, samples, &bar);
    bar.finish_and_clear();
    let stopped = pair.stop().map_err(node);
    let [req1, req64, bulk, connect] = measured?;
    stopped?;
    let name = profile.name();
    let per_request = |(m, b, p): Figures, window: usize, goal: Option<f64>| BenchRow {
        bench: "link",
        figure: format!("1 KiB request/response, {window} in flight ({name}), per request"),
        measured: m,
        baseline_name: "raw TCP, mio echo server".into(),
        baseline: b,
        unit: "us",
        ratio: m / b,
        paired_ratio: p,
        goal,
        meets_goal: goal.map(|g| p <= g),
        samples,
    };
    let (bm, bb, bp) = bulk;
    let (cm, cb, cp) = connect;
    Ok(vec![
        per_request(req1, 1, None),
        per_request(req64, 64, Some(GOAL_64)),
        BenchRow {
            bench: "link",
            figure: format!(
                "16 MiB in 64 KiB messages ({name}): {:.0} MB/s",
                BULK as f64 / (bm / 1e3) / 1e6
            ),
            measured: bm,
            baseline_name: "raw TCP, 1 MiB writes".into(),
            baseline: bb,
            unit: "ms",
            ratio: bm / bb,
            paired_ratio: bp,
            goal: Some(GOAL_BULK),
            meets_goal: Some(bp <= GOAL_BULK),
            samples,
        },
        BenchRow {
            bench: "link",
            figure: format!(
                "connect + authenticate + first reply, running nodes ({name}; goal < 600 us: {})",
                if cm < 600.0 { "met" } else { "NOT met" }
            ),
            measured: cm,
            baseline_name: "raw TCP connect + first reply".into(),
            baseline: cb,
            unit: "us",
            ratio: cm / cb,
            paired_ratio: cp,
            goal: None,
            meets_goal: None,
            samples,
        },
    ])
}

/// Medians of the node side, of the raw side, and of their per-sample
/// ratios.
type Figures = (f64, f64, f64);

/// Runs every figure's samples, node and raw alternately (the order
/// swapped from one sample to the next).
fn measure<C: EchoConf>(
    pair: &Pair<C>,
    raw: &mut Raw,
    samples: usize,
    bar: &indicatif::ProgressBar,
) -> Result<[Figures; 4], CliError> {
    let mut sides: [[Vec<f64>; 2]; 4] = Default::default();
    for i in 0..samples {
        for side in [i % 2, 1 - i % 2] {
            let node_side = side == 0;
            let t = [
                requests(pair, raw, node_side, REQUESTS_1, 1)?,
                requests(pair, raw, node_side, REQUESTS_64, 64)?,
                bulk(pair, raw, node_side)?,
                connects(pair, raw, node_side)?,
            ];
            for (figure, value) in t.into_iter().enumerate() {
                sides[figure][side].push(value);
            }
        }
        bar.inc(1);
    }
    Ok(sides.map(|[m, b]| {
        let paired: Vec<f64> = m.iter().zip(&b).map(|(m, b)| m / b).collect();
        (median(&m), median(&b), median(&paired))
    }))
}

/// Microseconds per request, `n` requests with `window` in flight.
fn requests<C: EchoConf>(
    pair: &Pair<C>,
    raw: &mut Raw,
    node_side: bool,
    n: usize,
    window: usize,
) -> Result<f64, CliError> {
    let t = Instant::now();
    if node_side {
        workload::node_requests(pair, n, window, TIMEOUT).map_err(node)?;
    } else {
        raw_requests(&mut raw.echo, n, window).map_err(io)?;
    }
    Ok(t.elapsed().as_secs_f64() * 1e6 / n as f64)
}

/// Milliseconds of one 16 MiB transfer.
fn bulk<C: EchoConf>(pair: &Pair<C>, raw: &mut Raw, node_side: bool) -> Result<f64, CliError> {
    let t = Instant::now();
    if node_side {
        workload::bulk_once(pair, TIMEOUT).map_err(node)?;
    } else {
        raw_bulk(&mut raw.bulk, &raw.block).map_err(io)?;
    }
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

/// Microseconds per connection.
fn connects<C: EchoConf>(pair: &Pair<C>, raw: &mut Raw, node_side: bool) -> Result<f64, CliError> {
    let took = if node_side {
        workload::connect_running(CONNECTS, pair, TIMEOUT).map_err(node)?
    } else {
        let t = Instant::now();
        for _ in 0..CONNECTS {
            connect_raw_once(raw.echo_address).map_err(io)?;
        }
        t.elapsed()
    };
    Ok(took.as_secs_f64() * 1e6 / CONNECTS as f64)
}
