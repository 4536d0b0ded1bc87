//! A lookup that dials a contact nobody listens for any more, or one whose
//! address another node holds, learns it from the node
//! (`GlobalCommand::DialFailed`) and goes on at once, not at the peer
//! timeout: over TCP on loopback, a peer of the test's own answers every
//! `FindNode` with a node that stopped, or with a peer named at another
//! node's address (the lookup dials expecting the peer named:
//! `Reply::ConnectTo`).

mod dht_support;

use std::time::{Duration, Instant};

use dht_support::{conf, identity, wait_peers, T};
use mydht::prelude::*;
use mydht_kvstore::dht::{Dht, DhtError, DhtMsg, DhtSettings, LookupConf, LookupMode};
use mydht_kvstore::Key;

/// The peer of the test: answers every `FindNode` with `ghost` alone.
struct Namer {
    ghost: PeerInfo,
}

struct NGlobal;

impl Service for NGlobal {
    type CommandIn = GlobalCommand<Namer>;
    type CommandOut = Reply<Namer>;
    fn call<Y: SpawnerYield>(&mut self, _: Self::CommandIn, _: &mut Y) -> Result<Reply<Namer>> {
        Ok(Reply::None)
    }
}

struct NLocal {
    ghost: PeerInfo,
}

impl Service for NLocal {
    type CommandIn = LocalCommand<Namer>;
    type CommandOut = Reply<Namer>;
    fn call<Y: SpawnerYield>(&mut self, cmd: Self::CommandIn, _: &mut Y) -> Result<Reply<Namer>> {
        Ok(match cmd.msg {
            DhtMsg::FindNode { qid, .. } => Reply::Send(
                *cmd.from.get_id(),
                DhtMsg::Nodes {
                    qid,
                    peers: vec![self.ghost.clone()],
                    value: None,
                    contacts: Vec::new(),
                },
            ),
            _ => Reply::None,
        })
    }
}

impl MyDHTConf for Namer {
    mydht::default_components!(loopback);
    type ProtoMsg = DhtMsg;
    type GlobalCmd = ();
    type ApiReply = ();
    type GlobalService = NGlobal;
    type LocalService = NLocal;
    mydht::restartable!();

    fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<NGlobal> {
        Ok(NGlobal)
    }
    fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<NLocal> {
        Ok(NLocal {
            ghost: self.ghost.clone(),
        })
    }
}

/// The peer timeout of the asking node: far longer than the test waits.
const PEER_TIMEOUT: Duration = Duration::from_secs(20);

#[test]
fn a_contact_whose_dial_fails_is_dropped_at_once() {
    // A node that stops: its address is a closed port.
    let ghost = Dht::start(conf(61, DhtSettings::default(), None)).unwrap();
    let ghost_peer = ghost.local_peer().clone();
    ghost.stop().unwrap();
    let namer = start_loop(Namer {
        ghost: ghost_peer.clone(),
    })
    .unwrap();

    let mut settings = DhtSettings::kademlia(1);
    settings.lookup = LookupMode::Iterative(LookupConf {
        peer_timeout_ms: PEER_TIMEOUT.as_millis() as u64,
        ..LookupConf::default()
    });
    settings.query.timeout = 2 * PEER_TIMEOUT;
    let asker = Dht::start(conf(62, settings, None)).unwrap();
    let address = namer.local_peer().get_address().parse().unwrap();
    asker.node().connect(address, T).unwrap();
    wait_peers(&asker, 1);

    // The namer names the ghost; the asker dials it, the dial fails, and
    // the lookup ends with nobody left to ask.
    let t = Instant::now();
    let got = asker.get(Key::hash_of(b"nowhere"), 2 * PEER_TIMEOUT + T);
    assert!(matches!(got, Err(DhtError::NotFound)), "{got:?}");
    assert!(t.elapsed() < PEER_TIMEOUT / 2, "{:?}", t.elapsed());
    let s = asker.stats(T).unwrap();
    assert_eq!((s.lookup_requests, s.dials_failed), (2, 1), "{s:?}");

    // Another get: the namer names the ghost again, and its dial fails
    // again at once.
    assert!(matches!(
        asker.get(Key::hash_of(b"elsewhere"), 2 * PEER_TIMEOUT + T),
        Err(DhtError::NotFound)
    ));
    let s = asker.stats(T).unwrap();
    assert_eq!((s.lookup_requests, s.dials_failed), (4, 2), "{s:?}");
    assert!(t.elapsed() < PEER_TIMEOUT / 2, "{:?}", t.elapsed());

    asker.stop().unwrap();
    namer.stop().unwrap();
}

/// The asking node of these tests (seed `n`), connected to `namer`: a
/// peer timeout far longer than the test waits.
fn asker_of(n: u8, namer: &NodeHandle<Namer>) -> Dht {
    let mut settings = DhtSettings::kademlia(1);
    settings.lookup = LookupMode::Iterative(LookupConf {
        peer_timeout_ms: PEER_TIMEOUT.as_millis() as u64,
        ..LookupConf::default()
    });
    settings.query.timeout = 2 * PEER_TIMEOUT;
    let asker = Dht::start(conf(n, settings, None)).unwrap();
    let address = namer.local_peer().get_address().parse().unwrap();
    asker.node().connect(address, T).unwrap();
    wait_peers(&asker, 1);
    asker
}

#[test]
fn a_contact_named_at_another_nodes_address_is_refused_at_once() {
    // Peer 64 named at the address of node 63, which is up.
    let other = Dht::start(conf(63, DhtSettings::default(), None)).unwrap();
    let impostor = identity(64)
        .peer_info(other.local_peer().get_address().to_string())
        .unwrap();
    let namer = start_loop(Namer { ghost: impostor }).unwrap();
    let asker = asker_of(65, &namer);

    // The asker dials peer 64 there; node 63 answers and is refused (it
    // is not the peer expected): the dial fails, the lookup ends at once.
    let t = Instant::now();
    let got = asker.get(Key::hash_of(b"misnamed"), 2 * PEER_TIMEOUT + T);
    assert!(matches!(got, Err(DhtError::NotFound)), "{got:?}");
    assert!(t.elapsed() < PEER_TIMEOUT / 2, "{:?}", t.elapsed());
    let s = asker.stats(T).unwrap();
    assert_eq!((s.lookup_requests, s.dials_failed), (2, 1), "{s:?}");
    // No connection to node 63 stays: the namer is the asker's only peer.
    let peers: Vec<PeerId> = asker
        .node()
        .connected_peers(T)
        .unwrap()
        .iter()
        .map(|p| *p.get_id())
        .collect();
    assert_eq!(peers, vec![*namer.local_peer().get_id()]);

    asker.stop().unwrap();
    namer.stop().unwrap();
    other.stop().unwrap();
}
