//! Two connections to one peer in the node core (see `core/duplicate.rs`):
//! the connection dialled by the lower peer id is kept on both nodes, the
//! other is closed by the node that dialled it, the peer comes online once;
//! a connect query whose connection loses that tie-break still gets the
//! peer.

mod core_support;

use std::time::Duration;

use core_support::{closes, dials, offlines, onlines, replies, Net, Rec, Res};
use mydht::service::{ApiResult, ReplySlot};
use mydht::PeerVerdict;
use mydht_base::Peer;

type Slot = ReplySlot<ApiResult<core_support::Conf>>;

/// The peer a finished connect query got.
fn connected_to(slot: &Slot) -> mydht::PeerId {
    assert!(slot.is_done(), "the connect query is still waiting");
    let replies = slot
        .wait(Duration::ZERO)
        .expect("the connect query succeeded");
    match replies.as_slice() {
        [ApiResult::Peer(Some(p))] => *p.get_id(),
        other => panic!("unexpected replies {other:?}"),
    }
}

/// Two nodes accepting everyone, their logs empty: (lower id, higher id).
fn two_nodes() -> (Net, usize, usize) {
    let mut net = Net::new();
    let a = net.node(1001, Some(PeerVerdict::Accept));
    let b = net.node(1002, Some(PeerVerdict::Accept));
    net.pump();
    net.nodes[a].take_log();
    net.nodes[b].take_log();
    assert_ne!(net.nodes[a].id, net.nodes[b].id);
    if net.nodes[a].id < net.nodes[b].id {
        (net, a, b)
    } else {
        (net, b, a)
    }
}

/// Both nodes dial each other at once (`lower_first`: the lower one's
/// connect is handled first); closes are held so that who closes what is
/// seen.
fn simultaneous(lower_first: bool) {
    let (mut net, lo, hi) = two_nodes();
    let (lo_id, hi_id) = (net.nodes[lo].id, net.nodes[hi].id);
    let (lo_addr, hi_addr) = (net.nodes[lo].listen, net.nodes[hi].listen);
    net.hold_closes = true;
    let (q_lo, s_lo, q_hi, s_hi) = if lower_first {
        let (q_lo, s_lo) = net.connect(lo, hi_addr);
        let (q_hi, s_hi) = net.connect(hi, lo_addr);
        (q_lo, s_lo, q_hi, s_hi)
    } else {
        let (q_hi, s_hi) = net.connect(hi, lo_addr);
        let (q_lo, s_lo) = net.connect(lo, hi_addr);
        (q_lo, s_lo, q_hi, s_hi)
    };
    net.pump();

    assert_eq!(net.links.len(), 2, "one connection each way");
    let by_lo = *net
        .links
        .iter()
        .find(|l| l.dialler.0 == lo)
        .expect("lo dialled");
    let by_hi = *net
        .links
        .iter()
        .find(|l| l.dialler.0 == hi)
        .expect("hi dialled");
    let lo_log = net.nodes[lo].take_log();
    let hi_log = net.nodes[hi].take_log();

    // The higher node closed the connection it dialled, without an error;
    // the lower one closed nothing (it leaves that to its dialler).
    assert_eq!(closes(&hi_log), vec![(by_hi.dialler.1, None)], "{hi_log:?}");
    assert_eq!(closes(&lo_log), vec![], "{lo_log:?}");
    // The connection dialled by the lower id is open at both ends.
    assert_eq!(
        net.nodes[hi].open.keys().copied().collect::<Vec<_>>(),
        vec![by_lo.acceptor.1]
    );
    assert!(net.nodes[lo].open.contains_key(&by_lo.dialler.1));
    // Online once on each side, never offline.
    assert_eq!(onlines(&lo_log, hi_id), (1, 1), "{lo_log:?}");
    assert_eq!(onlines(&hi_log, lo_id), (1, 1), "{hi_log:?}");
    assert_eq!(offlines(&lo_log, hi_id), (0, 0));
    assert_eq!(offlines(&hi_log, lo_id), (0, 0));
    // Both connect queries got the peer.
    assert_eq!(replies(&lo_log, q_lo), vec![Res::Peer(Some(hi_id))]);
    assert_eq!(replies(&hi_log, q_hi), vec![Res::Peer(Some(lo_id))]);
    assert_eq!(connected_to(&s_lo), hi_id);
    assert_eq!(connected_to(&s_hi), lo_id);

    // The close reaches the lower node: it drops its end of the higher's
    // connection, and keeps the peer online through the kept one.
    net.release_closes();
    let lo_log = net.nodes[lo].take_log();
    let hi_log = net.nodes[hi].take_log();
    assert_eq!(
        closes(&lo_log),
        vec![(by_hi.acceptor.1, None)],
        "{lo_log:?}"
    );
    assert_eq!(closes(&hi_log), vec![]);
    assert_eq!(
        net.nodes[lo].open.keys().copied().collect::<Vec<_>>(),
        vec![by_lo.dialler.1]
    );
    assert_eq!(offlines(&lo_log, hi_id), (0, 0), "{lo_log:?}");
    assert_eq!(onlines(&lo_log, hi_id), (0, 0));
    assert_eq!(net.nodes[lo].core.peer_count(), 1);
    assert_eq!(net.nodes[hi].core.peer_count(), 1);
    assert!(net.link_of(lo, by_lo.dialler.1).is_some());
    assert!(net.link_of(hi, by_hi.dialler.1).is_none());
}

