//! Streams after a frame between live nodes over TCP: a message announces
//! raw bytes that follow it on its connection; the receiving local service
//! reads them from the read half its read service lent it, then gives it
//! back (frames again on the same connection) or drops it (the connection
//! ends). The 1 GiB attachment crosses with the heap bounded.

use mydht_basetest::alloc_count;

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

mod stream_support;

use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use mydht::{MyDHTConf, PeerCount, PeerId};
use mydht_base::Peer;
use mydht_basetest::harness::nodes::{address_of, connect, start_nodes, stop_all, TIMEOUT};
use stream_support::{
    Answer, Ask, Gate, Pattern, Restartable, ShortVerdict, Then, Threaded, SHORT, TRANSFER_TIMEOUT,
};

/// Streams `len` bytes from node 0 to node 1 of a new pair, checks them,
/// then a frame each way on the same connection; returns the peak heap
/// growth during the transfer.
fn transfer_and_go_on<C: MyDHTConf<GlobalCmd = Ask, ApiReply = Answer> + Send>(
    conf: fn() -> C,
    len: u64,
    seed: u8,
) -> usize {
    let nodes = start_nodes(2, conf).expect("nodes");
    let (a, b) = (&nodes[0], &nodes[1]);
    let peer_b = connect(a, b).expect("connect");
    let to = *peer_b.get_id();
    let expected = Pattern::digest(len, seed);
    let before = alloc_count::reset_peak();
    let start = Instant::now();
    let (ended, end) = sync_channel(1);
    let ask = Ask::Send {
        to,
        len,
        seed,
        then: Then::GiveBack,
        once: None,
        ended: Some(ended),
        gate: None,
    };
    let got = a.query(ask, 1, TRANSFER_TIMEOUT).expect("transfer");
    let took = start.elapsed();
    assert_eq!(end.recv_timeout(TIMEOUT).expect("told"), Ok(()));
    let growth = alloc_count::peak().saturating_sub(before);
    assert_eq!(
        got,
        vec![Answer::Received {
            len,
            digest: expected
        }]
    );
    println!(
        "{len} bytes streamed in {took:?} ({:.0} MB/s), peak heap growth {growth} bytes",
        len as f64 / took.as_secs_f64() / 1e6
    );
    // The stream came back: frames again, both ways, on that connection.
    for _ in 0..3 {
        assert_eq!(
            a.query(Ask::Ping(to), 1, TIMEOUT).expect("ping"),
            vec![Answer::Pong]
        );
    }
    assert_eq!(a.stats(TIMEOUT).expect("stats").open_connections, 1);
    stop_all(nodes).expect("stop");
    growth
}

/// The heap two nodes may grow by during a transfer of any size: buffers,
/// not the payload.
const HEAP_BOUND: usize = 8 << 20;

#[test]
fn a_1_gib_attachment_streams_after_its_message_with_the_heap_bounded() {
    let growth = transfer_and_go_on(|| Threaded, 1 << 30, 7);
    assert!(growth < HEAP_BOUND, "peak heap grew by {growth} bytes");
}

#[test]
fn a_stream_crosses_restartable_nodes_and_the_connection_goes_on() {
    let growth = transfer_and_go_on(|| Restartable, 64 << 20, 9);
    assert!(growth < HEAP_BOUND, "peak heap grew by {growth} bytes");
}

#[test]
fn a_stream_dropped_by_its_receiver_ends_the_connection() {
    let nodes = start_nodes(2, || Threaded).expect("nodes");
    let (a, b) = (&nodes[0], &nodes[1]);
    let peer_b = connect(a, b).expect("connect");
    let ask = Ask::Send {
        to: *peer_b.get_id(),
        len: 1 << 20,
        seed: 3,
        then: Then::Drop,
        once: None,
        ended: None,
        gate: None,
    };
    // The receiver drops the stream, which closes the connection (its
    // answer races with the close: not waited for).
    a.query_partial(ask, 1, Duration::from_millis(1))
        .expect("asked");
    let left = a
        .wait_peers(PeerCount::AtMost(0), TIMEOUT)
        .expect("a's peer offline");
    assert!(left.is_empty());
    b.wait_peers(PeerCount::AtMost(0), TIMEOUT)
        .expect("b's peer offline");
    stop_all(nodes).expect("stop");
}

#[test]
fn a_send_once_connection_streams_then_closes() {
    let nodes = start_nodes(2, || Threaded).expect("nodes");
    let (a, b) = (&nodes[0], &nodes[1]);
    // The answer comes back on the pooled connection.
    let peer_b = connect(a, b).expect("connect");
    let once = Some(address_of(b).expect("address"));
    let len = 8 << 20;
    let ask = Ask::Send {
        to: *peer_b.get_id(),
        len,
        seed: 5,
        then: Then::Drop,
        once,
        ended: None,
        gate: None,
    };
    let got = a.query(ask, 1, TRANSFER_TIMEOUT).expect("transfer");
    let digest = Pattern::digest(len, 5);
    assert_eq!(got, vec![Answer::Received { len, digest }]);
    // The send-once connection closed on both sides; the pooled one stays.
    for node in [a, b] {
        let start = Instant::now();
        while node.stats(TIMEOUT).expect("stats").open_connections != 1 {
            assert!(start.elapsed() < TIMEOUT, "send-once connection still open");
        }
    }
    assert_eq!(a.connected_peers(TIMEOUT).expect("peers").len(), 1);
    stop_all(nodes).expect("stop");
}

