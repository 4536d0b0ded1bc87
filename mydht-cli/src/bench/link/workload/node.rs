//! The node side of the link workload: two nodes of an echo
//! configuration, requests, bulk transfers and connections through them.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use mydht::{start_loop, NodeHandle, PeerCount, PeerId};
use mydht_base::{Error, ErrorKind, ErrorLevel, Peer, Result};

use super::{EchoCmd, EchoConf, BULK, CHUNK, MSG};

/// Two running nodes, the first connected to the second.
pub struct Pair<C: EchoConf> {
    /// The node that asks.
    pub n1: NodeHandle<C>,
    /// The node that answers.
    pub n2: NodeHandle<C>,
    /// The second node's id.
    pub to: PeerId,
}

impl<C: EchoConf> Pair<C> {
    /// Starts two nodes of `mk` and connects the first to the second
    /// within `timeout`.
    pub fn start(mk: fn() -> C, timeout: Duration) -> Result<Self> {
        let n1 = start_loop(mk())?;
        let n2 = match start_loop(mk()) {
            Ok(n) => n,
            Err(e) => {
                let _ = n1.stop();
                return Err(e);
            }
        };
        let linked = address(&n2).and_then(|a| Ok(*n1.connect(a, timeout)?.get_id()));
        match linked {
            Ok(to) => Ok(Pair { n1, n2, to }),
            Err(e) => {
                let _ = n1.stop();
                let _ = n2.stop();
                Err(e)
            }
        }
    }

    /// Stops both nodes.
    pub fn stop(self) -> Result<()> {
        let first = self.n1.stop();
        self.n2.stop()?;
        first
    }
}

/// The socket address `node` listens on.
pub fn address<C: EchoConf>(node: &NodeHandle<C>) -> Result<std::net::SocketAddr> {
    node.local_peer()
        .get_address()
        .parse()
        .map_err(|_| failed("the node's address is not a socket address"))
}

fn failed(message: &str) -> Error {
    Error::new(ErrorKind::Other, ErrorLevel::Ignore, message.to_string())
}

/// 16 MiB from the first node to the second in 64 KiB messages, until
/// the second acknowledges the last.
pub fn bulk_once<C: EchoConf>(p: &Pair<C>, timeout: Duration) -> Result<()> {
    let r = p.n1.query(EchoCmd::Bulk(p.to, BULK / CHUNK), 1, timeout)?;
    match r[..] {
        [0] => Ok(()),
        _ => Err(failed("the bulk transfer was not acknowledged")),
    }
}

/// A minimal executor for the node's futures: polls on the caller's
/// thread, parked between wake-ups.
struct Unpark(Thread);
impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

/// `n` request/responses of [`MSG`] bytes through the pair with `window`
/// in flight: the latency of each.
pub fn node_requests<C: EchoConf>(
    p: &Pair<C>,
    n: usize,
    window: usize,
    timeout: Duration,
) -> Result<Vec<Duration>> {
    let mut lat = Vec::with_capacity(n);
    let mut flight = VecDeque::with_capacity(window);
    let mut sent = 0;
    while lat.len() < n {
        while sent < n && flight.len() < window.max(1) {
            let f =
                p.n1.query_future(EchoCmd::Ask(p.to, vec![1; MSG]), 1, timeout)?;
            flight.push_back((Instant::now(), f));
            sent += 1;
        }
        let Some((t, f)) = flight.pop_front() else {
            break;
        };
        let r = block_on(f).map_err(|e| failed(&format!("a request failed: {e:?}")))?;
        if r[..] != [MSG] {
            return Err(failed("a reply was not the request's length"));
        }
        lat.push(t.elapsed());
    }
    Ok(lat)
}

/// Connect, authenticate and a first reply on `iters` fresh node pairs
/// of `mk`: the time of those steps (starting and stopping the nodes is
/// not counted).
pub fn connect_fresh<C: EchoConf>(
    iters: u64,
    mk: fn() -> C,
    timeout: Duration,
) -> Result<Duration> {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let n1 = start_loop(mk())?;
        let n2 = start_loop(mk())?;
        let once = || -> Result<Duration> {
            let addr = address(&n2)?;
            let t = Instant::now();
            let to = *n1.connect(addr, timeout)?.get_id();
            let r = n1.query(EchoCmd::Ask(to, vec![1; MSG]), 1, timeout)?;
            let took = t.elapsed();
            match r[..] {
                [MSG] => Ok(took),
                _ => Err(failed("a reply was not the request's length")),
            }
        };
        let took = once();
        let stopped = n1.stop().and(n2.stop());
        total += took?;
        stopped?;
    }
    Ok(total)
}

/// Connect, authenticate and a first reply between the pair's running
/// nodes (disconnected first), `iters` times: the time of those steps
/// (the disconnection after each is not counted).
pub fn connect_running<C: EchoConf>(
    iters: u64,
    p: &Pair<C>,
    timeout: Duration,
) -> Result<Duration> {
    let addr = address(&p.n2)?;
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        p.n1.disconnect(&p.to, timeout)?;
        p.n2.wait_peers(PeerCount::AtMost(0), timeout)?;
        let t = Instant::now();
        let to = *p.n1.connect(addr, timeout)?.get_id();
        let r = p.n1.query(EchoCmd::Ask(to, vec![1; MSG]), 1, timeout)?;
        total += t.elapsed();
        if r[..] != [MSG] {
            return Err(failed("a reply was not the request's length"));
        }
    }
    Ok(total)
}
