//! The handle's calls as futures, on the thread that drives the loops:
//! `connect_future`, `wait_peers_future`, `connected_peers_future` resolve
//! with their answers, and with their typed errors.
//!
//! And many nodes driven by waiting on their pollers' descriptors
//! (`AsRawFd`) instead of turning every loop in turn: the descriptor is
//! readable when a connection or a command needs the node, quiet
//! otherwise, and `next_wait` bounds each wait by the loop's deadlines.

use std::future::Future;
use std::net::TcpListener;
#[cfg(target_os = "linux")]
use std::os::fd::AsRawFd;
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

#[cfg(target_os = "linux")]
/// Waits on every driver's descriptor at most `max` (and each one's
/// `next_wait`); turns those that are ready or due. Answers how many were
/// turned because their descriptor was readable.
fn wait_and_turn(drivers: &mut [MainLoopDriver<OnThisThread>], max: Duration) -> usize {
    let wait = drivers
        .iter()
        .map(|d| d.next_wait())
        .fold(max, Duration::min);
    let mut fds: Vec<libc::pollfd> = drivers
        .iter()
        .map(|d| libc::pollfd {
            fd: d.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `fds` is a live array of `fds.len()` pollfd entries.
    let n = unsafe {
        libc::poll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            wait.as_millis() as libc::c_int,
        )
    };
    assert!(n >= 0, "poll failed: {}", std::io::Error::last_os_error());
    let mut by_fd = 0;
    for (d, fd) in drivers.iter_mut().zip(&fds) {
        let ready = fd.revents & libc::POLLIN != 0;
        if ready || d.next_wait().is_zero() {
            by_fd += usize::from(ready);
            d.run_once(Duration::ZERO).expect("turn");
        }
    }
    by_fd
}

#[cfg(target_os = "linux")]
#[test]
fn nodes_driven_by_waiting_on_their_descriptors() {
    let (d1, n1) = mydht::start_driven(OnThisThread).expect("node 1");
    let (d2, n2) = mydht::start_driven(OnThisThread).expect("node 2");
    let mut drivers = [d1, d2];
    let to = address_of(&n2).expect("address");
    let peer =
        drive(&mut drivers, n1.connect_future(to, TIMEOUT).expect("asked")).expect("connected");
    assert_eq!(peer.get_id(), n2.local_peer().get_id());

    // Settled: turned until neither has work left nor a ready descriptor.
    let start = Instant::now();
    while wait_and_turn(&mut drivers, Duration::ZERO) > 0
        || drivers.iter().any(|d| d.next_wait().is_zero())
    {
        assert!(start.elapsed() < TIMEOUT, "the nodes never settled");
    }
    // Idle nodes: their descriptors stay quiet for a whole wait (time that
    // passes on purpose: nothing may happen in it).
    assert_eq!(wait_and_turn(&mut drivers, Duration::from_millis(50)), 0);

    // A command from another thread makes node 1's descriptor readable.
    let asking = {
        let n1 = n1.clone();
        std::thread::spawn(move || n1.connected_peers(TIMEOUT))
    };
    let start = Instant::now();
    let mut woken = 0;
    while !asking.is_finished() {
        assert!(start.elapsed() < TIMEOUT, "the command was never answered");
        // Bounded: the asking thread ends after its answer, which no
        // descriptor tells.
        woken += wait_and_turn(&mut drivers, Duration::from_millis(20));
    }
    let listed = asking.join().expect("asking thread").expect("answered");
    assert_eq!(listed.len(), 1);
    assert!(
        woken >= 1,
        "the command did not make the descriptor readable"
    );

    n1.stop().expect("stop");
    n2.stop().expect("stop");
    for d in &mut drivers {
        while d.run_once(Duration::ZERO).expect("turn") {}
        assert_eq!(d.as_raw_fd(), -1, "a stopped node has no poller");
    }
}
