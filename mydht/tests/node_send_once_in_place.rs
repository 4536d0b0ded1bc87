//! Under `threaded!`, a send-once connection's message, the stream behind
//! it and the session's end are written by the sender itself (the main
//! loop) while its write service's thread is idle: a small stream takes no
//! write thread, and one longer than a sender pumps in place goes on on
//! the thread. Alone in its test binary: it counts the service runs of
//! the whole process.

mod stream_support;

use std::time::Instant;

use mydht::NodeHandle;
use mydht_base::service::spawn::service_runs_started;
use mydht_base::Peer;
use mydht_basetest::harness::nodes::{address_of, connect, start_nodes, stop_all, TIMEOUT};
use stream_support::{Answer, Ask, Pattern, Then, Threaded, TRANSFER_TIMEOUT};

/// Streams sent in each series.
const SENDS: u64 = 10;

/// Sends `SENDS` streams of `len` bytes from `a` to `b`, each on a
/// send-once connection of its own, each checked by the receiver and
/// closed on both sides before the next; the service runs they started.
fn runs_for(a: &NodeHandle<Threaded>, b: &NodeHandle<Threaded>, len: u64) -> u64 {
    let to = *a.connected_peers(TIMEOUT).expect("peers")[0].get_id();
    let address = address_of(b).expect("address");
    let before = service_runs_started();
    for seed in 0..SENDS as u8 {
        let ask = Ask::Send {
            to,
            len,
            seed,
            then: Then::Drop,
            once: Some(address),
            ended: None,
            gate: None,
        };
        let got = a.query(ask, 1, TRANSFER_TIMEOUT).expect("transfer");
        let digest = Pattern::digest(len, seed);
        assert_eq!(got, vec![Answer::Received { len, digest }]);
        for node in [a, b] {
            let start = Instant::now();
            while node.stats(TIMEOUT).expect("stats").open_connections != 1 {
                assert!(start.elapsed() < TIMEOUT, "send-once connection still open");
            }
        }
    }
    service_runs_started() - before
}

#[test]
fn a_small_send_once_stream_takes_no_write_thread() {
    let nodes = start_nodes(2, || Threaded).expect("nodes");
    let (a, b) = (&nodes[0], &nodes[1]);
    connect(a, b).expect("connect");
    // First contacts (the signed handshake of the first send-once dial).
    runs_for(a, b, 1 << 10);
    // 16 KiB: pumped whole by the sender; 2 MiB: past what it pumps in
    // place, the write service's thread carries on.
    let small = runs_for(a, b, 16 << 10);
    let large = runs_for(a, b, 2 << 20);
    println!("service runs for {SENDS} send-once streams: 16 KiB {small}, 2 MiB {large}");
    assert!(
        large >= small + SENDS - 1,
        "a write thread for each long stream only: 16 KiB {small} runs, 2 MiB {large}"
    );
    stop_all(nodes).expect("stop");
}
