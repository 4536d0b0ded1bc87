//! Peer management: a rejected peer is disconnected, the others keep
//! working.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use mydht::{MyDHTConf, PeerCount, PeerId, PeerInfo, PeerManager, PeerVerdict};
use mydht_base::{Peer, Result};
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::{connect_and_touch, TIMEOUT};
use mydht_basetest::harness::touch::{Touch, Touched};
use mydht_basetest::{touch_conf, touch_conf_items};
use mydht_tcp::TcpTransport;

touch_conf!(ThreadedTcp, threaded, TcpTransport, loopback());

/// What the tests see of a guard node: the peers it refuses, the thread
/// its main loop runs on, and what its peer manager did where.
#[derive(Default)]
struct Watch {
    refused: Vec<PeerId>,
    loop_thread: Option<ThreadId>,
    manager_threads: Vec<ThreadId>,
    online: Vec<PeerId>,
    offline: Vec<PeerId>,
}

/// A peer manager refusing the peers of the shared watch's list.
struct Guard(Arc<Mutex<Watch>>);

impl PeerManager for Guard {
    fn accept(&mut self, _: &PeerInfo, peer: &PeerInfo) -> PeerVerdict {
        let mut w = self.0.lock().expect("watch");
        w.manager_threads.push(std::thread::current().id());
        if w.refused.contains(peer.get_id()) {
            PeerVerdict::Reject
        } else {
            PeerVerdict::Accept
        }
    }
    fn online(&mut self, peer: &PeerInfo) {
        self.0.lock().expect("watch").online.push(*peer.get_id());
    }
    fn offline(&mut self, peer: &PeerInfo) {
        self.0.lock().expect("watch").offline.push(*peer.get_id());
    }
}

/// A touch node under `$profile` whose peer management is a [`Guard`].
macro_rules! guarded_conf {
    ($name:ident, $profile:ident) => {
        struct $name(Arc<Mutex<Watch>>);

        impl MyDHTConf for $name {
            touch_conf_items!($profile, TcpTransport);

            fn init_transport(&mut self) -> Result<TcpTransport> {
                // Called on the main loop's thread.
                self.0.lock().expect("watch").loop_thread = Some(std::thread::current().id());
                loopback()
            }
            fn peer_manager(&mut self) -> Result<Box<dyn PeerManager>> {
                Ok(Box::new(Guard(self.0.clone())))
            }
        }
    };
}

guarded_conf!(Guarded, threaded);
guarded_conf!(GuardedRestartable, restartable);

/// A touch node keeping one peer, the highest ranked: peers of a shared
/// list rank 5, the others 1.
struct Ranked {
    preferred: Arc<Mutex<Vec<PeerId>>>,
}

