//! The DHT on the simulated network (`mydht_basetest::sim`), at 1,000
//! and 10,000 nodes: lookups per wall second and mean hops.
//!
//! `cargo bench -p mydht-kvstore --bench dht_sim [-- NODES...]` (default
//! 1000 10000; `--value-first N`: `LookupConf::value_first`, the
//! requests a value lookup sends before its first answer, default 1). Per size: the nodes bootstrap (each looks itself up),
//! 1,000 values are put from random nodes, then five rounds each get the
//! 1,000 values from random nodes (Kademlia iterative lookups, k = 20,
//! α = 3, spread over two simulated seconds), each round followed by its
//! baseline, an idle stretch of the same simulated length (the nodes'
//! timers and ticks, no lookup). Printed: lookups per wall second
//! (median of the rounds), the same net of the idle baseline, the ratio
//! round / baseline (of the medians, and the median of the paired
//! ratios), mean hops, the lookups' simulated latency.

#[path = "../tests/dht_sim.rs"]
#[allow(dead_code)]
mod dht_sim;

use std::time::Instant;

use dht_sim::{
    bootstrap, get_values, hops, network_with, pick, put_values, settings, totals, Scenario,
};
use mydht_basetest::sim::SimRng;
use mydht_kvstore::dht::{LookupConf, LookupMode};

const VALUES: usize = 1000;
const ROUNDS: usize = 5;

/// CPU seconds this process used so far (user and system, from
/// `/proc/self/stat`, in clock ticks of 10 ms; 0 where it cannot be read):
/// the machine may be shared, so wall seconds alone overstate the cost.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which ends with ')'): utime is the
    // 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let ticks: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse().ok())
        .collect();
    ticks.iter().sum::<f64>() / 100.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn bench(nodes: usize, value_first: usize) {
    let scenario = Scenario::new(nodes, VALUES, 7);
    let wall = Instant::now();
    let mut settings = settings();
    settings.lookup = LookupMode::Iterative(LookupConf {
        value_first,
        ..LookupConf::default()
    });
    let mut sim = network_with(&scenario, settings);
    let mut rng = SimRng::new(0xbe7c);
    let booted = bootstrap(&mut sim);
    let boot_wall = wall.elapsed();
    let (_, stored) = put_values(&mut sim, &mut rng, VALUES, scenario.spread);
    println!(
        "{nodes} nodes: {booted} bootstrapped in {boot_wall:.1?} wall, {stored} of {VALUES} \
         values stored by {:.1?} wall ({:.1?} simulated, {} connections)",
        wall.elapsed(),
        sim.now(),
        sim.stats().connections
    );
    let (mut rates, mut nets, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut looks, mut idles, mut latencies) = (Vec::new(), Vec::new(), Vec::new());
    let (mut found_all, mut cpu_rates) = (0, Vec::new());
    let before = totals(&sim);
    for round in 0..ROUNDS {
        // Value v from a random running node.
        let getters: Vec<usize> = (0..VALUES)
            .map(|_| pick(&sim, &mut rng, usize::MAX))
            .collect();
        let (t0, simulated0, cpu0) = (Instant::now(), sim.now(), cpu_seconds());
        let (calls, found, _) = get_values(&mut sim, &getters, scenario.spread);
        let look = t0.elapsed();
        let cpu = cpu_seconds() - cpu0;
        let span = sim.now() - simulated0;
        latencies.extend(calls.iter().filter_map(|id| {
            let rec = &sim.calls()[id.0];
            let ended = rec.ended.as_ref()?.0;
            Some((ended - rec.issued).as_secs_f64() * 1e3)
        }));
        found_all += found;
        // The baseline: the same simulated stretch, no lookup.
        let t1 = Instant::now();
        let until = sim.now() + span;
        sim.run_until(until);
        let idle = t1.elapsed();
        let rate = VALUES as f64 / look.as_secs_f64();
        let net = VALUES as f64 / look.saturating_sub(idle).as_secs_f64().max(1e-9);
        println!(
            "  round {round}: {found}/{VALUES} found, {look:.2?} wall ({rate:.0} lookups/s; \
             {cpu:.2} s of CPU), idle baseline {idle:.2?} for the same {span:.2?} simulated"
        );
        cpu_rates.push(VALUES as f64 / cpu.max(0.01));
        rates.push(rate);
        nets.push(net);
        ratios.push(look.as_secs_f64() / idle.as_secs_f64());
        looks.push(look.as_secs_f64());
        idles.push(idle.as_secs_f64());
    }
    let (found_lookups, mean_hops) = hops(&before, &totals(&sim));
    println!(
        "{nodes} nodes, value_first {value_first}: {:.0} lookups per wall second (median of {ROUNDS} rounds; {:.0} per CPU \
         second), {:.0} net of the idle baseline; round / baseline {:.2} (medians), {:.2} (paired); mean hops \
         {mean_hops:.2} ({found_lookups} lookups found a value; {found_all} of {} gets found); \
         simulated latency p50 {:.0} ms; {:.1?} wall in all",
        median(rates),
        median(cpu_rates),
        median(nets),
        median(looks) / median(idles),
        median(ratios),
        ROUNDS * VALUES,
        median(latencies),
        wall.elapsed()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; the sizes are the numeric arguments
    // (but the one after `--value-first`).
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = args.iter().position(|a| a == "--value-first");
    let value_first = flag
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(LookupConf::default().value_first);
    let sizes: Vec<usize> = args
        .iter()
        .enumerate()
        .filter(|(i, _)| flag.is_none_or(|f| *i != f + 1))
        .filter_map(|(_, a)| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1000, 10_000]
    } else {
        sizes
    };
    for nodes in sizes {
        bench(nodes, value_first);
    }
}
