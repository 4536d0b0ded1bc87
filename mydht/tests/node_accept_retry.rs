//! A node whose listener fails (out of file descriptors) accepts the
//! connections that wait in its backlog once descriptors free, without a
//! new connection to wake it: the listener's readiness is edge-triggered,
//! so the loop accepts again on a timer after a failure. A blocking
//! transport's listener thread waits as long before it accepts again,
//! instead of failing in a busy loop.
//!
//! Its own test binary: it lowers the process's open-file limit.
#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mydht::{MyDHTConf, NodeConstants};
use mydht_basetest::harness::conf::{blocking_loopback, loopback};
use mydht_basetest::harness::nodes::address_of;
use mydht_basetest::touch_conf_items;
use mydht_tcp::{BlockingTcpTransport, TcpTransport};
use socket2::{Domain, Socket, Type};

/// The node's handshake deadline: an accepted connection that says
/// nothing is closed after it.
const AUTH_TIMEOUT: Duration = Duration::from_millis(300);
/// How long the test waits for each thing it expects.
const WAIT: Duration = Duration::from_secs(10);

/// A slog drain that hands each record's message to the test, never
/// blocking the node.
struct Messages(Mutex<SyncSender<String>>);

impl slog::Drain for Messages {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &slog::Record, _: &slog::OwnedKVList) -> Result<(), slog::Never> {
        let tx = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = tx.try_send(record.msg().to_string());
        Ok(())
    }
}

/// A touch node under `$profile` on `$transport` whose log the test reads.
macro_rules! starved_conf {
    ($name:ident, $profile:ident, $transport:ty, $bind:expr) => {
        struct $name(SyncSender<String>);

        impl MyDHTConf for $name {
            touch_conf_items!($profile, $transport);

            fn init_transport(&mut self) -> mydht_base::Result<$transport> {
                $bind
            }
            fn constants(&self) -> NodeConstants {
                NodeConstants {
                    auth_timeout: AUTH_TIMEOUT,
                    ..NodeConstants::default()
                }
            }
            fn logger(&self) -> slog::Logger {
                slog::Logger::root(Messages(Mutex::new(self.0.clone())), slog::o!())
            }
        }
    };
}

starved_conf!(Polled, restartable, TcpTransport, loopback());
starved_conf!(
    Blocking,
    threaded_blocking,
    BlockingTcpTransport,
    blocking_loopback()
);

/// Waits for a log message equal to `msg`.
fn logged(rx: &Receiver<String>, msg: &str) -> bool {
    let until = Instant::now() + WAIT;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(m) if m == msg => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// The highest descriptor number open in this process.
fn highest_fd() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .expect("fd list")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .expect("some descriptor")
}

fn soft_limit() -> libc::rlimit {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct given.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim
}

fn set_limit(lim: &libc::rlimit) {
    // SAFETY: setrlimit only reads the struct given.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, lim) }, 0);
}

/// How many times `msg` is logged within `window`.
fn logged_within(rx: &Receiver<String>, msg: &str, window: Duration) -> usize {
    let until = Instant::now() + window;
    let mut n = 0;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(m) if m == msg => n += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    n
}

/// How long the node stays out of descriptors once its accept failed.
const STARVED: Duration = Duration::from_millis(500);

/// A client's socket, made before the node runs out of descriptors:
/// connecting it later takes none.
fn unconnected() -> Socket {
    Socket::new(Domain::IPV4, Type::STREAM, None).expect("client socket")
}

/// Waits until the node closes `client`'s connection (at its handshake
/// deadline, once it was accepted); `which` names it in the failure.
fn assert_closed_by_node(client: Socket, which: &str) {
    let mut client = TcpStream::from(client);
    client.set_read_timeout(Some(WAIT)).expect("read timeout");
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let end = client.read(&mut byte);
    assert!(
        matches!(&end, Ok(0)) || matches!(&end, Err(e) if e.kind() == ErrorKind::ConnectionReset),
        "the {which} connection was never accepted (and closed at its handshake deadline): {end:?} after {:?}",
        started.elapsed()
    );
}

/// Starts a node with `conf`, makes it run out of descriptors while two
/// clients' connections wait, frees them `STARVED` after its first failed
/// accept, and checks that both connections are then accepted (and closed
/// at their handshake deadline). Returns how many more accepts failed
/// while it was starved.
///
/// Two clients because a blocking listener thread already waiting in
/// `accept` holds the descriptor its next connection takes (Linux reserves
/// it before the thread sleeps): that thread accepts the first client at
/// once, and its next `accept` fails, with the second client waiting.
/// Under mio both wait.
fn starve<C: MyDHTConf>(conf: C, rx: &Receiver<String>) -> usize
where
    mydht::conf::Address<C>: std::str::FromStr + std::net::ToSocketAddrs,
{
    let node = mydht::start_loop(conf).expect("node");
    let address = address_of(&node)
        .expect("address")
        .to_socket_addrs()
        .expect("socket address")
        .next()
        .expect("one socket address");
    let (first, waiting) = (unconnected(), unconnected());
    // Every descriptor number up to `highest` taken, and a limit that
    // leaves none: the node's accept finds none.
    let highest = highest_fd();
    let mut padding = Vec::new();
    loop {
        let f = File::open("/dev/null").expect("padding");
        if f.as_raw_fd() as u64 > highest {
            break;
        }
        padding.push(f);
    }
    let before = soft_limit();
    set_limit(&libc::rlimit {
        rlim_cur: highest + 1,
        rlim_max: before.rlim_max,
    });
    first.connect(&address.into()).expect("first connect");
    waiting.connect(&address.into()).expect("second connect");
    let starved = logged(rx, "accept failed");
    let again = if starved {
        logged_within(rx, "accept failed", STARVED)
    } else {
        0
    };
    // Descriptors free again; no new connection comes to wake the node.
    padding.truncate(padding.len().saturating_sub(8));
    set_limit(&before);
    assert!(
        starved,
        "the node's accept never failed: the test proves nothing"
    );
    assert_closed_by_node(first, "first");
    assert_closed_by_node(waiting, "second");
    node.stop().expect("stop");
    again
}

/// At most this many accepts may fail in `STARVED` (one every 50 ms).
const FEW: usize = 20;

#[test]
fn a_connection_waiting_while_the_node_is_out_of_descriptors_is_accepted_once_some_free() {
    let (tx, rx) = sync_channel(1024);
    let again = starve(Polled(tx), &rx);
    assert!(again <= FEW, "{again} failed accepts in {STARVED:?}");
    let (tx, rx) = sync_channel(1024);
    let again = starve(Blocking(tx), &rx);
    assert!(
        again <= FEW,
        "the listener thread failed {again} accepts in {STARVED:?}: a busy loop"
    );
}
