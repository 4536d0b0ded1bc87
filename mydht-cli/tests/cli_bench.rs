//! `mydht bench --json`: every row parses and carries its figure, its
//! baseline from the same run and their ratios.

mod support;

use support::*;

#[test]
fn bench_json_carries_figures_and_baselines() {
    let out = run(&["bench", "all", "--samples", "3", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON table");
    let rows = rows.as_array().expect("rows");
    let benches: Vec<_> = rows.iter().map(|r| r["bench"].as_str().unwrap()).collect();
    assert_eq!(
        benches,
        ["service", "link", "link", "link", "link", "dht", "tunnel"]
    );
    for row in rows {
        let measured = row["measured"].as_f64().unwrap();
        let baseline = row["baseline"].as_f64().unwrap();
        assert!(measured > 0.0 && baseline > 0.0, "{row}");
        let ratio = row["ratio"].as_f64().unwrap();
        assert!((ratio - measured / baseline).abs() < 1e-9, "{row}");
        assert!(row["paired_ratio"].as_f64().unwrap() > 0.0, "{row}");
        assert_eq!(row["samples"], 3);
    }
    assert_eq!(rows[0]["goal"], 1.3);
    assert_eq!(
        rows[0]["meets_goal"],
        rows[0]["paired_ratio"].as_f64().unwrap() <= 1.3
    );
    // link: request/response (1, then 64 in flight), bulk, connect.
    let figures: Vec<_> = rows[1..5]
        .iter()
        .map(|r| r["figure"].as_str().unwrap())
        .collect();
    assert!(figures[0].contains("1 in flight"), "{figures:?}");
    assert!(figures[1].contains("64 in flight"), "{figures:?}");
    assert!(figures[2].starts_with("16 MiB"), "{figures:?}");
    assert!(figures[3].starts_with("connect"), "{figures:?}");
    assert!(rows[2]["goal"].as_f64().is_some() && rows[3]["goal"].as_f64().is_some());
}

#[test]
fn bench_prints_a_table() {
    let out = run(&["bench", "service", "--samples", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let header = stdout.lines().next().unwrap_or_default();
    for column in ["figure", "measured", "baseline", "ratio", "paired", "goal"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        stdout.contains("service: ThreadPark + MpscChannel"),
        "{stdout}"
    );
}
