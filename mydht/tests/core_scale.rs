//! What a connection event costs a node core holding many connections
//! (issue 15): a hub dials `HD_SCALE_PEERS` peers (2,000 by default) on
//! the simulated network, then every peer disconnects; the time the net
//! takes to carry the closes out, per connection, is printed. A core that
//! visits every connection per event costs time in proportion to the
//! connections held. A measurement, not a check: ignored, run it with
//! `HD_SCALE_PEERS=6000 cargo test -p mydht --test core_scale -- --ignored
//! --nocapture` (figures in `docs/node.md`). The test network's own
//! pump visits every node per event: what grows with the peers in the
//! connect phase is mostly that.

mod core_support;

use std::time::{Duration, Instant};

use core_support::{addr, Net};
use mydht::command::ApiAction;
use mydht::{NodeConstants, PeerVerdict};

#[test]
#[ignore]
fn close_cost_with_many_connections() {
    let n: usize = std::env::var("HD_SCALE_PEERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let mut net = Net::new();
    let constants = NodeConstants {
        max_connections: n + 64,
        max_peers: n + 64,
        ..NodeConstants::default()
    };
    let hub_addr = addr(1_000);
    let hub = net.add_node(hub_addr, hub_addr, Some(PeerVerdict::Accept), constants);
    for i in 0..n {
        net.node(2_000 + i as u16, Some(PeerVerdict::Accept));
    }
    let start = Instant::now();
    for i in 0..n {
        let to = net.nodes[i + 1].listen;
        net.connect(hub, to);
        if i % 64 == 63 {
            net.pump();
        }
    }
    net.pump();
    let connect = start.elapsed();
    assert_eq!(net.nodes[hub].core.peer_count(), n, "all connected");
    let hub_id = net.nodes[hub].id;

    let start = Instant::now();
    for i in 0..n {
        net.api(
            i + 1,
            Duration::from_secs(10),
            ApiAction::Disconnect(hub_id),
        );
    }
    net.pump();
    let close = start.elapsed();
    assert_eq!(net.nodes[hub].core.peer_count(), 0, "all closed");
    eprintln!(
        "{n} connections: connect {:?} per connection (handshakes included), close {:?} per \
         connection",
        connect / n as u32,
        close / n as u32
    );
}
