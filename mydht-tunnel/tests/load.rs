//! Many tunnels at once, and a relay that is gone.

mod support;

use mydht::prelude::*;
use mydht_tunnel::{ReplyRoute, Threaded};
use support::*;
use tunnel::TunnelConfig;

#[test]
fn fifty_tunnels_at_once_over_shared_relays_all_complete() {
    // Alice and 9 peers: each tunnel takes 3 relays of the 8 that are not
    // its Bob, so every relay carries many of them at once.
    let nodes = star::<Threaded>(10, TunnelConfig::default());
    let all = &nodes;
    let answers: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50u64)
            .map(|n| {
                let to = *all[1 + (n as usize % 9)].local_peer().get_id();
                s.spawn(move || {
                    let ping = Ping {
                        to,
                        hops: 3,
                        reply: if n % 2 == 0 {
                            ReplyRoute::SameRoute
                        } else {
                            ReplyRoute::Other(2)
                        },
                        n,
                        body: 500,
                    };
                    (n, query(all, ping))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for (n, got) in answers {
        match got {
            Ok(pong) => assert_eq!(pong, Pong(n, body(n, 500))),
            Err(e) => panic!("tunnel {n}: {e}"),
        }
    }
    stop(nodes);
}

#[test]
fn a_stopped_relay_leaves_the_route_provider() {
    // Alice -> relay -> Bob, the relay stopped before the ping.
    let mut nodes = star::<Threaded>(3, TunnelConfig::default());
    let relay = nodes.remove(1);
    relay.stop().expect("stop relay");
    // Alice still lists the relay until she sees its connection close:
    // wait for that, then a route through it is refused as too short.
    let offline = nodes[0]
        .wait_peers_future(PeerCount::AtMost(1), work::HANG_GUARD)
        .expect("wait");
    work::wait_working(offline, TIMEOUT)
        .expect("relay offline within TIMEOUT of work")
        .expect("wait");
    match ping(&nodes, 1, 1, ReplyRoute::SameRoute, 1, 10) {
        Err(mydht_tunnel::TunnelSendError::NotEnoughPeers { have: 1, need: 2 }) => {}
        other => panic!("expected NotEnoughPeers: {other:?}"),
    }
    stop(nodes);
}
