//! The handle's calls as futures, on the thread that drives the loops:
//! `connect_future`, `wait_peers_future`, `connected_peers_future` resolve
//! with their answers, and with their typed errors.

use std::future::Future;
use std::net::TcpListener;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use mydht::{MainLoopDriver, MainLoopSpawn, MyDHTConf, NodeError, PeerCount};
use mydht_base::{Peer, Result};
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::{address_of, TIMEOUT};
use mydht_basetest::touch_conf_items;
use mydht_tcp::TcpTransport;

/// A `restartable!` touch node whose loop the test's thread turns.
struct OnThisThread;

impl MyDHTConf for OnThisThread {
    touch_conf_items!(restartable, TcpTransport);

    fn main_loop_spawn(&self) -> MainLoopSpawn {
        MainLoopSpawn::Caller
    }
    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
}

/// Turns every loop until `call` resolves (at most [`TIMEOUT`]).
fn drive<T>(drivers: &mut [MainLoopDriver<OnThisThread>], call: impl Future<Output = T>) -> T {
    let mut call = pin!(call);
    let mut cx = Context::from_waker(Waker::noop());
    let start = Instant::now();
    loop {
        if let Poll::Ready(answer) = call.as_mut().poll(&mut cx) {
            return answer;
        }
        assert!(start.elapsed() < TIMEOUT, "the future never resolved");
        for d in drivers.iter_mut() {
            d.run_once(Duration::from_millis(1)).expect("turn");
        }
    }
}

#[test]
fn connect_and_wait_peers_resolve_on_the_driving_thread() {
    let (d1, n1) = mydht::start_driven(OnThisThread).expect("node 1");
    let (d2, n2) = mydht::start_driven(OnThisThread).expect("node 2");
    let mut drivers = [d1, d2];
    let to = address_of(&n2).expect("address");
    let peer =
        drive(&mut drivers, n1.connect_future(to, TIMEOUT).expect("asked")).expect("connected");
    assert_eq!(peer.get_id(), n2.local_peer().get_id());
    let peers = drive(
        &mut drivers,
        n2.wait_peers_future(PeerCount::AtLeast(1), TIMEOUT)
            .expect("asked"),
    )
    .expect("n2 sees n1");
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].get_id(), n1.local_peer().get_id());
    let listed = drive(
        &mut drivers,
        n1.connected_peers_future(TIMEOUT).expect("asked"),
    )
    .expect("listed");
    assert_eq!(listed.len(), 1);

    // A closed port: the future gives the typed error.
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port");
    let err = drive(
        &mut drivers,
        n1.connect_future(closed, TIMEOUT).expect("asked"),
    )
    .expect_err("nothing listens there");
    assert!(matches!(err, NodeError::Unreachable(_)), "{err}");
    n1.stop().expect("stop");
    n2.stop().expect("stop");
    for mut d in drivers {
        while d.run_once(Duration::ZERO).expect("turn") {}
    }
}
