//! 100 and 128 relays between Alice and Bob, over live nodes on loopback
//! (each node on one thread: `Restartable`).

mod support;

use mydht_tunnel::{ReplyRoute, Restartable};
use support::*;
use tunnel::TunnelConfig;

/// Raises this process's soft open-file limit to `want` (or the hard
/// limit), for the hundreds of sockets of these nodes.
fn raise_open_files(want: u64) {
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
    }
}

fn ping_through(relays: usize) {
    // Per node: a listener, the mio poll and waker, its connection to Alice
    // (Alice: one per peer), send-once connections as the ping passes.
    raise_open_files(8 * (relays as u64 + 2) + 256);
    let nodes = star::<Restartable>(relays + 2, TunnelConfig::with_max_hops(128));
    let bob = relays + 1;
    let got = ping(&nodes, bob, relays, ReplyRoute::SameRoute, 1, 100);
    assert_eq!(got.expect("pong"), Pong(1, body(1, 100)));
    stop(nodes);
}

#[test]
fn test_ping_pong_100_hops() {
    ping_through(100);
}

#[test]
fn test_ping_pong_128_hops() {
    ping_through(128);
}
