//! A peers process: `count` driven `restartable!` touch nodes turned by
//! one thread (and, in the first process, the probe: a node on a thread of
//! its own, waiting in its poll, so its replies are not delayed by the
//! others' turns). It takes commands on its stdin and answers on stdout,
//! one line each:
//!
//! | command | answer |
//! |---|---|
//! | (start) | `ready` once the nodes are made |
//! | `probe` | `probe <address>` once the probe is connected |
//! | `connect` | `connected <n>` once every node is; they keep turning |
//! | `rest` | (none) the nodes stop turning, their connections stay |
//! | `touch` | `touched <answered>`: each node touches the hub once |
//! | `stop` | `stopped`, then the process ends |

use std::future::Future;
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::task::Poll;
use std::time::{Duration, Instant};

use mydht::{MainLoopDriver, NodeHandle, PeerId};
use mydht_base::Peer;
use mydht_basetest::harness::touch::{Touch, Touched};

use super::shared::{poll_once, raise_open_files, Spoke};
use super::TIMEOUT;

/// Connects in flight at once.
const IN_FLIGHT: usize = 64;

type Node = (MainLoopDriver<Spoke>, NodeHandle<Spoke>);

fn turn_all(nodes: &mut [Node]) {
    for (driver, _) in nodes.iter_mut() {
        driver.run_once(Duration::ZERO).expect("peer turn");
    }
}

/// Polls `futures` between turns of `nodes` until all resolved; for each,
/// whether it resolved with `Ok` and passed `check`.
fn settle<F, T, E>(nodes: &mut [Node], futures: Vec<F>, check: impl Fn(&T) -> bool) -> Vec<bool>
where
    F: Future<Output = std::result::Result<T, E>> + Unpin,
{
    let deadline = Instant::now() + TIMEOUT;
    let mut futures: Vec<_> = futures.into_iter().enumerate().collect();
    let mut ok = vec![false; futures.len()];
    while !futures.is_empty() && Instant::now() < deadline {
        turn_all(nodes);
        futures.retain_mut(|(i, f)| match poll_once(f) {
            Poll::Ready(res) => {
                ok[*i] = res.is_ok_and(|v| check(&v));
                false
            }
            Poll::Pending => true,
        });
    }
    ok
}

/// Connects every node, `IN_FLIGHT` at a time, those that failed (a
/// handshake past its deadline on a loaded machine) again, three rounds
/// at most; how many connected.
fn connect_all(nodes: &mut [Node], hub: SocketAddr) -> usize {
    let mut left: Vec<usize> = (0..nodes.len()).collect();
    for _ in 0..3 {
        let mut failed = Vec::new();
        for batch in left.chunks(IN_FLIGHT) {
            let futures = batch
                .iter()
                .map(|&i| nodes[i].1.connect_future(hub, TIMEOUT).expect("connect"))
                .collect();
            let ok = settle(nodes, futures, |_| true);
            failed.extend(batch.iter().zip(ok).filter(|(_, ok)| !ok).map(|(i, _)| *i));
        }
        left = failed;
    }
    nodes.len() - left.len()
}

/// The turning thread: answers its commands on `answers`.
fn turner(
    count: usize,
    hub: SocketAddr,
    commands: Receiver<String>,
    answers: mpsc::Sender<String>,
) {
    let mut nodes: Vec<Node> = (0..count)
        .map(|_| mydht::start_driven(Spoke).expect("peer node"))
        .collect();
    let hub_id = std::sync::OnceLock::<PeerId>::new();
    answers.send("ready".into()).expect("answer");
    let mut turning = false;
    loop {
        let command = if turning {
            match commands.try_recv() {
                Ok(c) => c,
                Err(TryRecvError::Empty) => {
                    turn_all(&mut nodes);
                    continue;
                }
                Err(TryRecvError::Disconnected) => break,
            }
        } else {
            match commands.recv() {
                Ok(c) => c,
                Err(_) => break,
            }
        };
        match command.as_str() {
            "connect" => {
                let n = connect_all(&mut nodes, hub);
                let peers = nodes[0].1.connected_peers_future(TIMEOUT).expect("peers");
                settle(&mut nodes, vec![peers], |p| {
                    if let Some(p) = p.first() {
                        let _ = hub_id.set(*p.get_id());
                    }
                    true
                });
                answers.send(format!("connected {n}")).expect("answer");
                turning = true;
            }
            "rest" => turning = false,
            "touch" => {
                let id = *hub_id.get().expect("connected first");
                let touches = nodes
                    .iter()
                    .map(|(_, h)| h.query_future(Touch(id), 2, TIMEOUT).expect("touch"))
                    .collect();
                let ok = settle(&mut nodes, touches, |r| r.contains(&Touched(id)));
                let n = ok.iter().filter(|ok| **ok).count();
                answers.send(format!("touched {n}")).expect("answer");
            }
            _ => break,
        }
    }
    for (mut driver, handle) in nodes {
        handle.stop().expect("stop asked");
        while driver.run_once(Duration::ZERO).expect("turn") {}
    }
}

/// The probe's thread: a node that waits in its poll between events.
fn probe(hub: SocketAddr, commands: Receiver<String>, answers: mpsc::Sender<String>) {
    let (mut driver, handle) = mydht::start_driven(Spoke).expect("probe node");
    let mut connect = None;
    loop {
        match commands.try_recv() {
            Ok(c) if c == "probe" => {
                connect = Some(handle.connect_future(hub, TIMEOUT).expect("connect"));
            }
            Ok(_) | Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {}
        }
        driver
            .run_once(Duration::from_millis(5))
            .expect("probe turn");
        if let Some(Poll::Ready(res)) = connect.as_mut().map(poll_once) {
            res.expect("probe connected");
            connect = None;
            let me = handle.local_peer().get_address().to_string();
            answers.send(format!("probe {me}")).expect("answer");
        }
    }
    handle.stop().expect("stop asked");
    while driver.run_once(Duration::ZERO).expect("turn") {}
}

/// The process's main: `count` nodes connecting to `hub`, and the probe
/// when `with_probe`.
pub fn run(hub: SocketAddr, count: usize, with_probe: bool) {
    raise_open_files();
    let (answers, answered) = mpsc::channel();
    let (turner_tx, turner_rx) = mpsc::channel();
    let a = answers.clone();
    let turner = std::thread::spawn(move || turner(count, hub, turner_rx, a));
    let probe_tx = with_probe.then(|| {
        let (tx, rx) = mpsc::channel();
        let a = answers.clone();
        (tx, std::thread::spawn(move || probe(hub, rx, a)))
    });
    drop(answers);
    let mut out = std::io::stdout().lock();
    let mut say = |line: String| {
        writeln!(out, "{line}").expect("stdout");
        out.flush().expect("stdout");
    };
    say(answered.recv().expect("ready"));
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        match line.as_str() {
            "probe" => {
                let (tx, _) = probe_tx.as_ref().expect("no probe here");
                tx.send(line).expect("probe thread");
                say(answered.recv().expect("probe answer"));
            }
            "connect" | "touch" => {
                turner_tx.send(line).expect("turner");
                say(answered.recv().expect("answer"));
            }
            "rest" => turner_tx.send(line).expect("turner"),
            _ => break,
        }
    }
    drop(turner_tx);
    turner.join().expect("turner");
    if let Some((tx, thread)) = probe_tx {
        drop(tx);
        thread.join().expect("probe");
    }
    say("stopped".into());
}
