//! Send-once connections in the node core: dialled by address for one
//! message, closed after it (`Finish`), bounded in number, outside the
//! pooled connections (no address cache, no online event on either side).

mod core_support;

use std::time::Duration;

use core_support::{addr, dials, onlines, opens, Net, Rec};
use mydht::command::MainLoopCommand;
use mydht::{NodeConstants, PeerVerdict, Reply};
use mydht_basetest::harness::touch::TouchMsg;

#[test]
fn a_send_once_message_goes_on_its_own_connection_then_it_finishes() {
    let mut net = Net::new();
    let constants = NodeConstants {
        max_send_once: 2,
        ..NodeConstants::default()
    };
    let a = net.add_node(addr(2001), addr(2001), Some(PeerVerdict::Accept), constants);
    let b = net.node(2002, Some(PeerVerdict::Accept));
    net.pump();
    net.nodes[a].take_log();
    net.nodes[b].take_log();

    // Three at once, two allowed: the third is dropped (and logged).
    let now = net.now;
    for qid in [7, 8, 9] {
        let once = Reply::SendOnce(addr(2002), TouchMsg::Touch(qid));
        net.nodes[a].core.command(MainLoopCommand::Reply(once), now);
    }
    net.pump();
    let log_a = net.nodes[a].take_log();
    let log_b = net.nodes[b].take_log();
    assert_eq!(dials(&log_a), vec![addr(2002), addr(2002)], "{log_a:?}");

    // Each opens with its one message and no admission, then finishes.
    let opened: Vec<_> = log_a
        .iter()
        .filter_map(|r| match r {
            Rec::Open { conn, app_msgs, .. } => Some((conn.key, *app_msgs)),
            _ => None,
        })
        .collect();
    assert_eq!(opened.len(), 2, "{log_a:?}");
    for (key, msgs) in &opened {
        assert_eq!(*msgs, 1);
        let open_at = log_a
            .iter()
            .position(|r| matches!(r, Rec::Open { conn, .. } if conn.key == *key));
        let finish_at = log_a.iter().position(|r| *r == Rec::Finish(*key));
        assert!(open_at < finish_at, "finished after it opened: {log_a:?}");
    }
    // Neither side makes the other online through them.
    assert_eq!(onlines(&log_a, net.nodes[b].id), (0, 0), "{log_a:?}");
    assert_eq!(onlines(&log_b, net.nodes[a].id), (0, 0), "{log_b:?}");
    assert_eq!(opens(&log_b).len(), 2, "b opens them to read the message");
    assert_eq!(net.nodes[a].core.peer_count(), 0);
    assert_eq!(net.nodes[b].core.peer_count(), 0);

    // Not the connection for that address: a connect dials its own.
    net.api(
        a,
        Duration::from_secs(5),
        mydht::command::ApiAction::Connect(addr(2002)),
    );
    net.pump();
    let log_a = net.nodes[a].take_log();
    assert_eq!(dials(&log_a), vec![addr(2002)], "{log_a:?}");
    assert_eq!(onlines(&log_a, net.nodes[b].id), (1, 1), "{log_a:?}");
}
