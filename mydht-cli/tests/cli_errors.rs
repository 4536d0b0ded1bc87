//! Every error a user can cause gives one line on standard error, its
//! exit code, and never a panic.

mod support;

use std::net::TcpListener;

use support::*;

/// Runs `args`, expects exit `code` and one error line containing each
/// of `words`: the only line on stderr, or (`mydht node`, which logs to
/// the terminal) the last one.
fn fails(args: &[&str], code: i32, words: &[&str]) {
    let out = run(args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: stderr {err:?}");
    let mut lines: Vec<_> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    if args[0] != "node" {
        assert_eq!(lines.len(), 1, "{args:?}: one line expected, got {err:?}");
    }
    let last = lines.pop().unwrap_or_default();
    assert!(last.starts_with("error: "), "{args:?}: {err:?}");
    assert!(!lines.iter().any(|l| l.starts_with("error")), "{err:?}");
    for w in words {
        assert!(last.contains(w), "{args:?}: {w:?} not in {err:?}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err:?}"
    );
}

/// An address where nothing listens: a port bound then released.
fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

#[test]
fn bad_flags_and_values_are_usage_errors() {
    fails(&["demo", "--frobnicate"], 2, &["--frobnicate"]);
    fails(&["launch"], 2, &["launch"]);
    fails(&["demo", "--nodes", "1"], 2, &["--nodes"]);
    fails(&["demo", "--profile", "fast"], 2, &["fast"]);
    fails(&["demo", "--nodes", "4"], 2, &["--hops 8", "10 nodes"]);
    fails(&["bench", "everything"], 2, &["everything"]);
}

#[test]
fn bad_addresses_are_usage_errors() {
    fails(
        &["node", "--listen", "nonsense"],
        2,
        &["nonsense", "IP:PORT"],
    );
    fails(&["node", "--listen", "127.0.0.1:99999"], 2, &["99999"]);
    fails(
        &["get", "k", "--bootstrap", "no-port"],
        2,
        &["no-port", "HOST:PORT"],
    );
}

#[test]
fn bad_keys_are_usage_errors() {
    let addr = closed_port();
    fails(&["get", "", "--bootstrap", &addr], 2, &["empty"]);
    fails(
        &["get", "0x12", "--bootstrap", &addr],
        2,
        &["0x12", "64 hex digits"],
    );
    let zero = format!("0x{}", "0".repeat(64));
    fails(&["get", &zero, "--bootstrap", &addr], 2, &["reserved"]);
    let long = "k".repeat(2000);
    fails(
        &["put", &long, "v", "--bootstrap", &addr],
        2,
        &["at most 1024"],
    );
}

#[test]
fn unreachable_bootstrap_exits_4() {
    let addr = closed_port();
    let dir = Scratch::new("unreachable");
    fails(
        &["get", "greeting", "--bootstrap", &addr],
        4,
        &["cannot reach", &addr],
    );
    let data = dir.path().to_str().unwrap();
    fails(
        &[
            "put",
            "greeting",
            "hi",
            "--bootstrap",
            &addr,
            "--data-dir",
            data,
        ],
        4,
        &["cannot reach", &addr],
    );
    fails(
        &[
            "node",
            "--listen",
            "127.0.0.1:0",
            "--bootstrap",
            &addr,
            "--data-dir",
            data,
        ],
        4,
        &["cannot reach bootstrap node", &addr],
    );
}

#[test]
fn missing_or_oversize_file_is_refused() {
    let dir = Scratch::new("files");
    let data = dir.path().to_str().unwrap();
    let addr = closed_port();
    let missing = dir.join("missing.txt");
    let missing = missing.to_str().unwrap();
    fails(
        &[
            "put",
            "k",
            "--file",
            missing,
            "--bootstrap",
            &addr,
            "--data-dir",
            data,
        ],
        5,
        &["missing.txt", "No such file"],
    );
    let big = dir.join("big.bin");
    std::fs::write(&big, vec![1u8; 70_000]).unwrap();
    fails(
        &[
            "put",
            "k",
            "--file",
            big.to_str().unwrap(),
            "--bootstrap",
            &addr,
            "--data-dir",
            data,
        ],
        2,
        &["70000 bytes"],
    );
}

#[test]
fn port_in_use_exits_5() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = Scratch::new("port");
    fails(
        &[
            "node",
            "--listen",
            &addr,
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        5,
        &[&addr, "in use"],
    );
}

#[test]
fn unusable_data_directory_exits_5() {
    let dir = Scratch::new("datadir");
    // A file where the directory should be.
    let file = dir.join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    fails(
        &[
            "node",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            file.to_str().unwrap(),
        ],
        5,
        &["data directory", "a-file"],
    );
    // A directory whose identity file is not one.
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    let identity = data.join("identity.pem");
    std::fs::write(&identity, b"garbage").unwrap();
    set_owner_only(&identity);
    fails(
        &[
            "node",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        5,
        &["identity", "cannot load it"],
    );
}

fn set_owner_only(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn send_refusals_exit_with_their_codes() {
    let dir = Scratch::new("send");
    let file = dir.join("note.txt");
    std::fs::write(&file, b"a short note").unwrap();
    let file = file.to_str().unwrap();
    let missing = dir.join("absent.bin");
    let some_id = "ab".repeat(32);
    let addr = closed_port();
    fails(
        &[
            "send",
            missing.to_str().unwrap(),
            "--to",
            &some_id,
            "--bootstrap",
            &addr,
        ],
        5,
        &["absent.bin", "No such file"],
    );
    fails(
        &["send", file, "--to", "12ab", "--bootstrap", &addr],
        2,
        &["12ab", "64 hex digits"],
    );
    fails(
        &["send", file, "--to", &some_id, "--bootstrap", &addr],
        4,
        &["cannot reach", &addr],
    );

    // One node, which takes no files.
    let node = NodeProc::start(dir.join("node").as_path(), &[]);
    let other_id = "cd".repeat(32);
    fails(
        &[
            "send",
            file,
            "--to",
            &other_id,
            "--bootstrap",
            &node.address,
        ],
        3,
        &["unknown peer id", &other_id],
    );
    fails(
        &[
            "send",
            file,
            "--to",
            &node.id,
            "--hops",
            "2",
            "--bootstrap",
            &node.address,
        ],
        4,
        &["not enough relays", "--hops 2", "gave 0"],
    );
    fails(
        &[
            "send",
            file,
            "--to",
            &node.id,
            "--hops",
            "0",
            "--bootstrap",
            &node.address,
        ],
        1,
        &["refused note.txt", "no --receive-dir"],
    );
}

#[test]
fn unusable_receive_directory_exits_5() {
    let dir = Scratch::new("receive");
    let file = dir.join("not-a-dir");
    std::fs::write(&file, b"a file").unwrap();
    fails(
        &[
            "node",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.join("data").to_str().unwrap(),
            "--receive-dir",
            file.to_str().unwrap(),
        ],
        5,
        &["receive directory", "not-a-dir", "not writable"],
    );
}
