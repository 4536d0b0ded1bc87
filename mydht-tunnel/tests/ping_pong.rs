//! Ping-pong through tunnels of live nodes over TCP on loopback: a query
//! goes through the relays Alice chose, Bob's reply comes back along the
//! reply route, under each profile.

mod support;

use mydht_tunnel::{Carriage, ReplyRoute, TunnelSendError};
use support::*;
use tunnel::TunnelConfig;

/// Pings the last node of a star of `peers` through `hops` relays and
/// checks the pong; then with a different reply route when there are
/// enough peers.
fn ping_pong<P>(peers: usize, hops: usize)
where
    mydht_tunnel::TunnelNode<PingPong, P>: mydht_tunnel::TunnelConfOf<PingPong>,
{
    ping_pong_carried::<P>(peers, hops, Carriage::Streamed);
}

fn ping_pong_carried<P>(peers: usize, hops: usize, carriage: Carriage)
where
    mydht_tunnel::TunnelNode<PingPong, P>: mydht_tunnel::TunnelConfOf<PingPong>,
{
    let nodes = star_carried::<P>(peers, TunnelConfig::default(), carriage);
    let bob = peers - 1;
    let got = ping(&nodes, bob, hops, ReplyRoute::SameRoute, 1, 100);
    assert_eq!(got.expect("pong"), Pong(1, body(1, 100)));
    let other = (peers - 2 - hops).min(hops);
    let got = ping(&nodes, bob, hops, ReplyRoute::Other(other), 2, 10);
    assert_eq!(got.expect("pong by another route"), Pong(2, body(2, 10)));
    stop(nodes);
}

macro_rules! profile_tests {
    ($name:ident, $profile:ty) => {
        mod $name {
            use super::*;

            #[test]
            fn test_ping_pong_no_hop() {
                ping_pong::<$profile>(2, 0);
            }

            #[test]
            fn test_ping_pong_one_hop() {
                ping_pong::<$profile>(3, 1);
            }

            #[test]
            fn test_ping_pong_mult_hop() {
                ping_pong::<$profile>(25, 23);
            }
        }
    };
}

profile_tests!(threaded, mydht_tunnel::Threaded);

/// The frame-carried mode: each whole onion in one frame.
mod in_frames {
    use super::*;

    #[test]
    fn test_ping_pong_no_hop() {
        ping_pong_carried::<mydht_tunnel::Threaded>(2, 0, Carriage::Frame);
    }

    #[test]
    fn test_ping_pong_mult_hop() {
        ping_pong_carried::<mydht_tunnel::Threaded>(25, 23, Carriage::Frame);
    }

    #[test]
    fn test_ping_pong_mult_hop_restartable() {
        ping_pong_carried::<mydht_tunnel::Restartable>(25, 23, Carriage::Frame);
    }
}
profile_tests!(restartable, mydht_tunnel::Restartable);
profile_tests!(single_thread, mydht_tunnel::SingleThread);

#[test]
fn a_reply_route_apart_from_the_query_route() {
    // 8 peers: 3 relays and Bob leave 3 for a reply route of its own.
    let nodes = star::<mydht_tunnel::Threaded>(8, TunnelConfig::default());
    for n in 0..4 {
        let got = ping(&nodes, 7, 3, ReplyRoute::Other(3), n, 1000);
        assert_eq!(got.expect("pong"), Pong(n, body(n, 1000)));
    }
    stop(nodes);
}

#[test]
fn too_few_peers_is_a_typed_refusal() {
    let nodes = star::<mydht_tunnel::Threaded>(3, TunnelConfig::default());
    match ping(&nodes, 2, 2, ReplyRoute::SameRoute, 1, 0) {
        Err(TunnelSendError::NotEnoughPeers { have: 2, need: 3 }) => {}
        other => panic!("expected NotEnoughPeers: {other:?}"),
    }
    stop(nodes);
    // In frames, a message too large for one frame: refused before
    // anything is sent.
    let nodes = star_carried::<mydht_tunnel::Threaded>(3, TunnelConfig::default(), Carriage::Frame);
    match ping(&nodes, 2, 1, ReplyRoute::SameRoute, 2, 2 << 20) {
        Err(TunnelSendError::TooLarge { len, max }) => assert!(len > max),
        other => panic!("expected TooLarge: {other:?}"),
    }
    stop(nodes);
}
