//! `NodeConstants::idle_close` between live nodes over TCP: a pooled
//! connection that moves no byte for the period is closed (each side's
//! global service hears its peer go offline, and both sockets are closed),
//! one that carries traffic stays.

use std::fs;
use std::net::SocketAddr;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use mydht::service::PeersView;
use mydht::Reply;
use mydht::{GlobalCommand, MyDHTConf, NodeConstants, NodeHandle, PeerId, PeerInfo, PeerStatus};
use mydht_base::{Peer, Result, Service, SpawnerYield};
use mydht_basetest::harness::conf::{blocking_loopback, loopback};
use mydht_basetest::harness::nodes::{connect, touch, TIMEOUT};
use mydht_basetest::harness::touch::{Touch, TouchGlobal, TouchMsg, Touched};
use mydht_basetest::touch_conf_items;
use mydht_tcp::{BlockingTcpTransport, TcpTransport};

/// The idle period of the tests.
const IDLE: Duration = Duration::from_millis(1_500);

/// A peer's status as a node's global service heard it.
type Event = (PeerId, bool);

/// The touch app's global service, telling the test of peer events.
pub struct Watch<C> {
    touch: TouchGlobal<C>,
    events: Sender<Event>,
}

impl<C> Service for Watch<C>
where
    C: MyDHTConf<GlobalCmd = Touch, ProtoMsg = TouchMsg, ApiReply = Touched>,
{
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, y: &mut Y) -> Result<Reply<C>> {
        if let GlobalCommand::PeerStatus(p, s) = &cmd {
            let _ = self
                .events
                .send((*p.get_id(), matches!(s, PeerStatus::Online)));
        }
        self.touch.call(cmd, y)
    }
}

macro_rules! watched_conf {
    ($name:ident, $profile:ident) => {
        watched_conf!($name, $profile, TcpTransport, loopback());
    };
    ($name:ident, $profile:ident, $transport:ty, $bind:expr) => {
        struct $name(Sender<Event>);

        impl MyDHTConf for $name {
            touch_conf_items!($profile(), $transport, global = Watch<Self>);

            fn init_global(&mut self, me: &PeerInfo, _: &PeersView) -> Result<Watch<Self>> {
                Ok(Watch {
                    touch: TouchGlobal::new(*me.get_id()),
                    events: self.0.clone(),
                })
            }
            fn init_transport(&mut self) -> Result<$transport> {
                $bind
            }
            fn constants(&self) -> NodeConstants {
                NodeConstants {
                    idle_close: Some(IDLE),
                    ..NodeConstants::default()
                }
            }
        }
    };
}

watched_conf!(Restart, restartable);
watched_conf!(Threaded, threaded);
watched_conf!(
    Blocking,
    threaded_blocking,
    BlockingTcpTransport,
    blocking_loopback()
);

/// A node and the peer events its global service heard.
fn node<C: MyDHTConf>(mk: fn(Sender<Event>) -> C) -> (NodeHandle<C>, Receiver<Event>) {
    let (tx, rx) = channel();
    (mydht::start_loop(mk(tx)).expect("node"), rx)
}

/// The next peer event, within `within`.
fn next_event(rx: &Receiver<Event>, within: Duration) -> Event {
    rx.recv_timeout(within).expect("a peer event in time")
}

/// The port of a node's listening address.
fn port_of<C: MyDHTConf>(n: &NodeHandle<C>) -> u16 {
    let a: SocketAddr = n.local_peer().get_address().parse().expect("address");
    a.port()
}

/// The TCP sockets of this process's network namespace between local port
/// `a` and local port `b` (either way), with whether a descriptor still
/// holds each (a closed socket lingers only as an orphan or in
/// `TIME_WAIT`, with inode 0).
fn sockets_between(a: u16, b: u16) -> Vec<(u16, u16, bool)> {
    let table = fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let port = |field: &str| {
        let hex = field.rsplit(':').next().expect("port");
        u16::from_str_radix(hex, 16).expect("hex port")
    };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (local, remote, inode) = (port(f[1]), port(f[2]), f[9]);
            let ours = (local, remote) == (a, b) || (local, remote) == (b, a);
            ours.then_some((local, remote, inode != "0"))
        })
        .collect()
}

