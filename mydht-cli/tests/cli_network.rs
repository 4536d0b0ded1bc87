//! Eight `mydht node` processes on loopback: a value put through one is
//! found through another, still after the node closest to its key is
//! killed; a node stops cleanly on SIGTERM and comes back with its
//! identity and values.

mod support;

use mydht_kvstore::Key;
use support::*;

const NODES: usize = 8;

/// XOR distance between a hex id and a key, for ordering.
fn distance(id_hex: &str, key: &Key) -> Vec<u8> {
    (0..32)
        .map(|i| u8::from_str_radix(&id_hex[2 * i..2 * i + 2], 16).unwrap() ^ key.as_bytes()[i])
        .collect()
}

fn put(key: &str, value: &str, via: &NodeProc, data: &Scratch) {
    let out = run(&[
        "put",
        key,
        value,
        "--bootstrap",
        &via.address,
        "--data-dir",
        data.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "put: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("stored "),
        "{}",
        text(&out.stdout)
    );
}

fn get(key: &str, via: &NodeProc) -> (Option<i32>, String, String) {
    let out = run(&["get", key, "--bootstrap", &via.address]);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn eight_processes_put_get_and_survive_a_kill() {
    let dirs: Vec<Scratch> = (0..NODES).map(|i| Scratch::new(&format!("n{i}"))).collect();
    let client = Scratch::new("client");
    // Each node joins through every node before it: a full mesh.
    let mut nodes: Vec<NodeProc> = Vec::new();
    for dir in &dirs {
        let earlier: Vec<&str> = nodes.iter().map(|n| n.address.as_str()).collect();
        let node = NodeProc::start(dir.path(), &earlier);
        nodes.push(node);
    }
    let addresses: std::collections::BTreeSet<_> = nodes.iter().map(|n| &n.address).collect();
    assert_eq!(addresses.len(), NODES, "distinct addresses");

    put("greeting", "hello from node 1", &nodes[1], &client);
    let (code, out, err) = get("greeting", &nodes[5]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "hello from node 1\n");
    let (code, _, err) = get("nobody stored this", &nodes[5]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("not found"), "{err}");

    // The node closest to the key holds a copy: kill it.
    let key = Key::hash_of(b"greeting");
    let closest = (0..NODES)
        .min_by_key(|i| distance(&nodes[*i].id, &key))
        .unwrap();
    nodes.remove(closest).kill();
    let via = if closest == 6 { 0 } else { 6 };
    let via = &nodes[via.min(nodes.len() - 1)];
    let (code, out, err) = get("greeting", via);
    assert_eq!(code, Some(0), "after the kill: {err}");
    assert_eq!(out, "hello from node 1\n");
}

#[test]
fn sigterm_stops_cleanly_and_a_restart_keeps_identity_and_values() {
    let dir = Scratch::new("restart");
    let client = Scratch::new("restart-client");
    let node = NodeProc::start(dir.path(), &[]);
    let id = node.id.clone();
    put("kept", "across restarts", &node, &client);
    let (code, rest) = node.terminate();
    assert_eq!(code, Some(0));
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");

    let again = NodeProc::start(dir.path(), &[]);
    assert_eq!(again.id, id, "same identity from the data directory");
    let (code, out, err) = get("kept", &again);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "across restarts\n");
}