#[test]
fn a_receiver_answers_on_the_lent_stream_then_the_connection_ends() {
    let nodes = start_nodes(2, || Threaded).expect("nodes");
    let (a, b) = (&nodes[0], &nodes[1]);
    let peer_b = connect(a, b).expect("connect");
    let len = 3 << 20;
    let ask = Ask::Send {
        to: *peer_b.get_id(),
        len,
        seed: 11,
        then: Then::SendBack,
        once: None,
        ended: None,
        gate: None,
    };
    let got = a.query(ask, 1, TRANSFER_TIMEOUT).expect("answer");
    assert_eq!(got, vec![Answer::SentBack { len }]);
    // Then the receiver closed the connection: both sides see it.
    a.wait_peers(PeerCount::AtMost(0), TIMEOUT)
        .expect("a's peer offline");
    b.wait_peers(PeerCount::AtMost(0), TIMEOUT)
        .expect("b's peer offline");
    stop_all(nodes).expect("stop");
}

#[test]
fn a_stream_for_a_closed_port_ends_with_an_error() {
    let nodes = start_nodes(1, || Threaded).expect("nodes");
    // A port nothing listens on: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let (ended, end) = sync_channel(1);
    let ask = Ask::Send {
        to: PeerId::from([1; 32]),
        len: 1 << 20,
        seed: 1,
        then: Then::Drop,
        once: Some(closed),
        ended: Some(ended),
        gate: None,
    };
    nodes[0]
        .query_partial(ask, 1, Duration::from_millis(1))
        .expect("asked");
    let told = end.recv_timeout(TIMEOUT).expect("told");
    assert!(told.is_err(), "{told:?}");
    stop_all(nodes).expect("stop");
}

#[test]
fn a_send_once_stream_outlasts_the_admission_timeout() {
    let nodes = start_nodes(2, || ShortVerdict).expect("nodes");
    let (a, b) = (&nodes[0], &nodes[1]);
    let peer_b = connect(a, b).expect("connect");
    let len = 4 << 20;
    let (go, gate) = sync_channel(1);
    let ask = Ask::Send {
        to: *peer_b.get_id(),
        len,
        seed: 13,
        then: Then::Drop,
        once: Some(address_of(b).expect("address")),
        ended: None,
        gate: Some(Gate {
            at: 1 << 20,
            go: gate,
            reached: None,
        }),
    };
    // The stream stops half-way for three admission timeouts: time must
    // pass, on purpose, beyond the deadline a connection waiting for its
    // peer's admission has (a send-once one has its own, longer).
    let opener = std::thread::spawn(move || {
        std::thread::sleep(SHORT * 3);
        go.send(())
    });
    let got = a.query(ask, 1, TIMEOUT).expect("answer");
    opener.join().expect("opener").expect("go");
    assert_eq!(
        got,
        vec![Answer::Received {
            len,
            digest: Pattern::digest(len, 13)
        }]
    );
    stop_all(nodes).expect("stop");
}

/// A source that may wait (a blocking read, as a file or a pipe may do)
/// is read by the write service's thread, never by the sender pumping in
/// place: while it waits at its gate, the main loop still answers.
#[test]
fn a_source_that_waits_holds_the_write_thread_not_the_main_loop() {
    let nodes = start_nodes(2, || Threaded).expect("nodes");
    let (a, b) = (&nodes[0], &nodes[1]);
    let peer_b = connect(a, b).expect("connect");
    let (go, gate) = sync_channel(1);
    let (reached, at_gate) = sync_channel(1);
    let len = 1 << 20;
    let ask = Ask::Send {
        to: *peer_b.get_id(),
        len,
        seed: 17,
        then: Then::Drop,
        once: Some(address_of(b).expect("address")),
        ended: None,
        gate: Some(Gate {
            at: 16 << 10,
            go: gate,
            reached: Some(reached),
        }),
    };
    let sender = a.clone();
    let transfer = std::thread::spawn(move || sender.query(ask, 1, TIMEOUT));
    at_gate
        .recv_timeout(TIMEOUT)
        .expect("the source stopped at its gate");
    // The main loop still turns: it is not the thread waiting.
    let stats = a.stats(Duration::from_millis(500));
    go.send(()).expect("go");
    assert!(stats.is_ok(), "the main loop did not answer: {stats:?}");
    let got = transfer.join().expect("transfer").expect("answer");
    assert_eq!(
        got,
        vec![Answer::Received {
            len,
            digest: Pattern::digest(len, 17)
        }]
    );
    stop_all(nodes).expect("stop");
}
