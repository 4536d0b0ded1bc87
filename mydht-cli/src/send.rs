//! `mydht send`: a file sent through a tunnel of N relays to the node of
//! a peer id, which saves it in its receive directory.
//!
//! The sender joins the DHT through the bootstrap node (a short-lived
//! peer that discovers more peers), finds the receiver's tunnel address
//! and its relays' in the DHT ([`crate::transfer::record`]), starts a
//! tunnel node of its own connected to them, and sends the file's name,
//! size and SHA-256 with its bytes as the attachment; the receiver's
//! reply says what it saved.

use std::fs::File;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use mydht::{start_loop, Identity, NodeHandle, PeerCount, PeerId};
use mydht_base::Peer;
use mydht_kvstore::dht::Dht;
use mydht_tunnel::{Attachment, TunnelSendError};
use openssl::sha::Sha256;
use slog::{debug, Level, Logger};

use crate::cli::SendArgs;
use crate::error::{CliError, EXIT_NOT_FOUND};
use crate::logging;
use crate::peer;
use crate::transfer::{hex, plain_name, record, FileApp, FileNode, Offer, SendFile};

/// Peers the sender's DHT peer looks for (the relays are drawn among the
/// tunnel nodes of those that published a tunnel address).
const POOL: usize = 16;
/// How often the sender's DHT peer asks for more peers.
const DISCOVERY_EVERY: Duration = Duration::from_millis(200);
/// How long the sender waits for the peers it needs to connect (a small
/// network is found in a few discovery rounds).
const DISCOVERY_WAIT: Duration = Duration::from_secs(2);
/// How long the transfer may take at least; more time is given at one
/// MiB a second for the file's size.
const TRANSFER_BASE: Duration = Duration::from_secs(60);
/// Bytes hashed at a time.
const BLOCK: usize = 64 << 10;

/// Sends the file; prints where it went, its throughput and SHA-256.
pub fn run(args: SendArgs, verbose: u8) -> Result<(), CliError> {
    let log = logging::terminal(Level::Error, verbose);
    let (file, offer) = open(&args.file)?;
    let timeout = Duration::from_secs(args.timeout.max(1));
    let hops = args.hops as usize;

    let dht = peer::join_discovering(args.bootstrap, timeout, verbose, POOL, DISCOVERY_EVERY)?;
    let found = find_route(&dht, &args.to, hops, timeout, &log);
    let _ = dht.stop();
    let (exit, relays) = found?;

    let transfer = TRANSFER_BASE + Duration::from_secs(offer.size >> 20);
    let identity =
        Identity::generate().map_err(|e| CliError::node("cannot make an identity", &e))?;
    let listen = peer::listen_toward(exit);
    let app = FileApp::new(identity, listen, transfer, None);
    let node = start_loop(FileNode::new(app))
        .map_err(|e| CliError::node("cannot start a tunnel node", &e))?;
    let sent = connect_and_send(&node, &args.to, exit, &relays, hops, file, offer, timeout);
    let _ = node.stop();
    sent
}

/// The file opened, its name, size and SHA-256 (read once, with a
/// progress bar).
fn open(path: &Path) -> Result<(File, Offer), CliError> {
    let fail = |e: io::Error| CliError::local(format!("file {}: {e}", path.display()));
    let meta = std::fs::metadata(path).map_err(fail)?;
    if !meta.is_file() {
        return Err(CliError::local(format!(
            "file {}: not a regular file",
            path.display()
        )));
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| plain_name(n))
        .ok_or_else(|| {
            CliError::usage(format!(
                "file {}: its name must be UTF-8, not start with a dot, have no control character",
                path.display()
            ))
        })?
        .to_string();
    let mut file = File::open(path).map_err(fail)?;
    let bar = bytes_bar(meta.len(), "hashing");
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; BLOCK];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(fail)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        size += n as u64;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    let file = File::open(path).map_err(fail)?;
    let sha256 = sha.finish();
    Ok((file, Offer { name, size, sha256 }))
}

