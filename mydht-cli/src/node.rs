//! `mydht node`: a long-running DHT node with its identity and redb store
//! in its data directory, and beside it a tunnel node of the same
//! identity that relays tunnels and, with `--receive-dir`, saves the
//! files sent to it (its tunnel address published in the DHT, see
//! [`crate::transfer::record`]); stopped cleanly by Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use mydht::start_loop;
use mydht_base::Peer;
use mydht_kvstore::dht::{Dht, DhtConf, RouteChoice, StoreChoice};
use mydht_kvstore::kademlia::KademliaConf;
use slog::{debug, info, warn, Level, Logger};

use crate::cli::NodeArgs;
use crate::datadir;
use crate::error::CliError;
use crate::logging;
use crate::transfer::receive::ReceiveConf;
use crate::transfer::{record, FileApp, FileNode};

/// How long a dial to a bootstrap node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Copies of each value the network keeps: a node stores a peer's value
/// when fewer than this many of its peers are closer to the key, and `put`
/// sends it to this many peers.
pub const REPLICAS: usize = 3;
/// Peers a node keeps connected through discovery: below it, the node
/// asks its peers for others every [`DISCOVERY_EVERY`].
const POOL_SIZE: usize = 16;
/// How often a node below its pool size looks for peers.
const DISCOVERY_EVERY: Duration = Duration::from_secs(1);
/// How often the node logs its peer count when it changed.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// How long a put of the node's tunnel record may take.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the tunnel node remembers a link it relayed on (to carry an
/// error report back).
const TUNNEL_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs the node until a signal; prints `id ...`, `listening ...`,
/// `bootstrap ...` lines and `ready` on standard output.
pub fn run(args: NodeArgs, verbose: u8) -> Result<(), CliError> {
    let log = logging::terminal(Level::Info, verbose);
    let dir = datadir::open(args.data_dir)?;
    let identity = datadir::identity(&dir, datadir::NODE_IDENTITY)?;
    let receive = match args.receive_dir {
        Some(d) => Some(
            ReceiveConf::open(d.clone(), args.max_receive << 20, log.clone()).map_err(|e| {
                CliError::local(format!(
                    "receive directory {}: not writable ({e})",
                    d.display()
                ))
            })?,
        ),
        None => None,
    };
    let (stop_tx, stop_rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })
    .map_err(|e| CliError::failed(format!("cannot catch signals: {e}")))?;

    let mut conf = DhtConf::new(identity.clone());
    conf.listen = args.listen;
    conf.logger = Some(log.clone());
    conf.settings.store = StoreChoice::Redb(dir.clone());
    conf.settings.route = RouteChoice::Kademlia(KademliaConf::default());
    conf.settings.replicas = REPLICAS;
    conf.constants.pool_size = POOL_SIZE;
    conf.constants.refresh = DISCOVERY_EVERY;
    let tunnel_listen = args
        .tunnel_listen
        .unwrap_or(SocketAddr::new(args.listen.ip(), 0));
    let app = FileApp::new(identity, tunnel_listen, TUNNEL_TIMEOUT, receive);
    let tunnel = start_loop(FileNode::new(app)).map_err(|e| {
        CliError::node(
            &format!("cannot start a tunnel node on {tunnel_listen}"),
            &e,
        )
    })?;
    let dht = match Dht::start(conf) {
        Ok(dht) => dht,
        Err(e) => {
            let _ = tunnel.stop();
            let what = format!("cannot start a node on {}", args.listen);
            return Err(CliError::start(&what, &e));
        }
    };
    let me = dht.local_peer().clone();
    println!("id {}", me.get_id());
    println!("listening {}", me.get_address());
    let tunnel_address = tunnel.local_peer().get_address().to_string();
    println!("tunnel {tunnel_address}");
    info!(log, "data directory"; "path" => %dir.display());

    let started = bootstrap(&dht, &args.bootstrap, &log).and_then(|()| {
        tunnel_address
            .parse()
            .map_err(|_| CliError::failed("the tunnel node has no socket address"))
    });
    let tunnel_address: SocketAddr = match started {
        Ok(a) => a,
        Err(e) => {
            let _ = dht.stop();
            let _ = tunnel.stop();
            return Err(e);
        }
    };
    publish(&dht, tunnel_address, &log);
    println!("ready");
    wait_for_signal(&dht, &stop_rx, &log);
    info!(log, "stopping");
    let tunnel_stopped = tunnel.stop();
    dht.stop()
        .map_err(|e| CliError::dht("the node did not stop cleanly", &e))?;
    tunnel_stopped.map_err(|e| CliError::node("the tunnel node did not stop cleanly", &e))?;
    println!("stopped");
    Ok(())
}

/// Puts the tunnel record; a failure is logged (the DHT places the value
/// again on peers closer to its key as they come online).
fn publish(dht: &Dht, address: SocketAddr, log: &Logger) {
    match record::publish(dht, address, PUBLISH_TIMEOUT) {
        Ok(n) => debug!(log, "tunnel address published"; "peers" => n),
        Err(e) => warn!(log, "tunnel address not published"; "error" => %e),
    }
}

/// Connects to each bootstrap node; fails only when none answers.
fn bootstrap(dht: &Dht, addrs: &[std::net::SocketAddr], log: &Logger) -> Result<(), CliError> {
    let mut last = None;
    let mut joined = 0;
    for addr in addrs {
        match dht.node().connect(*addr, CONNECT_TIMEOUT) {
            Ok(peer) => {
                joined += 1;
                println!("bootstrap {addr} {}", peer.get_id());
            }
            Err(e) => {
                warn!(log, "bootstrap node unreachable"; "address" => %addr, "error" => %e);
                last = Some(CliError::call(
                    &format!("cannot reach bootstrap node {addr}"),
                    &e,
                ));
            }
        }
    }
    match last {
        Some(e) if joined == 0 => Err(e),
        _ => Ok(()),
    }
}

/// Waits for Ctrl-C or SIGTERM, logging the peer count when it changes.
fn wait_for_signal(dht: &Dht, stop: &mpsc::Receiver<()>, log: &Logger) {
    let mut peers = None;
    loop {
        match stop.recv_timeout(STATUS_EVERY) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        if let Ok(now) = dht.node().connected_peers(STATUS_EVERY) {
            if peers != Some(now.len()) {
                info!(log, "connected peers"; "count" => now.len());
                peers = Some(now.len());
            }
        }
    }
}
