//! An accepted connection takes one of the node's spare ephemeral keys
//! (made at idle) only when its first message is a ping, whose pong needs
//! one: a known-key flight needs none, so accepting it leaves the spares
//! whole and gives the loop no key to make while the flight is checked.

mod core_support;

use std::time::Duration;

use core_support::{addr, onlines, Net};
use mydht::command::ApiAction;
use mydht::PeerVerdict;

/// Makes `node`'s spare keys (its idle work) until none is left to make.
fn spares_made(net: &mut Net, node: usize) {
    while net.nodes[node].core.has_idle_work() {
        net.nodes[node].core.idle();
    }
}

/// `dialler` connects to `acceptor` by its address, from spares made on
/// both: whether the acceptor has a spare key to make afterwards.
fn acceptor_spent_a_key(net: &mut Net, dialler: usize, acceptor: usize) -> bool {
    spares_made(net, dialler);
    spares_made(net, acceptor);
    net.nodes[acceptor].take_log();
    net.connect(dialler, addr(1002));
    net.pump();
    let id = net.nodes[dialler].id;
    assert_eq!(
        onlines(&net.nodes[acceptor].take_log(), id),
        (1, 1),
        "connected"
    );
    net.nodes[acceptor].core.has_idle_work()
}

#[test]
fn an_acceptor_spends_a_spare_key_on_a_ping_and_none_on_a_known_key_flight() {
    let mut net = Net::new();
    let dialler = net.node(1001, Some(PeerVerdict::Accept));
    let acceptor = net.node(1002, Some(PeerVerdict::Accept));
    // No message yet: nothing taken.
    spares_made(&mut net, acceptor);
    let (_, cref) = net.accept_silent(acceptor);
    assert!(cref.is_some(), "accepted");
    assert!(
        !net.nodes[acceptor].core.has_idle_work(),
        "an accept alone takes no spare key"
    );
    // First contact, by address: the signed handshake, whose pong takes a
    // spare that the acceptor's idle work then replaces.
    assert!(acceptor_spent_a_key(&mut net, dialler, acceptor));
    // Again after a disconnect: the dialler knows the acceptor at that
    // address, so it sends a known-key flight, which takes none.
    let to = net.nodes[acceptor].id;
    net.api(dialler, Duration::from_secs(10), ApiAction::Disconnect(to));
    net.pump();
    assert!(!acceptor_spent_a_key(&mut net, dialler, acceptor));
}
