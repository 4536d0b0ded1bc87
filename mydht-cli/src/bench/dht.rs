//! `mydht bench dht`: lookups through a local network of DHT nodes (the
//! demo's network) against a raw TCP round trip on the same loopback,
//! alternately in each sample.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget};
use mydht::Identity;
use mydht_kvstore::kademlia::SplitMix64;
use mydht_kvstore::Key;
use slog::{o, Discard, Logger};

use crate::bench::BenchRow;
use crate::cli::Profile;
use crate::conf::{ProfileConf, RestartableNode, Running, SingleThreadNode, ThreadedNode};
use crate::demo::network;
use crate::error::CliError;
use crate::stats::median;

/// Nodes of the network.
const NODES: usize = 16;
/// Lookups (and round trips) per sample.
const PER_SAMPLE: usize = 20;
/// Bytes of a raw round trip, each way.
const RTT_LEN: usize = 64;

/// A progress bar on standard error unless `quiet`.
pub fn progress(len: usize, what: &str, quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(len as u64), target);
    bar.set_message(what.to_string());
    bar
}

/// Runs the DHT bench under `profile`; one row.
pub fn run(samples: usize, profile: Profile, quiet: bool) -> Result<Vec<BenchRow>, CliError> {
    match profile {
        Profile::Threaded => run_with::<ThreadedNode>(samples, profile, quiet),
        Profile::Restartable => run_with::<RestartableNode>(samples, profile, quiet),
        Profile::SingleThread => run_with::<SingleThreadNode>(samples, profile, quiet),
    }
}

fn run_with<C: ProfileConf>(
    samples: usize,
    profile: Profile,
    quiet: bool,
) -> Result<Vec<BenchRow>, CliError> {
    let bar = progress(samples + 2, "bench dht", quiet);
    let log = Logger::root(Discard, o!());
    let identities = (0..NODES)
        .map(|_| Identity::generate())
        .collect::<mydht_base::Result<Vec<_>>>()
        .map_err(|e| CliError::node("cannot make an identity", &e))?;
    let ids: Vec<_> = identities.iter().map(|i| *i.id()).collect();
    let mut nodes: Vec<Running<C>> = Vec::with_capacity(NODES);
    for identity in identities {
        nodes.push(network::start::<C>(identity, &log)?);
    }
    let result = measure(&nodes, &ids, samples, &bar);
    for node in nodes {
        let _ = node.stop();
    }
    bar.finish_and_clear();
    let (measured, baseline, paired, hops) = result?;
    let (m, b) = (median(&measured), median(&baseline));
    Ok(vec![BenchRow {
        bench: "dht",
        figure: format!(
            "lookup through {NODES} nodes ({}), mean {hops:.2} hops",
            profile.name()
        ),
        measured: m,
        baseline_name: format!("raw TCP round trip, {RTT_LEN} B"),
        baseline: b,
        unit: "us",
        ratio: m / b,
        paired_ratio: median(&paired),
        goal: None,
        meets_goal: None,
        samples,
    }])
}

type Measured = (Vec<f64>, Vec<f64>, Vec<f64>, f64);

fn measure<C: ProfileConf>(
    nodes: &[Running<C>],
    ids: &[mydht::PeerId],
    samples: usize,
    bar: &ProgressBar,
) -> Result<Measured, CliError> {
    for &(a, b) in &network::links(ids) {
        network::link(&nodes[a], &nodes[b])?;
    }
    bar.inc(1);
    let mut rng = SplitMix64::new(0x0062_656e_6368);
    let n = nodes.len() as u64;
    let keys: Vec<Key> = (0..PER_SAMPLE)
        .map(|v| Key::hash_of(format!("bench value {v}").as_bytes()))
        .collect();
    for key in &keys {
        let from = (rng.next_u64() % n) as usize;
        nodes[from]
            .dht
            .put(*key, vec![7; 256], network::QUERY_TIMEOUT)
            .map_err(|e| CliError::dht("bench dht: put", &e))?;
    }
    bar.inc(1);
    let echo = Echo::start()?;
    let mut client = echo.connect()?;
    let (mut measured, mut baseline, mut paired) = (Vec::new(), Vec::new(), Vec::new());
    let mut finds = 0u64;
    for i in 0..samples {
        let mut times = [0.0; 2];
        for side in [i % 2, 1 - i % 2] {
            let mut elapsed = Duration::ZERO;
            if side == 0 {
                // Hops are counted outside the timed calls.
                let before = finds_received(nodes);
                for key in &keys {
                    let by = (rng.next_u64() % n) as usize;
                    let t = Instant::now();
                    nodes[by]
                        .dht
                        .get(*key, network::QUERY_TIMEOUT)
                        .map_err(|e| CliError::dht("bench dht: get", &e))?;
                    elapsed += t.elapsed();
                }
                finds += finds_received(nodes) - before;
            } else {
                let t = Instant::now();
                for _ in &keys {
                    client.round_trip()?;
                }
                elapsed = t.elapsed();
            }
            times[side] = elapsed.as_secs_f64() * 1e6 / keys.len() as f64;
        }
        measured.push(times[0]);
        baseline.push(times[1]);
        paired.push(times[0] / times[1]);
        bar.inc(1);
    }
    let hops = finds as f64 / (samples * keys.len()) as f64;
    drop(client);
    echo.stop();
    Ok((measured, baseline, paired, hops))
}

fn finds_received<C: ProfileConf>(nodes: &[Running<C>]) -> u64 {
    nodes
        .iter()
        .filter_map(|n| n.dht.stats(network::STEP_TIMEOUT).ok())
        .map(|s| s.finds_received)
        .sum()
}

/// A raw TCP echo server on loopback: one thread, one client at a time.
struct Echo {
    address: SocketAddr,
    thread: JoinHandle<()>,
}

/// The echo server's client.
struct EchoClient(TcpStream);

impl Echo {
    fn start() -> Result<Self, CliError> {
        let fail = |e: std::io::Error| CliError::local(format!("bench dht: echo server: {e}"));
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(fail)?;
        let address = listener.local_addr().map_err(fail)?;
        let thread = std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let _ = s.set_nodelay(true);
                let mut buf = [0u8; RTT_LEN];
                while s.read_exact(&mut buf).is_ok() && s.write_all(&buf).is_ok() {}
            }
        });
        Ok(Echo { address, thread })
    }

    fn connect(&self) -> Result<EchoClient, CliError> {
        let fail = |e: std::io::Error| CliError::local(format!("bench dht: echo client: {e}"));
        let s = TcpStream::connect_timeout(&self.address, Duration::from_secs(5)).map_err(fail)?;
        s.set_nodelay(true).map_err(fail)?;
        Ok(EchoClient(s))
    }

    /// Ends once its client hung up.
    fn stop(self) {
        let _ = self.thread.join();
    }
}

impl EchoClient {
    fn round_trip(&mut self) -> Result<(), CliError> {
        let mut buf = [7u8; RTT_LEN];
        self.0
            .write_all(&buf)
            .and_then(|_| self.0.read_exact(&mut buf))
            .map_err(|e| CliError::local(format!("bench dht: echo: {e}")))
    }
}