/// The local port of the connection node `from` dialled to `to`'s port.
fn dialled_port(to: u16) -> u16 {
    let table = fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let established = table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let remote = u16::from_str_radix(f[2].rsplit(':').next()?, 16).ok()?;
        let local = u16::from_str_radix(f[1].rsplit(':').next()?, 16).ok()?;
        (remote == to && f[3] == "01").then_some(local)
    });
    established.expect("the dialled connection in /proc/net/tcp")
}

/// Waits until no descriptor holds a socket of the connection (a service
/// on a thread drops its stream when its thread ends, just after the
/// close): polled, at most [`TIMEOUT`].
fn assert_sockets_closed(a: u16, b: u16) {
    let start = Instant::now();
    loop {
        let held: Vec<_> = sockets_between(a, b).into_iter().filter(|s| s.2).collect();
        if held.is_empty() {
            return;
        }
        assert!(start.elapsed() < TIMEOUT, "sockets still held: {held:?}");
        std::thread::yield_now();
    }
}

fn idle_connection_closes<C>(mk: fn(Sender<Event>) -> C)
where
    C: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
{
    let (n1, ev1) = node(mk);
    let (n2, ev2) = node(mk);
    let (id1, id2) = (*n1.local_peer().get_id(), *n2.local_peer().get_id());
    // The connection's last bytes move after this.
    let quiet = Instant::now();
    connect(&n1, &n2).expect("connect");
    assert_eq!(next_event(&ev1, TIMEOUT), (id2, true));
    assert_eq!(next_event(&ev2, TIMEOUT), (id1, true));
    let (p2, p1) = (port_of(&n2), dialled_port(port_of(&n2)));
    assert!(
        sockets_between(p1, p2).iter().all(|s| s.2),
        "both sockets open"
    );

    // Nothing moves: both sides hear the peer go offline, after the period.
    assert_eq!(next_event(&ev1, TIMEOUT), (id2, false));
    assert_eq!(next_event(&ev2, TIMEOUT), (id1, false));
    assert!(
        quiet.elapsed() >= IDLE,
        "closed after {:?}",
        quiet.elapsed()
    );
    assert_sockets_closed(p1, p2);
    assert!(n1.connected_peers(TIMEOUT).expect("peers").is_empty());
    assert!(n2.connected_peers(TIMEOUT).expect("peers").is_empty());

    // The nodes connect again as before.
    connect(&n1, &n2).expect("connect again");
    touch(&n1, &n2).expect("touch");
    n1.stop().expect("stop 1");
    n2.stop().expect("stop 2");
}

fn busy_connection_stays<C>(mk: fn(Sender<Event>) -> C)
where
    C: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
{
    let (n1, ev1) = node(mk);
    let (n2, ev2) = node(mk);
    connect(&n1, &n2).expect("connect");
    next_event(&ev1, TIMEOUT);
    next_event(&ev2, TIMEOUT);
    // A touch each quarter period (the wait for a peer event is the pace),
    // for three periods: no event.
    let start = Instant::now();
    while start.elapsed() < 3 * IDLE {
        touch(&n1, &n2).expect("touch");
        match ev1.recv_timeout(IDLE / 4) {
            Err(RecvTimeoutError::Timeout) => {}
            other => panic!("a busy connection changed: {other:?}"),
        }
    }
    assert!(ev2.try_recv().is_err(), "a busy connection changed");
    assert_eq!(n1.connected_peers(TIMEOUT).expect("peers").len(), 1);
    n1.stop().expect("stop 1");
    n2.stop().expect("stop 2");
}

#[test]
fn idle_connection_closes_restartable() {
    idle_connection_closes(Restart);
}

#[test]
fn idle_connection_closes_threaded() {
    idle_connection_closes(Threaded);
}

#[test]
fn busy_connection_stays_restartable() {
    busy_connection_stays(Restart);
}

#[test]
fn busy_connection_stays_threaded() {
    busy_connection_stays(Threaded);
}

#[test]
fn idle_connection_closes_threaded_blocking() {
    idle_connection_closes(Blocking);
}

#[test]
fn busy_connection_stays_threaded_blocking() {
    busy_connection_stays(Blocking);
}
