//! `mydht node`: a long-running DHT node with its identity and redb store
//! in its data directory, stopped cleanly by Ctrl-C or SIGTERM.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use mydht_base::Peer;
use mydht_kvstore::dht::{Dht, DhtConf, RouteChoice, StoreChoice};
use mydht_kvstore::kademlia::KademliaConf;
use slog::{info, warn, Level, Logger};

use crate::cli::NodeArgs;
use crate::datadir;
use crate::error::CliError;
use crate::logging;

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

/// Runs the node until a signal; prints `id ...`, `listening ...`,
/// `bootstrap ...` lines and `ready` on standard output.
pub fn run(args: NodeArgs, verbose: u8) -> Result<(), CliError> {
    let log = logging::terminal(Level::Info, verbose);
    let dir = datadir::open(args.data_dir)?;
    let identity = datadir::identity(&dir, datadir::NODE_IDENTITY)?;
    let (stop_tx, stop_rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })
    .map_err(|e| CliError::failed(format!("cannot catch signals: {e}")))?;

    let mut conf = DhtConf::new(identity);
    conf.listen = args.listen;
    conf.logger = Some(log.clone());
    conf.settings.store = StoreChoice::Redb(dir.clone());
    conf.settings.route = RouteChoice::Kademlia(KademliaConf::default());
    conf.settings.replicas = REPLICAS;
    conf.constants.pool_size = POOL_SIZE;
    conf.constants.refresh = DISCOVERY_EVERY;
    let dht = Dht::start(conf)
        .map_err(|e| CliError::start(&format!("cannot start a node on {}", args.listen), &e))?;
    let me = dht.local_peer().clone();
    println!("id {}", me.get_id());
    println!("listening {}", me.get_address());
    info!(log, "data directory"; "path" => %dir.display());

    if let Err(e) = bootstrap(&dht, &args.bootstrap, &log) {
        let _ = dht.stop();
        return Err(e);
    }
    println!("ready");
    wait_for_signal(&dht, &stop_rx, &log);
    info!(log, "stopping");
    dht.stop()
        .map_err(|e| CliError::dht("the node did not stop cleanly", &e))?;
    println!("stopped");
    Ok(())
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
