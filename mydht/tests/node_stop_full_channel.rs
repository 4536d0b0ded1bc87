//! A node whose loop channel is full when it stops still stops: under a
//! threaded profile a service waits for room in the loop's channel
//! (back-pressure), and a loop that joined such a service before closing
//! its channel waited for it forever. Here every peer of a `threaded!`
//! hub with a one-command loop channel closes at once, so its read
//! services all report their connection's end together while the hub
//! stops.

use std::sync::mpsc::channel;

use mydht::NodeConstants;
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::{connect_and_touch, TIMEOUT};
use mydht_basetest::touch_conf;
use mydht_tcp::TcpTransport;

touch_conf!(
    Hub,
    threaded,
    TcpTransport,
    loopback(),
    NodeConstants {
        mainloop_channel: 1,
        ..NodeConstants::default()
    }
);
touch_conf!(Peer, restartable, TcpTransport, loopback());

const PEERS: usize = 12;

#[test]
fn a_node_stops_while_its_services_wait_for_room_in_its_channel() {
    for round in 0..5 {
        let hub = mydht::start_loop(Hub).expect("hub");
        let peers: Vec<_> = (0..PEERS)
            .map(|_| mydht::start_loop(Peer).expect("peer"))
            .collect();
        for p in &peers {
            connect_and_touch(p, &hub);
        }
        // The peers go at once: each hub read service sees its end of
        // stream and queues `ConnectionEnded` in a channel with room for
        // one, while the hub stops.
        let stoppers: Vec<_> = peers
            .into_iter()
            .map(|p| std::thread::spawn(move || p.stop()))
            .collect();
        let (done_tx, done) = channel();
        std::thread::spawn(move || {
            let _ = done_tx.send(hub.stop());
        });
        let stopped = done
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("round {round}: the hub did not stop within {TIMEOUT:?}"));
        stopped.expect("hub stopped cleanly");
        for s in stoppers {
            s.join().expect("peer stopper").expect("peer stopped");
        }
    }
}
