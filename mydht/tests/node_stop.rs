//! Stopping a node: threads joined, sockets closed, peers told, pending
//! queries answered. One test in this binary so the process's thread and
//! descriptor counts are this test's alone.

use std::time::{Duration, Instant};

use mydht::PeerCount;
use mydht_base::{ErrorKind, Peer};
use mydht_basetest::harness::conf::{blocking_loopback, loopback};
use mydht_basetest::harness::nodes::{connect_and_touch, TIMEOUT};
use mydht_basetest::harness::touch::Touch;
use mydht_basetest::touch_conf;
use mydht_tcp::{BlockingTcpTransport, TcpTransport};

touch_conf!(ThreadedTcp, threaded, TcpTransport, loopback());
touch_conf!(RestartTcp, restartable, TcpTransport, loopback());
touch_conf!(
    BlockingTcp,
    threaded_blocking,
    BlockingTcpTransport,
    blocking_loopback()
);

fn count_dir(path: &str) -> usize {
    std::fs::read_dir(path).expect("procfs").count()
}

fn threads() -> usize {
    count_dir("/proc/self/task")
}

/// The thread count once it is back to `expected`, or what it is after a
/// second. A joined thread can stay listed for a moment: `join` returns
/// when the thread has cleared its id, and the kernel unlists it a little
/// later (milliseconds on a loaded machine). A thread never joined stays.
fn threads_settled(expected: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let n = threads();
        if n == expected || Instant::now() >= deadline {
            return n;
        }
        std::thread::yield_now();
    }
}

fn descriptors() -> usize {
    count_dir("/proc/self/fd")
}

#[test]
fn test_stop_while_connected_leaves_nothing() {
    let (t0, f0) = (threads(), descriptors());
    let n1 = mydht::start_loop(ThreadedTcp).expect("node 1");
    let n2 = mydht::start_loop(ThreadedTcp).expect("node 2");
    let n3 = mydht::start_loop(RestartTcp).expect("node 3");
    let n4 = mydht::start_loop(BlockingTcp).expect("node 4");
    connect_and_touch(&n1, &n2);
    connect_and_touch(&n3, &n2);
    connect_and_touch(&n4, &n2);
    assert!(threads() > t0 + 4, "threaded nodes run services on threads");

    // A query that can only end by the stop: it waits for a peer count the
    // node never reaches.
    let waiting = {
        let n1 = n1.clone();
        std::thread::spawn(move || n1.wait_peers(PeerCount::AtLeast(100), TIMEOUT))
    };
    let p1 = *n1.local_peer().get_id();
    n1.stop().expect("stop node 1");
    let err = waiting
        .join()
        .expect("waiting thread")
        .expect_err("stopped");
    assert!(matches!(err, mydht::NodeError::Stopped(_)), "{err}");
    assert_eq!(err.error().kind(), ErrorKind::ChannelClosed);

    // Node 2 sees node 1 go offline and keeps working with node 3.
    let left = n2
        .wait_peers(PeerCount::AtMost(2), TIMEOUT)
        .expect("node 1 offline on node 2");
    assert!(left.iter().all(|p| *p.get_id() != p1));
    let p3 = *n3.local_peer().get_id();
    assert_eq!(n2.query(Touch(p3), 2, TIMEOUT).expect("touch").len(), 2);

    n2.stop().expect("stop node 2");
    n3.stop().expect("stop node 3");
    n4.stop().expect("stop node 4");
    assert_eq!(threads_settled(t0), t0, "a thread was left behind");
    assert_eq!(descriptors(), f0, "a socket or descriptor was left open");
}
