//! `mydht send` across processes: eight `mydht node` processes on
//! loopback, a file sent through a tunnel of three relays (other node
//! processes) to one of them, which saves it whole in its receive
//! directory.

mod support;

use openssl::sha::sha256;
use support::*;

const NODES: usize = 8;
/// The file's length: a few MiB, so that it streams in many chunks.
const LEN: usize = 3 << 20;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `len` bytes that are not all alike (a linear congruential sequence).
fn payload(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn a_file_through_three_relay_processes_arrives_whole() {
    let dirs: Vec<Scratch> = (0..NODES).map(|i| Scratch::new(&format!("s{i}"))).collect();
    let mut nodes: Vec<NodeProc> = Vec::new();
    for dir in &dirs {
        let earlier: Vec<&str> = nodes.iter().map(|n| n.address.as_str()).collect();
        let receive = dir.join("received");
        let extra = ["--receive-dir", receive.to_str().unwrap()];
        nodes.push(NodeProc::start_with(dir.path(), &earlier, &extra));
    }
    let files = Scratch::new("send-files");
    let path = files.join("payload.bin");
    let bytes = payload(LEN);
    std::fs::write(&path, &bytes).unwrap();
    let digest = hex(&sha256(&bytes));

    // The first node published its tunnel address when it was alone: the
    // DHT placed it on the newcomers closer to its key.
    let receiver = 0;
    let out = run(&[
        "send",
        path.to_str().unwrap(),
        "--to",
        &nodes[receiver].id,
        "--hops",
        "3",
        "--bootstrap",
        &nodes[NODES - 1].address,
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "send: {}", text(&out.stderr));
    assert!(
        stdout.contains(&format!(
            "sent payload.bin to {} through 3 relays",
            nodes[receiver].id
        )),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("sha256 {digest}")), "{stdout}");

    // The receiver printed what it saved, and saved that.
    let line = nodes[receiver].wait_prefix("received ");
    assert_eq!(
        line,
        format!("received payload.bin {LEN} bytes sha256 {digest}")
    );
    let received = dirs[receiver].join("received");
    let saved = std::fs::read(received.join("payload.bin")).unwrap();
    assert_eq!(hex(&sha256(&saved)), digest);
    // Nothing else there: the temporary file is gone.
    let names: Vec<_> = std::fs::read_dir(&received)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["payload.bin"]);
}
