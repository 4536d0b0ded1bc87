//! `mydht demo`: a local network in this process on loopback, each step
//! shown with a progress bar, then a summary: nodes up and authenticated,
//! values stored and found through the DHT (hops, latency), a query
//! through a tunnel of many hops and its reply, a file streamed through a
//! tunnel of three hops and checked by its hash.

pub mod network;
mod report;
pub mod tunnel;

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mydht::Identity;
use mydht_base::Peer;
use mydht_kvstore::kademlia::SplitMix64;
use mydht_kvstore::Key;
use slog::Level;

use crate::cli::{DemoArgs, Profile};
use crate::conf::{ProfileConf, RestartableNode, Running, SingleThreadNode, ThreadedNode};
use crate::error::CliError;
use crate::logging;
use crate::stats::percentile;

pub use report::{DemoReport, Latency};

/// Runs the demo under the profile it names.
pub fn run(args: DemoArgs, verbose: u8) -> Result<(), CliError> {
    if usize::from(args.hops) + 2 > usize::from(args.nodes) {
        return Err(CliError::usage(format!(
            "--hops {} needs at least {} nodes (--nodes)",
            args.hops,
            args.hops + 2
        )));
    }
    let report = match args.profile {
        Profile::Threaded => run_with::<ThreadedNode, tunnel::Threaded>(&args, verbose)?,
        Profile::Restartable => run_with::<RestartableNode, tunnel::Restartable>(&args, verbose)?,
        Profile::SingleThread => {
            run_with::<SingleThreadNode, tunnel::SingleThread>(&args, verbose)?
        }
    };
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::failed(format!("cannot write the summary: {e}")))?;
        println!("{text}");
    } else {
        report.print();
    }
    report.verdict()
}

/// Progress bars on standard error, none with `--json`.
struct Steps {
    hidden: bool,
}

impl Steps {
    fn bar(&self, len: usize, what: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(len as u64), self.target());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg:<28} [{bar:30}] {pos}/{len} {elapsed}")
                .expect("a fixed template")
                .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        bar
    }

    fn spinner(&self, what: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(None, self.target());
        bar.set_message(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }

    fn target(&self) -> ProgressDrawTarget {
        if self.hidden {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        }
    }
}

