//! A connection closed by a node ends its session cleanly: the closing
//! side's write service writes the session's authenticated end before its
//! stream is dropped, so the other side reads a clean end of stream (no
//! truncation, no error logged) and sees the peer go offline. Under each
//! profile's way of running the write service, for `disconnect` and `stop`.

mod log_capture;

use log_capture::Captured;
use mydht::{MyDHTConf, NodeHandle, PeerCount};
use mydht_base::{Peer, Result};
use mydht_basetest::harness::conf::{blocking_loopback, loopback};
use mydht_basetest::harness::nodes::{connect_and_touch, wait_peers, TIMEOUT};
use mydht_basetest::harness::touch::{Touch, Touched};
use mydht_basetest::touch_conf_items;
use mydht_tcp::{BlockingTcpTransport, TcpTransport};

macro_rules! logged_conf {
    ($name:ident, $profile:ident, $transport:ty, $bind:expr) => {
        /// A touch node whose logs go to a capture.
        struct $name(Captured);

        impl MyDHTConf for $name {
            touch_conf_items!($profile, $transport);

            fn init_transport(&mut self) -> Result<$transport> {
                $bind
            }
            fn logger(&self) -> slog::Logger {
                self.0.logger()
            }
        }
    };
}

logged_conf!(RestartTcp, restartable, TcpTransport, loopback());
logged_conf!(ThreadedTcp, threaded, TcpTransport, loopback());
logged_conf!(
    BlockingTcp,
    threaded_blocking,
    BlockingTcpTransport,
    blocking_loopback()
);

/// What a cut stream, or any failed connection, leaves in a node's log.
fn is_failure(line: &str) -> bool {
    line.contains("stream ended inside a chunked message")
        || line.contains("UnexpectedEof")
        || line.contains("connection dropped")
        || line.contains("read service ended")
}

/// `log` (the node that stayed) saw `gone` go offline, and no failure.
fn saw_clean_close<C: MyDHTConf>(node: &NodeHandle<C>, log: &Captured, gone: &str) {
    wait_peers(node, PeerCount::AtMost(0)).expect("the peer goes offline");
    let offline = log.wait_for(TIMEOUT, |l| l.contains("peer offline") && l.contains(gone));
    assert!(offline.is_some(), "no offline record: {:#?}", log.lines());
    let failures: Vec<_> = log.lines().into_iter().filter(|l| is_failure(l)).collect();
    assert!(failures.is_empty(), "a clean close logged {failures:#?}");
}

fn clean_close<C>(mk: fn(Captured) -> C)
where
    C: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
{
    let (log1, log2) = (Captured::new(), Captured::new());
    let n1 = mydht::start_loop(mk(log1.clone())).expect("node 1");
    let n2 = mydht::start_loop(mk(log2.clone())).expect("node 2");
    let id1 = n1.local_peer().get_id().to_string();
    let id2 = *n2.local_peer().get_id();
    connect_and_touch(&n1, &n2);

    // Node 1 closes the connection: node 2 reads its end.
    let gone = n1.disconnect(&id2, TIMEOUT).expect("disconnect");
    assert_eq!(gone.map(|p| *p.get_id()), Some(id2));
    saw_clean_close(&n2, &log2, &id1);

    // Node 2 stops: its connections end the same way at node 1.
    connect_and_touch(&n1, &n2);
    n2.stop().expect("stop node 2");
    saw_clean_close(&n1, &log1, &id2.to_string());
    n1.stop().expect("stop node 1");
}

#[test]
fn test_clean_close_restartable() {
    clean_close(RestartTcp);
}

#[test]
fn test_clean_close_threaded() {
    clean_close(ThreadedTcp);
}

#[test]
fn test_clean_close_threaded_blocking() {
    clean_close(BlockingTcp);
}
