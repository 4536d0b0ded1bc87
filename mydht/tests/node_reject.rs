//! Peer management: a rejected peer is disconnected, the others keep
//! working.

#[macro_use]
mod node_common;

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use mydht::{Bincode, MyDHTConf, PeerCount, PeerId, PeerInfo, PeerVerdict, SessionShadow};
use mydht_base::{Peer, Result};
use mydht_tcp::TcpTransport;
use node_common::app::{Touch, TouchGlobal, TouchLocal, TouchMsg, Touched};
use node_common::{connect_and_touch, TIMEOUT};

fn loopback() -> Result<TcpTransport> {
    TcpTransport::bind("127.0.0.1:0".parse().expect("literal address"))
}

touch_conf!(ThreadedTcp, threaded, TcpTransport, loopback());

/// A touch node refusing the peers of a shared list.
struct Guarded {
    refused: Arc<Mutex<Vec<PeerId>>>,
}

impl MyDHTConf for Guarded {
    type Transport = TcpTransport;
    type MsgEnc = Bincode;
    type Shadow = SessionShadow;
    type ProtoMsg = TouchMsg;
    type GlobalCmd = Touch;
    type ApiReply = Touched;
    type GlobalService = TouchGlobal<Self>;
    type LocalService = TouchLocal<Self>;
    mydht::threaded!();

    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
    fn init_msg_enc(&mut self) -> Bincode {
        Bincode
    }
    fn init_shadow(&mut self) -> SessionShadow {
        SessionShadow::default()
    }
    fn init_global(&mut self, me: &PeerInfo) -> Result<Self::GlobalService> {
        Ok(TouchGlobal(*me.get_id(), PhantomData))
    }
    fn init_local(&mut self, me: &PeerInfo, _: &PeerInfo) -> Result<Self::LocalService> {
        Ok(TouchLocal(*me.get_id(), PhantomData))
    }
    fn accept_peer(&mut self, _: &PeerInfo, peer: &PeerInfo) -> PeerVerdict {
        let refused = self.refused.lock().expect("refused list");
        if refused.contains(peer.get_id()) {
            PeerVerdict::Reject
        } else {
            PeerVerdict::Accept
        }
    }
}

/// A touch node keeping one peer, the highest ranked: peers of a shared
/// list rank 5, the others 1.
struct Ranked {
    preferred: Arc<Mutex<Vec<PeerId>>>,
}

impl MyDHTConf for Ranked {
    type Transport = TcpTransport;
    type MsgEnc = Bincode;
    type Shadow = SessionShadow;
    type ProtoMsg = TouchMsg;
    type GlobalCmd = Touch;
    type ApiReply = Touched;
    type GlobalService = TouchGlobal<Self>;
    type LocalService = TouchLocal<Self>;
    mydht::threaded!();

    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
    fn init_msg_enc(&mut self) -> Bincode {
        Bincode
    }
    fn init_shadow(&mut self) -> SessionShadow {
        SessionShadow::default()
    }
    fn init_global(&mut self, me: &PeerInfo) -> Result<Self::GlobalService> {
        Ok(TouchGlobal(*me.get_id(), PhantomData))
    }
    fn init_local(&mut self, me: &PeerInfo, _: &PeerInfo) -> Result<Self::LocalService> {
        Ok(TouchLocal(*me.get_id(), PhantomData))
    }
    fn constants(&self) -> mydht::NodeConstants {
        mydht::NodeConstants {
            max_peers: 1,
            ..mydht::NodeConstants::default()
        }
    }
    fn accept_peer(&mut self, _: &PeerInfo, peer: &PeerInfo) -> PeerVerdict {
        let preferred = self.preferred.lock().expect("preferred list");
        PeerVerdict::Priority(if preferred.contains(peer.get_id()) {
            5
        } else {
            1
        })
    }
}

#[test]
fn test_priorities_evict_and_refuse() {
    let preferred = Arc::new(Mutex::new(Vec::new()));
    let ranked = mydht::start_loop(Ranked {
        preferred: preferred.clone(),
    })
    .expect("ranked node");
    let low = mydht::start_loop(ThreadedTcp).expect("low node");
    let high = mydht::start_loop(ThreadedTcp).expect("high node");
    let late = mydht::start_loop(ThreadedTcp).expect("late node");
    let high_id = *high.local_peer().get_id();
    preferred.lock().expect("preferred list").push(high_id);
    let address = || ranked.local_peer().get_address().parse().expect("address");

    low.connect(address(), TIMEOUT).expect("low connects");
    ranked
        .wait_peers(PeerCount::AtLeast(1), TIMEOUT)
        .expect("low accepted");
    // The higher priority peer takes the only place.
    let _ = high.connect(address(), TIMEOUT);
    low.wait_peers(PeerCount::AtMost(0), TIMEOUT)
        .expect("low evicted");
    // A low priority peer finds no room.
    let _ = late.connect(address(), TIMEOUT);
    late.wait_peers(PeerCount::AtMost(0), TIMEOUT)
        .expect("late refused");
    let peers = ranked.connected_peers(TIMEOUT).expect("peers");
    assert_eq!(peers.len(), 1);
    assert_eq!(*peers[0].get_id(), high_id);
    let ranked_id = *ranked.local_peer().get_id();
    assert_eq!(
        high.query(Touch(ranked_id), 2, TIMEOUT)
            .expect("touch")
            .len(),
        2
    );
    for n in [ranked.stop(), low.stop(), high.stop(), late.stop()] {
        n.expect("stop");
    }
}

#[test]
fn test_rejected_peer_is_disconnected() {
    let refused = Arc::new(Mutex::new(Vec::new()));
    let guard = mydht::start_loop(Guarded {
        refused: refused.clone(),
    })
    .expect("guard node");
    let good = mydht::start_loop(ThreadedTcp).expect("good node");
    let bad = mydht::start_loop(ThreadedTcp).expect("bad node");
    let bad_id = *bad.local_peer().get_id();
    refused.lock().expect("refused list").push(bad_id);

    connect_and_touch(&good, &guard);

    // The bad node authenticates, then the guard closes the connection:
    // its connect fails or its peer goes offline at once.
    let address = guard.local_peer().get_address().parse().expect("address");
    let _ = bad.connect(address, TIMEOUT);
    let left = bad
        .wait_peers(PeerCount::AtMost(0), TIMEOUT)
        .expect("bad node disconnected");
    assert!(left.is_empty());
    assert_eq!(guard.find_peer(&bad_id, TIMEOUT).expect("find"), None);

    // The good peer still works, both ways.
    let good_id = *good.local_peer().get_id();
    let guard_id = *guard.local_peer().get_id();
    assert_eq!(
        guard
            .query(Touch(good_id), 2, TIMEOUT)
            .expect("touch")
            .len(),
        2
    );
    assert_eq!(
        good.query(Touch(guard_id), 2, TIMEOUT)
            .expect("touch")
            .len(),
        2
    );
    let peers = guard.connected_peers(TIMEOUT).expect("peers");
    assert_eq!(peers.len(), 1);
    assert_eq!(*peers[0].get_id(), good_id);

    for n in [guard.stop(), good.stop(), bad.stop()] {
        n.expect("stop");
    }
}
