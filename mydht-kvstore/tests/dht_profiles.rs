//! The DHT's services under another profile than `DhtConf`'s
//! (`restartable!`): a configuration of the test's own, `threaded!` (each
//! service on a thread of its own), naming the same types; two such nodes
//! put and get a value, and a get of a key nobody holds is `NotFound`.

mod dht_support;

use dht_support::{identity, T};
use mydht::conf::GlobalTick;
use mydht::prelude::*;
use mydht_kvstore::dht::{
    Dht, DhtCmd, DhtError, DhtGlobal, DhtLocal, DhtMsg, DhtReply, DhtSettings,
};
use mydht_kvstore::Key;

/// A DHT node whose services each run on a thread of their own.
struct Threaded {
    identity: Identity,
    settings: DhtSettings,
}

impl MyDHTConf for Threaded {
    mydht::default_components!();
    type ProtoMsg = DhtMsg;
    type GlobalCmd = DhtCmd;
    type ApiReply = DhtReply;
    type GlobalService = DhtGlobal<Self>;
    type LocalService = DhtLocal<Self>;
    mydht::threaded!();

    fn init_transport(&mut self) -> Result<TcpTransport> {
        TcpTransport::bind(([127, 0, 0, 1], 0).into())
    }
    fn init_identity(&mut self) -> Result<Identity> {
        Ok(self.identity.clone())
    }
    fn init_global(&mut self, me: &PeerInfo, peers: &PeersView) -> Result<DhtGlobal<Self>> {
        let log = slog::Logger::root(slog::Discard, slog::o!());
        DhtGlobal::new(me, peers, self.identity.clone(), &self.settings, log)
    }
    fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<DhtLocal<Self>> {
        Ok(DhtLocal::new())
    }
    fn global_tick(&self) -> Option<GlobalTick<Self>> {
        Some(GlobalTick::every(self.settings.tick, || DhtCmd::Tick))
    }
}

fn start(n: u8) -> Dht<Threaded> {
    let settings = DhtSettings::default();
    let (query, ttl, tick) = (settings.query, settings.ttl, settings.tick);
    let node = mydht::start_loop(Threaded {
        identity: identity(n),
        settings,
    })
    .unwrap();
    Dht::from_node(node, query, ttl).ticked_every(tick)
}

#[test]
fn a_threaded_dht_node_puts_and_gets() {
    let a = start(71);
    let b = start(72);
    let address = a.local_peer().get_address().parse().unwrap();
    b.node().connect(address, T).unwrap();
    a.node().wait_peers(PeerCount::AtLeast(1), T).unwrap();
    let key = Key::hash_of(b"threaded");
    // Stored here, and on b when a is not closer to the key than b.
    assert!(a.put(key, b"on threads".to_vec(), T).unwrap() <= 1);
    let got = b.get(key, T).unwrap();
    assert_eq!(got.value(), b"on threads");
    assert_eq!(got.publisher(), *a.local_peer().get_id());
    let none = b.get(Key::hash_of(b"nobody's"), T);
    assert!(matches!(none, Err(DhtError::NotFound)), "{none:?}");
    a.stop().unwrap();
    b.stop().unwrap();
}
