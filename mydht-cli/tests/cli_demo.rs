//! `mydht demo`: a small network succeeds and prints its summary (DHT and
//! tunnel steps); with `--json` the summary parses and carries the
//! figures.

mod support;

use support::*;

#[test]
fn demo_prints_its_summary() {
    let out = run(&[
        "demo", "--nodes", "6", "--values", "20", "--hops", "4", "--size", "2",
    ]);
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
    let query = stdout
        .lines()
        .find(|l| l.starts_with("query through 4 hops"))
        .expect("tunnel query line");
    assert!(query.contains("replied"), "{query}");
    let file = stdout
        .lines()
        .find(|l| l.starts_with("2 MiB through 3 hops"))
        .expect("file line");
    assert!(file.contains("SHA-256 checked"), "{file}");
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
            "--hops",
            "3",
            "--size",
            "1",
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
        assert_eq!(v["tunnel_nodes"], 5);
        assert_eq!(v["tunnel_query_hops"], 3);
        assert_eq!(v["tunnel_query_ok"], true);
        assert_eq!(v["file_hops"], 3);
        assert_eq!(v["file_bytes"], 1 << 20);
        assert_eq!(v["file_ok"], true);
        assert!(v["file_mb_s"].as_f64().expect("MB/s") > 0.0);
        let p50 = v["get_latency_ms"]["p50"].as_f64().expect("get p50");
        let p99 = v["get_latency_ms"]["p99"].as_f64().expect("get p99");
        assert!(p50 > 0.0 && p50 <= p99, "{p50} {p99}");
    }
}