fn run_with<C, T>(args: &DemoArgs, verbose: u8) -> Result<DemoReport, CliError>
where
    C: ProfileConf,
    T: tunnel::TunnelProfile,
{
    let started = Instant::now();
    let steps = Steps { hidden: args.json };
    let log = logging::terminal(Level::Error, verbose);
    let n = usize::from(args.nodes);
    let mut report = DemoReport::new(args.profile.name(), n, args.values as usize);

    let bar = steps.spinner("making identities");
    let identities = (0..n)
        .map(|_| Identity::generate())
        .collect::<mydht_base::Result<Vec<_>>>()
        .map_err(|e| CliError::node("cannot make an identity", &e))?;
    bar.finish_and_clear();
    let ids: Vec<_> = identities.iter().map(|i| *i.id()).collect();
    let links = network::links(&ids);
    report.links = links.len();

    let bar = steps.bar(n, "starting nodes");
    let mut nodes: Vec<Running<C>> = Vec::with_capacity(n);
    for identity in identities {
        nodes.push(network::start::<C>(identity, &log)?);
        report.nodes_up += 1;
        bar.inc(1);
    }
    bar.finish();

    let result = exercise(&steps, &nodes, &links, args, &mut report);
    let bar = steps.spinner("stopping nodes");
    for node in nodes {
        if node.stop().is_ok() {
            report.nodes_stopped += 1;
        }
    }
    bar.finish_and_clear();
    result?;
    tunnels::<T>(&steps, args, &mut report)?;
    report.elapsed_s = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The tunnel steps, on tunnel nodes of their own.
fn tunnels<T>(steps: &Steps, args: &DemoArgs, report: &mut DemoReport) -> Result<(), CliError>
where
    T: tunnel::TunnelProfile,
{
    let n = usize::from(args.nodes);
    let bar = steps.spinner("starting tunnel nodes");
    let nodes = tunnel::start::<T>(n)?;
    bar.finish_and_clear();
    report.tunnel_nodes = nodes.len();
    let hops = usize::from(args.hops);
    let file_hops = 3.min(n - 2);
    let len = u64::from(args.size) << 20;
    let what = format!(
        "query through {hops} hops, {} MiB through {file_hops}",
        args.size
    );
    let bar = steps.spinner(&what);
    let figures = tunnel::exercise(&nodes, hops, file_hops, len);
    bar.finish_and_clear();
    tunnel::stop(nodes);
    report.set_tunnel(&figures?);
    Ok(())
}

/// Links the nodes, then stores and finds the values.
fn exercise<C: ProfileConf>(
    steps: &Steps,
    nodes: &[Running<C>],
    links: &[(usize, usize)],
    args: &DemoArgs,
    report: &mut DemoReport,
) -> Result<(), CliError> {
    let t = Instant::now();
    let bar = steps.bar(links.len(), "connecting, authenticating");
    for &(a, b) in links {
        network::link(&nodes[a], &nodes[b])?;
        report.links_up += 1;
        bar.inc(1);
    }
    for (i, node) in nodes.iter().enumerate() {
        let degree = links.iter().filter(|(a, b)| *a == i || *b == i).count();
        if network::linked(node, degree) {
            report.authenticated += 1;
        }
    }
    report.link_s = t.elapsed().as_secs_f64();
    bar.finish();

    let mut rng = SplitMix64::new(0x006d_7964_6874);
    let n = nodes.len();
    let values = args.values as usize;
    let bar = steps.bar(values, "storing values");
    let mut puts = Vec::with_capacity(values);
    let mut put_times = Vec::with_capacity(values);
    for v in 0..values {
        let from = (rng.next_u64() % n as u64) as usize;
        let key = Key::hash_of(format!("demo value {v}").as_bytes());
        let t = Instant::now();
        if nodes[from]
            .dht
            .put(key, value_of(v), network::QUERY_TIMEOUT)
            .is_ok()
        {
            put_times.push(t.elapsed());
            report.stored += 1;
        }
        puts.push((from, key));
        bar.inc(1);
    }
    bar.finish();

    let finds_before = finds(nodes);
    let bar = steps.bar(values, "finding them from other nodes");
    let mut get_times = Vec::with_capacity(values);
    for (v, (from, key)) in puts.iter().enumerate() {
        let by = (from + 1 + (rng.next_u64() % (n as u64 - 1)) as usize) % n;
        let t = Instant::now();
        if let Ok(found) = nodes[by].dht.get(*key, network::QUERY_TIMEOUT) {
            let elapsed = t.elapsed();
            let publisher = *nodes[*from].dht.local_peer().get_id();
            if found.value() == value_of(v) && found.publisher() == publisher {
                get_times.push(elapsed);
                report.found += 1;
            }
        }
        bar.inc(1);
    }
    bar.finish();
    let hops = finds(nodes).saturating_sub(finds_before);
    report.mean_hops = hops as f64 / values as f64;
    report.put_latency_ms = Latency::of(&put_times, percentile);
    report.get_latency_ms = Latency::of(&get_times, percentile);
    Ok(())
}

/// The value stored under the `v`-th key.
fn value_of(v: usize) -> Vec<u8> {
    format!("value {v} of the MyDHT demo").into_bytes()
}

/// Find requests all nodes received so far: one per hop of a lookup.
fn finds<C: ProfileConf>(nodes: &[Running<C>]) -> u64 {
    nodes
        .iter()
        .filter_map(|n| n.dht.stats(network::STEP_TIMEOUT).ok())
        .map(|s| s.finds_received)
        .sum()
}
