//! `mydht put` and `mydht get`: a short-lived peer that joins the network
//! through one node, stores or finds a value through the DHT, and leaves.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use mydht::service::kvstore::{QueryConf, QueryMode};
use mydht::Identity;
use mydht_kvstore::dht::{Dht, DhtConf};
use mydht_kvstore::DEFAULT_MAX_VALUE_LEN;
use slog::Level;

use crate::cli::{GetArgs, PutArgs};
use crate::datadir;
use crate::error::CliError;
use crate::logging;
use crate::node::REPLICAS;

/// Hops a put or get may travel.
const HOPS: u8 = 8;

/// Stores the value; prints `stored KEY on N nodes`.
pub fn put(args: PutArgs, verbose: u8) -> Result<(), CliError> {
    let value = match (args.value, &args.file) {
        (Some(v), _) => v.into_bytes(),
        (None, Some(path)) => read_value(path)?,
        (None, None) => return Err(CliError::usage("give a VALUE or --file PATH")),
    };
    if value.len() > DEFAULT_MAX_VALUE_LEN {
        return Err(CliError::usage(format!(
            "the value is {} bytes: at most {DEFAULT_MAX_VALUE_LEN}",
            value.len()
        )));
    }
    let dir = datadir::open(args.data_dir)?;
    let identity = datadir::identity(&dir, datadir::CLIENT_IDENTITY)?;
    let timeout = Duration::from_secs(args.timeout.max(1));
    let dht = join(identity, args.bootstrap, timeout, verbose)?;
    let conf = QueryConf {
        mode: QueryMode::AProxy,
        hops: HOPS,
        forward: REPLICAS as u8,
        nb_result: REPLICAS as u8,
        timeout,
    };
    let stored = dht.put_with(args.key, value, conf, timeout);
    let _ = dht.stop();
    match stored.map_err(|e| CliError::dht("put", &e))? {
        0 => Err(CliError::failed(
            "put: no node of the network stored the value",
        )),
        n => {
            println!(
                "stored {} on {n} node{}",
                args.key,
                if n == 1 { "" } else { "s" }
            );
            Ok(())
        }
    }
}

/// Finds the value and writes it to standard output.
pub fn get(args: GetArgs, verbose: u8) -> Result<(), CliError> {
    let identity =
        Identity::generate().map_err(|e| CliError::node("cannot make an identity", &e))?;
    let timeout = Duration::from_secs(args.timeout.max(1));
    let dht = join(identity, args.bootstrap, timeout, verbose)?;
    // Asks the REPLICAS closest peers at each hop: one copy is enough, and
    // a dead peer not yet noticed does not hide the others.
    let conf = QueryConf {
        mode: QueryMode::AProxy,
        hops: HOPS,
        forward: REPLICAS as u8,
        nb_result: 1,
        timeout,
    };
    let found = dht.get_with(args.key, conf, timeout);
    let _ = dht.stop();
    let found = found.map_err(|e| CliError::dht(&format!("get {}", args.key), &e))?;
    let value = found
        .into_iter()
        .max_by_key(|v| (v.version(), v.expires_at()))
        .ok_or_else(|| CliError::new(crate::error::EXIT_NOT_FOUND, "get: not found"))?;
    let mut out = std::io::stdout().lock();
    out.write_all(value.value())
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| out.flush())
        .map_err(|e| CliError::failed(format!("cannot write the value: {e}")))
}

/// A peer of `identity` connected to `bootstrap`.
fn join(
    identity: Identity,
    bootstrap: SocketAddr,
    timeout: Duration,
    verbose: u8,
) -> Result<Dht, CliError> {
    join_with(DhtConf::new(identity), bootstrap, timeout, verbose)
}

/// A peer of a new identity connected to `bootstrap` that looks for
/// other peers (up to `pool`, asking every `every`).
pub fn join_discovering(
    bootstrap: SocketAddr,
    timeout: Duration,
    verbose: u8,
    pool: usize,
    every: Duration,
) -> Result<Dht, CliError> {
    let identity =
        Identity::generate().map_err(|e| CliError::node("cannot make an identity", &e))?;
    let mut conf = DhtConf::new(identity);
    conf.constants.pool_size = pool;
    conf.constants.refresh = every;
    join_with(conf, bootstrap, timeout, verbose)
}

fn join_with(
    mut conf: DhtConf,
    bootstrap: SocketAddr,
    timeout: Duration,
    verbose: u8,
) -> Result<Dht, CliError> {
    conf.listen = listen_toward(bootstrap);
    conf.logger = Some(logging::terminal(Level::Error, verbose));
    let dht = Dht::start(conf).map_err(|e| CliError::start("cannot start a peer", &e))?;
    if let Err(e) = dht.node().connect(bootstrap, timeout) {
        let _ = dht.stop();
        return Err(CliError::call(
            &format!("cannot reach bootstrap node {bootstrap}"),
            &e,
        ));
    }
    Ok(dht)
}

/// Where a short-lived peer listens so that `peer` can reach it: a free
/// port on loopback when `peer` is there, on every interface otherwise.
pub fn listen_toward(peer: SocketAddr) -> SocketAddr {
    let ip = match peer.ip() {
        ip if ip.is_loopback() => ip,
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(ip, 0)
}

/// The file's bytes, refused past the value limit before it is read.
fn read_value(path: &Path) -> Result<Vec<u8>, CliError> {
    let fail = |e: std::io::Error| CliError::local(format!("file {}: {e}", path.display()));
    let len = std::fs::metadata(path).map_err(fail)?.len();
    if len > DEFAULT_MAX_VALUE_LEN as u64 {
        return Err(CliError::usage(format!(
            "file {} is {len} bytes: a value is at most {DEFAULT_MAX_VALUE_LEN}",
            path.display()
        )));
    }
    std::fs::read(path).map_err(fail)
}
