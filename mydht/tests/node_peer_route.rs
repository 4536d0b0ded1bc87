//! `MyDHTConf::peer_route`: a configuration's own route hears who connects
//! and disconnects, and chooses where peer store queries go.

use std::sync::mpsc;
use std::time::Duration;

use mydht::{MyDHTConf, PeerId, PeerInfo, PeerRoute};
use mydht_base::{Peer, Result};
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::{connect, start_nodes, stop_all, wait_peers, TIMEOUT};
use mydht_basetest::{touch_conf, touch_conf_items};
use mydht_tcp::TcpTransport;

touch_conf!(RestartTcp, restartable, TcpTransport, loopback());

#[derive(Debug, PartialEq)]
enum Heard {
    Connected(PeerId),
    Disconnected(PeerId),
    Asked(PeerId),
}

/// Tells what it hears, and routes every query to nobody.
struct Nowhere(mpsc::Sender<Heard>);

impl PeerRoute for Nowhere {
    fn connected(&mut self, peer: &PeerInfo) {
        let _ = self.0.send(Heard::Connected(*peer.get_id()));
    }
    fn disconnected(&mut self, id: &PeerId) {
        let _ = self.0.send(Heard::Disconnected(*id));
    }
    fn route(&mut self, key: &PeerId, _: usize, _: &[PeerId]) -> Vec<PeerInfo> {
        let _ = self.0.send(Heard::Asked(*key));
        Vec::new()
    }
}

struct Routed(Option<mpsc::Sender<Heard>>);

impl MyDHTConf for Routed {
    touch_conf_items!(restartable, TcpTransport);

    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
    fn peer_route(&mut self) -> Result<Box<dyn PeerRoute>> {
        let tx = self.0.take().expect("one node per configuration");
        Ok(Box::new(Nowhere(tx)))
    }
}

fn next(heard: &mpsc::Receiver<Heard>) -> Heard {
    heard
        .recv_timeout(TIMEOUT)
        .expect("the route heard nothing")
}

#[test]
fn test_configured_route_chooses_where_queries_go() {
    let (tx, heard) = mpsc::channel();
    let node = mydht::start_loop(Routed(Some(tx))).expect("routed node");
    let others = start_nodes(2, || RestartTcp).expect("nodes");
    let (hub, far) = (&others[0], &others[1]);
    connect(&node, hub).expect("connect to the hub");
    assert_eq!(next(&heard), Heard::Connected(*hub.local_peer().get_id()));
    connect(far, hub).expect("far to hub");
    wait_peers(hub, mydht::PeerCount::AtLeast(2)).expect("hub has both");

    // The hub knows `far`, but this node's route sends the query nowhere:
    // it ends empty (the default route finds it: `node_discovery.rs`).
    let short = Duration::from_secs(2);
    match node.find_peer(far.local_peer().get_id(), short) {
        Ok(found) => assert_eq!(found, None),
        Err(e) => assert!(matches!(e, mydht::NodeError::Timeout(_)), "{e}"),
    }
    assert_eq!(next(&heard), Heard::Asked(*far.local_peer().get_id()));

    let hub_id = *hub.local_peer().get_id();
    stop_all(others).expect("stop");
    loop {
        match next(&heard) {
            Heard::Disconnected(id) => break assert_eq!(id, hub_id),
            Heard::Asked(_) => continue, // discovery or refresh may ask
            other => panic!("unexpected {other:?}"),
        }
    }
    node.stop().expect("stop");
}
