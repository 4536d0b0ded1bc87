//! Helpers of the DHT node tests: nodes of fixed identities on loopback,
//! topologies, a logger that keeps its lines.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mydht::prelude::*;
use mydht::service::kvstore::{QueryConf, QueryMode};
use mydht_kvstore::dht::{Dht, DhtConf, DhtSettings, DhtStats};

/// Timeout of the calls that must succeed.
pub const T: Duration = Duration::from_secs(10);

/// The three modes every scenario runs in.
pub const MODES: [QueryMode; 3] = [QueryMode::AProxy, QueryMode::Asynch, QueryMode::AMix(1)];

/// The identity of seed `n`.
pub fn identity(n: u8) -> Identity {
    Identity::from_seed([n; 32]).unwrap()
}

/// A configuration of identity `n` and these settings, logging to `log`
/// when given.
pub fn conf(n: u8, settings: DhtSettings, log: Option<slog::Logger>) -> DhtConf {
    let mut c = DhtConf::new(identity(n));
    c.settings = settings;
    c.logger = log;
    c
}

/// A started node of identity `n`.
pub fn node(n: u8, settings: DhtSettings) -> Dht {
    Dht::start(conf(n, settings, None)).unwrap()
}

/// Connects `a` to `b` (both then list each other).
pub fn link(a: &Dht, b: &Dht) {
    let address = b.local_peer().get_address().parse().unwrap();
    a.node().connect(address, T).unwrap();
}

/// Waits until `d` lists `n` peers.
pub fn wait_peers(d: &Dht, n: usize) {
    d.node().wait_peers(PeerCount::AtLeast(n), T).unwrap();
}

/// A query of this mode.
pub fn query(
    mode: QueryMode,
    hops: u8,
    forward: u8,
    nb_result: u8,
    timeout: Duration,
) -> QueryConf {
    QueryConf {
        mode,
        hops,
        forward,
        nb_result,
        timeout,
    }
}

/// `hops` hops a peer at a time, the first value, 1.5 s.
pub fn walk(mode: QueryMode, hops: u8) -> QueryConf {
    query(mode, hops, 1, 1, Duration::from_millis(1500))
}

/// The sum of the nodes' counters.
pub fn total(nodes: &[Dht]) -> DhtStats {
    let mut t = DhtStats::default();
    for d in nodes {
        let s = d.stats(T).unwrap();
        t.finds_received += s.finds_received;
        t.stores_received += s.stores_received;
        t.loop_hits += s.loop_hits;
        t.refused += s.refused;
        t.dropped_found += s.dropped_found;
        t.relayed += s.relayed;
        t.values += s.values;
    }
    t
}

/// Stops every node.
pub fn stop_all(nodes: Vec<Dht>) {
    for d in nodes {
        d.stop().unwrap();
    }
}

/// A slog drain that keeps each record as a line (message and fields).
#[derive(Clone, Default)]
pub struct Lines(pub Arc<Mutex<Vec<String>>>);

impl Lines {
    /// A logger writing here.
    pub fn logger(&self) -> slog::Logger {
        slog::Logger::root(slog::Fuse(self.clone()), slog::o!())
    }

    /// The lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct Fields<'a>(&'a mut String);

impl slog::Serializer for Fields<'_> {
    fn emit_arguments(&mut self, key: slog::Key, val: &std::fmt::Arguments) -> slog::Result {
        let _ = write!(self.0, " {key}={val}");
        Ok(())
    }
}

impl slog::Drain for Lines {
    type Ok = ();
    type Err = std::convert::Infallible;

    fn log(&self, r: &slog::Record, kv: &slog::OwnedKVList) -> std::result::Result<(), Self::Err> {
        let mut line = format!("{} {}", r.level().as_short_str(), r.msg());
        let _ = slog::KV::serialize(&r.kv(), r, &mut Fields(&mut line));
        let _ = slog::KV::serialize(kv, r, &mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
        Ok(())
    }
}
