//! The main loop on the caller's thread (`MainLoopSpawn::Caller`): the
//! test thread drives a whole `restartable!` node while a threaded node
//! talks to it.

use std::sync::mpsc;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use mydht::{MainLoopDriver, MainLoopSpawn, MyDHTConf, NodeError, NodeHandle};
use mydht_base::{ErrorKind, Peer, Result};
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::TIMEOUT;
use mydht_basetest::harness::touch::Touch;
use mydht_basetest::{touch_conf, touch_conf_items};
use mydht_tcp::TcpTransport;

touch_conf!(ThreadedTcp, threaded, TcpTransport, loopback());

/// A touch node whose main loop the caller drives; it tells on which
/// thread its transport was bound (the main loop's).
struct Driven(mpsc::Sender<ThreadId>);

impl MyDHTConf for Driven {
    touch_conf_items!(restartable, TcpTransport);

    fn main_loop_spawn(&self) -> MainLoopSpawn {
        MainLoopSpawn::Caller
    }
    fn init_transport(&mut self) -> Result<TcpTransport> {
        let _ = self.0.send(std::thread::current().id());
        loopback()
    }
}

/// Turns the loop until another thread sends its answer on `done`.
fn turn_until_answered<C: MyDHTConf, T>(
    driver: &mut MainLoopDriver<C>,
    done: &mpsc::Receiver<T>,
) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(Instant::now() < deadline, "no answer while the loop turned");
        if let Ok(res) = done.try_recv() {
            return res;
        }
        assert!(driver
            .run_once(Duration::from_millis(10))
            .expect("loop turn"));
    }
}

/// Stopping is asked through the handle and done by the next turns.
fn stop_driven<C: MyDHTConf>(driver: &mut MainLoopDriver<C>, handle: NodeHandle<C>) {
    let deadline = Instant::now() + TIMEOUT;
    handle.stop().expect("stop asked");
    while driver
        .run_once(Duration::from_millis(10))
        .expect("loop turn")
    {
        assert!(Instant::now() < deadline, "driven node did not stop");
    }
}

#[test]
fn test_driven_node_serves_a_threaded_peer() {
    let (thread_tx, thread_rx) = mpsc::channel();
    let (mut driver, handle) = mydht::start_driven(Driven(thread_tx)).expect("driven node");
    assert_eq!(
        thread_rx.try_recv().expect("transport bound"),
        std::thread::current().id()
    );
    let driven_id = *handle.local_peer().get_id();
    let address = handle.local_peer().get_address().parse().expect("address");

    // The threaded node connects and touches the driven one from another
    // thread, while this thread turns the driven loop.
    let (done_tx, done_rx) = mpsc::channel();
    let other = std::thread::spawn(move || {
        let node = mydht::start_loop(ThreadedTcp).expect("threaded node");
        let res = node
            .connect(address, TIMEOUT)
            .and_then(|_| node.query(Touch(driven_id), 2, TIMEOUT));
        let _ = done_tx.send(res.map(|r| r.len()));
        node.stop()
    });
    let touched = turn_until_answered(&mut driver, &done_rx);
    assert_eq!(touched.expect("touch"), 2);
    stop_driven(&mut driver, handle);
    other
        .join()
        .expect("threaded node thread")
        .expect("threaded node stops");
}

#[test]
fn test_spawn_kind_mismatch_is_a_config_error() {
    let (thread_tx, _thread_rx) = mpsc::channel();
    let err = mydht::start_loop(Driven(thread_tx)).err().expect("refused");
    assert_eq!(err.kind(), ErrorKind::Config);
    let err = mydht::start_driven(ThreadedTcp).err().expect("refused");
    assert_eq!(err.kind(), ErrorKind::Config);
}

/// On the thread that drives the loop, a blocking call is refused at once
/// instead of waiting out its timeout for a loop that cannot turn; from
/// another thread the same handle waits while this one turns the loop.
#[test]
fn test_blocking_call_on_the_driving_thread_is_refused() {
    let (thread_tx, _thread_rx) = mpsc::channel();
    let (mut driver, handle) = mydht::start_driven(Driven(thread_tx)).expect("driven node");
    let started = Instant::now();
    let err = handle
        .query(Touch(*handle.local_peer().get_id()), 1, TIMEOUT)
        .expect_err("refused on the driving thread");
    assert!(matches!(err, NodeError::Misuse(_)), "{err}");
    assert_eq!(err.error().kind(), ErrorKind::Config);
    let err = handle.connected_peers(TIMEOUT).expect_err("refused too");
    assert!(matches!(err, NodeError::Misuse(_)), "{err}");
    assert_eq!(err.error().kind(), ErrorKind::Config);
    assert!(started.elapsed() < TIMEOUT / 2, "refused at once");

    let other = handle.clone();
    let (done_tx, done_rx) = mpsc::channel();
    let asker = std::thread::spawn(move || {
        let _ = done_tx.send(other.connected_peers(TIMEOUT).map(|p| p.len()));
    });
    let peers = turn_until_answered(&mut driver, &done_rx);
    assert_eq!(peers.expect("answered from another thread"), 0);
    asker.join().expect("asking thread");
    stop_driven(&mut driver, handle);
}
