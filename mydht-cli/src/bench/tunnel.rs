//! `mydht bench tunnel`: a generated file streamed through a tunnel of
//! three relays to an exit that hashes it (the demo's tunnel nodes),
//! against the same bytes over one raw TCP connection on the same
//! loopback to a receiver that hashes them, alternately in each sample.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use openssl::sha::Sha256;

use crate::bench::BenchRow;
use crate::cli::Profile;
use crate::demo::tunnel::{self, TunnelProfile};
use crate::error::CliError;
use crate::stats::median;

/// Tunnel nodes: the sender, three relays, the exit.
const NODES: usize = 5;
/// Relays of the tunnel.
const HOPS: usize = 3;
/// Bytes per transfer.
const LEN: u64 = 8 << 20;

/// Runs the tunnel bench under `profile`; one row.
pub fn run(samples: usize, profile: Profile, quiet: bool) -> Result<Vec<BenchRow>, CliError> {
    match profile {
        Profile::Threaded => run_with::<tunnel::Threaded>(samples, profile, quiet),
        Profile::Restartable => run_with::<tunnel::Restartable>(samples, profile, quiet),
        Profile::SingleThread => run_with::<tunnel::SingleThread>(samples, profile, quiet),
    }
}

fn run_with<T: TunnelProfile>(
    samples: usize,
    profile: Profile,
    quiet: bool,
) -> Result<Vec<BenchRow>, CliError> {
    let bar = super::dht::progress(samples, "bench tunnel", quiet);
    let nodes = tunnel::start::<T>(NODES)?;
    let mut result = Ok(());
    let (mut measured, mut baseline, mut paired) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..samples {
        let mut times = [0.0; 2];
        for side in [i % 2, 1 - i % 2] {
            let took = if side == 0 {
                match tunnel::send_file(&nodes, HOPS, LEN) {
                    Ok((took, None)) => took,
                    Ok((_, Some(why))) => {
                        result = Err(CliError::failed(format!("bench tunnel: {why}")));
                        break;
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            } else {
                match raw_transfer(LEN) {
                    Ok(took) => took,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            };
            times[side] = took.as_secs_f64() * 1e3;
        }
        if result.is_err() {
            break;
        }
        measured.push(times[0]);
        baseline.push(times[1]);
        paired.push(times[0] / times[1]);
        bar.inc(1);
    }
    tunnel::stop(nodes);
    bar.finish_and_clear();
    result?;
    let (m, b) = (median(&measured), median(&baseline));
    Ok(vec![BenchRow {
        bench: "tunnel",
        figure: format!(
            "{} MiB through {HOPS} relays ({}), hashed at the exit: {:.1} MB/s",
            LEN >> 20,
            profile.name(),
            LEN as f64 / (m / 1e3) / 1e6
        ),
        measured: m,
        baseline_name: "one raw TCP connection, hashed".into(),
        baseline: b,
        unit: "ms",
        ratio: m / b,
        paired_ratio: median(&paired),
        goal: None,
        meets_goal: None,
        samples,
    }])
}

/// `len` bytes over one loopback TCP connection to a thread that hashes
/// them: the time to the receiver's digest.
fn raw_transfer(len: u64) -> Result<Duration, CliError> {
    let fail = |e: std::io::Error| CliError::local(format!("bench tunnel: raw transfer: {e}"));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(fail)?;
    let address = listener.local_addr().map_err(fail)?;
    let started = Instant::now();
    let receiver = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut s, _) = listener.accept()?;
        let mut sha = Sha256::new();
        let mut buf = vec![0u8; 64 << 10];
        let mut got = 0;
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                let _ = sha.finish();
                return Ok(got);
            }
            sha.update(&buf[..n]);
            got += n as u64;
        }
    });
    let mut s = TcpStream::connect(address).map_err(fail)?;
    let block: Vec<u8> = (0..64 << 10).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    while sent < len {
        let n = (len - sent).min(block.len() as u64) as usize;
        s.write_all(&block[..n]).map_err(fail)?;
        sent += n as u64;
    }
    drop(s);
    let got = receiver
        .join()
        .map_err(|_| CliError::failed("bench tunnel: the receiver panicked"))?
        .map_err(fail)?;
    if got != len {
        return Err(CliError::failed("bench tunnel: raw transfer lost bytes"));
    }
    Ok(started.elapsed())
}
