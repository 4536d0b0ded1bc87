//! `NodeHandle::disconnect`: the connection closes on both sides, the peer
//! goes offline on both, and the two nodes can connect again.

use mydht::{MyDHTConf, PeerCount, PeerId};
use mydht_base::Peer;
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::{connect_and_touch, wait_peers, TIMEOUT};
use mydht_basetest::harness::touch::{Touch, Touched};
use mydht_basetest::touch_conf;
use mydht_tcp::TcpTransport;

touch_conf!(RestartTcp, restartable, TcpTransport, loopback());
touch_conf!(ThreadedTcp, threaded, TcpTransport, loopback());

fn disconnect_and_reconnect<C>(mk: fn() -> C)
where
    C: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
{
    let n1 = mydht::start_loop(mk()).expect("node 1");
    let n2 = mydht::start_loop(mk()).expect("node 2");
    let id2 = *n2.local_peer().get_id();
    connect_and_touch(&n1, &n2);

    let gone = n1.disconnect(&id2, TIMEOUT).expect("disconnect");
    assert_eq!(gone.map(|p| *p.get_id()), Some(id2));
    assert!(n1.connected_peers(TIMEOUT).expect("peers").is_empty());
    wait_peers(&n2, PeerCount::AtMost(0)).expect("node 2 sees the close");
    let nobody = PeerId::from([7; 32]);
    assert_eq!(n1.disconnect(&nobody, TIMEOUT).expect("unknown peer"), None);

    // A new connection serves as the first did.
    connect_and_touch(&n1, &n2);
    n1.stop().expect("stop node 1");
    n2.stop().expect("stop node 2");
}

#[test]
fn test_disconnect_restartable() {
    disconnect_and_reconnect(|| RestartTcp);
}

#[test]
fn test_disconnect_threaded() {
    disconnect_and_reconnect(|| ThreadedTcp);
}