/// The receiver's tunnel address and at least `hops` relays' (fewer is
/// an error), found in the DHT.
fn find_route(
    dht: &Dht,
    to: &PeerId,
    hops: usize,
    timeout: Duration,
    log: &Logger,
) -> Result<(SocketAddr, Vec<(PeerId, SocketAddr)>), CliError> {
    let exit = record::lookup(dht, to, timeout)
        .map_err(|e| CliError::dht("cannot look the peer id up", &e))?
        .ok_or_else(|| {
            CliError::new(
                EXIT_NOT_FOUND,
                format!(
                    "unknown peer id {to}: no node of the network announced its tunnel address"
                ),
            )
        })?;
    if hops == 0 {
        return Ok((exit, Vec::new()));
    }
    // Waits for enough peers (the receiver may be one), or takes those
    // found in the time.
    let wanted = PeerCount::AtLeast(hops + 1);
    let peers = match dht.node().wait_peers(wanted, DISCOVERY_WAIT.min(timeout)) {
        Ok(p) => p,
        Err(_) => dht
            .node()
            .connected_peers(timeout)
            .map_err(|e| CliError::call("cannot list the peers found", &e))?,
    };
    let ids: Vec<PeerId> = peers
        .iter()
        .map(|p| *p.get_id())
        .filter(|id| id != to)
        .collect();
    let relays: Vec<(PeerId, SocketAddr)> = std::thread::scope(|s| {
        let asks: Vec<_> = ids
            .iter()
            .map(|id| {
                let dht = dht.clone();
                s.spawn(move || (*id, record::lookup(&dht, id, timeout)))
            })
            .collect();
        asks.into_iter()
            .filter_map(|a| match a.join() {
                Ok((id, Ok(Some(address)))) => Some((id, address)),
                Ok((id, other)) => {
                    debug!(log, "no relay"; "peer" => %id, "found" => ?other.map_err(|e| e.to_string()));
                    None
                }
                Err(_) => None,
            })
            .collect()
    });
    if relays.len() < hops {
        return Err(not_enough(hops, relays.len()));
    }
    Ok((exit, relays))
}

fn not_enough(hops: usize, have: usize) -> CliError {
    CliError::unreachable(format!(
        "not enough relays: --hops {hops} needs {hops} peers besides the receiver, the network gave {have}"
    ))
}

/// Connects the tunnel node to the receiver and the relays (each
/// checked to be the peer its record named), then sends.
#[allow(clippy::too_many_arguments)]
fn connect_and_send(
    node: &NodeHandle<FileNode>,
    to: &PeerId,
    exit: SocketAddr,
    relays: &[(PeerId, SocketAddr)],
    hops: usize,
    file: File,
    offer: Offer,
    timeout: Duration,
) -> Result<(), CliError> {
    let receiver = node
        .connect(exit, timeout)
        .map_err(|e| CliError::call(&format!("cannot reach the receiver at {exit}"), &e))?;
    if receiver.get_id() != to {
        return Err(CliError::failed(format!(
            "the tunnel node at {exit} is {}, not {to}",
            receiver.get_id()
        )));
    }
    let linked = relays
        .iter()
        .filter(|(id, address)| {
            node.connect(*address, timeout)
                .is_ok_and(|p| p.get_id() == id)
        })
        .count();
    if linked < hops {
        return Err(not_enough(hops, linked));
    }

    let (name, size, sha256) = (offer.name.clone(), offer.size, offer.sha256);
    let bar = bytes_bar(size, "sending");
    let bytes = Attachment(Box::new(Progress {
        inner: file,
        bar: bar.clone(),
    }));
    let cmd = SendFile {
        to: *to,
        hops,
        offer,
        bytes,
    };
    let started = Instant::now();
    let wait = TRANSFER_BASE + Duration::from_secs(size >> 20) + timeout;
    let answer = node.query(cmd.into(), 1, wait);
    let took = started.elapsed();
    bar.finish_and_clear();
    let answer = answer.map_err(|e| CliError::call("the transfer", &e))?;
    let saved = match answer.into_iter().next() {
        Some(Ok(Ok(saved))) => saved,
        Some(Ok(Err(refusal))) => {
            return Err(CliError::failed(format!(
                "the receiver refused {name}: {refusal}"
            )))
        }
        Some(Err(e)) => return Err(tunnel_error(&e)),
        None => return Err(CliError::failed("the transfer: no answer")),
    };
    if saved.size != size || saved.sha256 != sha256 {
        return Err(CliError::failed(format!(
            "the receiver saved {} bytes of SHA-256 {}, not the file sent",
            saved.size,
            hex(&saved.sha256)
        )));
    }
    let secs = took.as_secs_f64();
    println!(
        "sent {name} to {to} through {hops} relays: {size} bytes in {secs:.2} s ({:.1} MB/s)",
        size as f64 / secs.max(1e-9) / 1e6
    );
    println!("sha256 {} (checked by the receiver)", hex(&sha256));
    println!("saved as {}", saved.name);
    Ok(())
}

/// A failed tunnel as the user reads it.
fn tunnel_error(e: &TunnelSendError) -> CliError {
    match e {
        TunnelSendError::Timeout | TunnelSendError::Unreachable => {
            CliError::unreachable(format!("the transfer: {e}"))
        }
        _ => CliError::failed(format!("the transfer: {e}")),
    }
}

/// A progress bar of `len` bytes with its throughput (drawn on standard
/// error, hidden when it is not a terminal).
fn bytes_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:<8} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {elapsed}",
        )
        .expect("a fixed template"),
    );
    bar.set_message(what.to_string());
    bar
}

/// The file's bytes, counted on the progress bar as the tunnel reads
/// them.
struct Progress {
    inner: File,
    bar: ProgressBar,
}

impl Read for Progress {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