impl MyDHTConf for Ranked {
    touch_conf_items!(threaded, TcpTransport);

    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
    fn constants(&self) -> mydht::NodeConstants {
        mydht::NodeConstants {
            max_peers: 1,
            ..mydht::NodeConstants::default()
        }
    }
    fn peer_manager(&mut self) -> Result<Box<dyn PeerManager>> {
        // The easy way: a closure.
        let preferred = self.preferred.clone();
        Ok(Box::new(move |_: &PeerInfo, peer: &PeerInfo| {
            let preferred = preferred.lock().expect("preferred list");
            PeerVerdict::Priority(if preferred.contains(peer.get_id()) {
                5
            } else {
                1
            })
        }))
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

/// The scenario of the rejection tests: a guard node refusing one of two
/// peers; gives back what the guard's peer manager saw.
fn rejected_peer_is_disconnected<G>(make: fn(Arc<Mutex<Watch>>) -> G) -> Watch
where
    G: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
{
    let watch = Arc::new(Mutex::new(Watch::default()));
    let guard = mydht::start_loop(make(watch.clone())).expect("guard node");
    let good = mydht::start_loop(ThreadedTcp).expect("good node");
    let bad = mydht::start_loop(ThreadedTcp).expect("bad node");
    let bad_id = *bad.local_peer().get_id();
    watch.lock().expect("watch").refused.push(bad_id);

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

    // The good peer leaves: peer management hears it once the guard saw it.
    good.stop().expect("stop good");
    guard
        .wait_peers(PeerCount::AtMost(0), TIMEOUT)
        .expect("good node offline");
    for n in [guard.stop(), bad.stop()] {
        n.expect("stop");
    }
    let watch = std::mem::take(&mut *watch.lock().expect("watch"));
    assert_eq!(watch.online, vec![good_id]);
    assert_eq!(watch.offline, vec![good_id]);
    assert!(watch.manager_threads.len() >= 2, "asked for both peers");
    watch
}

#[test]
fn test_rejected_peer_is_disconnected() {
    rejected_peer_is_disconnected(Guarded);
}

#[test]
fn test_peer_mgmt_on_its_own_thread() {
    let watch = rejected_peer_is_disconnected(Guarded);
    let main_loop = watch.loop_thread.expect("loop thread");
    assert!(watch.manager_threads.iter().all(|t| *t != main_loop));
}

#[test]
fn test_peer_mgmt_blocker_on_loop_thread() {
    let watch = rejected_peer_is_disconnected(GuardedRestartable);
    let main_loop = watch.loop_thread.expect("loop thread");
    assert!(watch.manager_threads.iter().all(|t| *t == main_loop));
}

/// A touch node whose peer manager answers only when the test lets it, with
/// a short verdict timeout.
struct Slow {
    release: Option<mpsc::Receiver<()>>,
    asked: mpsc::Sender<()>,
}

impl MyDHTConf for Slow {
    touch_conf_items!(threaded, TcpTransport);

    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
    fn constants(&self) -> mydht::NodeConstants {
        mydht::NodeConstants {
            verdict_timeout: Duration::from_millis(200),
            ..mydht::NodeConstants::default()
        }
    }
    fn peer_manager(&mut self) -> Result<Box<dyn PeerManager>> {
        let release = self.release.take().expect("one peer manager");
        let asked = self.asked.clone();
        Ok(Box::new(move |_: &PeerInfo, _: &PeerInfo| {
            let _ = asked.send(());
            // Bounded: the test releases it long before.
            let _ = release.recv_timeout(TIMEOUT);
            PeerVerdict::Accept
        }))
    }
}

#[test]
fn test_late_verdict_rejects_and_loop_goes_on() {
    let (release, release_rx) = mpsc::channel();
    let (asked_tx, asked) = mpsc::channel();
    let slow = mydht::start_loop(Slow {
        release: Some(release_rx),
        asked: asked_tx,
    })
    .expect("slow node");
    let peer = mydht::start_loop(ThreadedTcp).expect("peer node");
    let address = slow.local_peer().get_address().parse().expect("address");
    let _ = peer.connect(address, TIMEOUT);
    asked.recv_timeout(TIMEOUT).expect("verdict asked");

    // Peer management is busy: the main loop still answers, the
    // connection awaits its verdict and is rejected at the timeout.
    assert!(slow.connected_peers(TIMEOUT).expect("peers").is_empty());
    peer.wait_peers(PeerCount::AtMost(0), TIMEOUT)
        .expect("rejected at the verdict timeout");

    // The late Accept finds no connection (its slab key may hold the
    // next one): the next connection is decided by its own verdict, which
    // peer management gives after the late one.
    release.send(()).expect("release the late verdict");
    release.send(()).expect("release the next verdict");
    let address = slow.local_peer().get_address().parse().expect("address");
    peer.connect(address, TIMEOUT).expect("connects again");
    asked.recv_timeout(TIMEOUT).expect("verdict asked again");
    let peers = slow
        .wait_peers(PeerCount::AtLeast(1), TIMEOUT)
        .expect("accepted");
    assert_eq!(peers.len(), 1);
    let slow_id = *slow.local_peer().get_id();
    assert_eq!(
        peer.query(Touch(slow_id), 2, TIMEOUT).expect("touch").len(),
        2
    );
    for n in [slow.stop(), peer.stop()] {
        n.expect("stop");
    }
}