#[test]
fn of_two_simultaneous_connections_the_one_dialled_by_the_lower_id_is_kept() {
    simultaneous(true);
}

#[test]
fn the_same_connection_is_kept_whichever_connect_comes_first() {
    simultaneous(false);
}

#[test]
fn a_connect_whose_connection_loses_the_tie_break_still_gets_the_peer() {
    let (mut net, lo, hi) = two_nodes();
    let (lo_id, lo_addr, hi_addr) = (net.nodes[lo].id, net.nodes[lo].listen, net.nodes[hi].listen);
    // The lower node connects first: `hi` holds the peer on a connection
    // it accepted, the one the tie-break keeps.
    net.connect(lo, hi_addr);
    net.pump();
    assert_eq!(net.nodes[hi].core.peer_count(), 1);
    let first = net.links[0];
    net.nodes[lo].take_log();
    net.nodes[hi].take_log();

    // `hi` connects to `lo`'s address: it has no connection it dialled
    // there, so it dials; the peer answers at once, every frame delivered
    // in one go, and that connection is a duplicate that loses.
    let (qid, slot) = net.connect(hi, lo_addr);
    net.pump();
    let log = net.nodes[hi].take_log();
    assert_eq!(dials(&log), vec![lo_addr], "{log:?}");
    let second = net.links[1];
    assert_eq!(second.dialler.0, hi);
    assert_eq!(closes(&log), vec![(second.dialler.1, None)], "{log:?}");
    assert_eq!(replies(&log, qid), vec![Res::Peer(Some(lo_id))], "{log:?}");
    assert!(
        !log.iter().any(|r| matches!(r, Rec::Fail { .. })),
        "the connect failed while the peer is connected: {log:?}"
    );
    assert_eq!(connected_to(&slot), lo_id);
    assert_eq!(onlines(&log, lo_id), (0, 0), "online already: {log:?}");
    assert_eq!(offlines(&log, lo_id), (0, 0));

    // The kept connection is now the one for that address: a second
    // connect is answered at once, without a dial.
    let (qid2, slot2) = net.connect(hi, lo_addr);
    net.pump();
    let log = net.nodes[hi].take_log();
    assert_eq!(dials(&log), vec![], "{log:?}");
    assert_eq!(replies(&log, qid2), vec![Res::Peer(Some(lo_id))]);
    assert_eq!(connected_to(&slot2), lo_id);
    assert_eq!(
        net.nodes[hi].open.keys().copied().collect::<Vec<_>>(),
        vec![first.acceptor.1]
    );
    // `lo` lost the duplicate's end and kept the peer.
    let log = net.nodes[lo].take_log();
    assert_eq!(offlines(&log, net.nodes[hi].id), (0, 0), "{log:?}");
    assert_eq!(net.nodes[lo].core.peer_count(), 1);
}

#[test]
fn a_connect_after_the_kept_connection_closed_dials_again() {
    // As above: `hi` dials `lo`, that connection loses to the one `hi`
    // accepted, which becomes the one for `lo`'s address.
    let (mut net, lo, hi) = two_nodes();
    let (lo_addr, hi_addr) = (net.nodes[lo].listen, net.nodes[hi].listen);
    net.connect(lo, hi_addr);
    net.pump();
    let kept = net.links[0].acceptor.1;
    let (_, slot) = net.connect(hi, lo_addr);
    net.pump();
    assert_eq!(connected_to(&slot), net.nodes[lo].id);

    // `lo` stops: `hi` drops the kept connection, and frees its key.
    net.nodes[lo].core.stop();
    net.pump();
    assert_eq!(net.nodes[hi].core.peer_count(), 0);
    assert!(net.nodes[hi].open.is_empty());

    // A third node connects to `hi`: its connection gets the freed key (a
    // slab reuses it).
    let z = net.node(1003, Some(PeerVerdict::Accept));
    net.connect(z, hi_addr);
    net.pump();
    let z_link = *net.links.last().expect("z's link");
    assert_eq!(z_link.acceptor, (hi, kept), "the key is reused");
    assert_eq!(net.nodes[hi].core.peer_count(), 1);
    net.nodes[hi].take_log();

    // A connect to `lo`'s address must dial it (and fail: nobody listens
    // there), not answer with the peer now under the old key.
    let (q, slot) = net.connect(hi, lo_addr);
    net.pump();
    let log = net.nodes[hi].take_log();
    let z_id = net.nodes[z].id;
    assert!(
        !replies(&log, q).contains(&Res::Peer(Some(z_id))),
        "connect to lo's address answered with the third node: {log:?}"
    );
    assert_eq!(dials(&log), vec![lo_addr], "{log:?}");
    assert_eq!(replies(&log, q), vec![], "{log:?}");
    let e = slot
        .wait(Duration::ZERO)
        .expect_err("nobody at lo's address");
    assert_eq!(
        e.kind(),
        mydht_base::ErrorKind::Io(std::io::ErrorKind::ConnectionRefused)
    );
}
