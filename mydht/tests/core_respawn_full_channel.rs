//! A service spawned again every few commands (`NodeConstants::loops`)
//! while it waits for room in its node's loop channel: under `threaded!`
//! a service blocks on a full loop channel (back-pressure), and a loop
//! that joined it to spawn it again waited for it forever. Here a hub
//! with a one-command loop channel and a global service spawned again
//! after each command answers many touches asked at once.

use std::sync::mpsc::channel;
use std::thread;

use mydht::{NodeConstants, ServiceLoops};
use mydht_base::Peer as _;
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::{connect, TIMEOUT};
use mydht_basetest::harness::touch::Touch;
use mydht_basetest::touch_conf;
use mydht_tcp::TcpTransport;

touch_conf!(
    Hub,
    threaded,
    TcpTransport,
    loopback(),
    NodeConstants {
        mainloop_channel: 1,
        loops: ServiceLoops {
            global: 1,
            api: 1,
            ..ServiceLoops::default()
        },
        ..NodeConstants::default()
    }
);
touch_conf!(Peer, threaded, TcpTransport, loopback());

const ASKERS: usize = 8;
const TOUCHES: usize = 50;

#[test]
fn a_service_spawned_again_while_it_waits_for_the_loop() {
    let hub = mydht::start_loop(Hub).expect("hub");
    let peer = mydht::start_loop(Peer).expect("peer");
    let to = *connect(&hub, &peer).expect("connect").get_id();
    let (done_tx, done) = channel();
    for _ in 0..ASKERS {
        let (hub, done_tx) = (hub.clone(), done_tx.clone());
        thread::spawn(move || {
            for _ in 0..TOUCHES {
                let r = hub.query(Touch(to), 2, TIMEOUT);
                if done_tx.send(r.map(|r| r.len())).is_err() {
                    return;
                }
            }
        });
    }
    for i in 0..ASKERS * TOUCHES {
        let got = done
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("touch {i}: no answer within {TIMEOUT:?}"));
        assert_eq!(got.expect("touched"), 2);
    }
    hub.stop().expect("hub stopped");
    peer.stop().expect("peer stopped");
}
