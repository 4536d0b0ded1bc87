//! `mydht demo`: a small network succeeds and prints its summary; with
//! `--json` the summary parses and carries the figures.

mod support;

use support::*;

#[test]
fn demo_prints_its_summary() {
    let out = run(&["demo", "--nodes", "6", "--values", "20"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("MyDHT demo: 6 nodes (restartable)"),
        "{stdout}"
    );
    for line in ["nodes up", "values stored", "values found", "mean hops"] {
        assert!(stdout.contains(line), "{line:?} missing: {stdout}");
    }
    let found = stdout
        .lines()
        .find(|l| l.starts_with("values found"))
        .expect("values found line");
    assert!(found.contains("20 / 20"), "{found}");
}

#[test]
fn demo_json_carries_the_figures() {
    for profile in ["restartable", "threaded", "single-thread"] {
        let out = run(&[
            "demo",
            "--nodes",
            "5",
            "--values",
            "10",
            "--profile",
            profile,
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
        assert_eq!(v["profile"], profile);
        assert_eq!(v["nodes"], 5);
        assert_eq!(v["nodes_up"], 5);
        assert_eq!(v["authenticated"], 5);
        assert_eq!(v["links_up"], v["links"]);
        assert_eq!(v["stored"], 10);
        assert_eq!(v["found"], 10);
        assert_eq!(v["nodes_stopped"], 5);
        let hops = v["mean_hops"].as_f64().expect("mean hops");
        assert!((0.0..=8.0).contains(&hops), "{hops}");
        let p50 = v["get_latency_ms"]["p50"].as_f64().expect("get p50");
        let p99 = v["get_latency_ms"]["p99"].as_f64().expect("get p99");
        assert!(p50 > 0.0 && p50 <= p99, "{p50} {p99}");
    }
}
