//! The query engine over in-memory networks: local lookups, the three query
//! modes over several hops, stores, result counts, cycles, expiry and the
//! query cache bound.

mod kvstore_net;

use std::time::Duration;

use kvstore_net::{is_find, is_found, val, Kind, Net};
use mydht::service::kvstore::{
    KVStoreCommand as Cmd, KVStoreLimits, KVStoreReply, QueryConf, QueryMode,
};

fn conf(mode: QueryMode, hops: u8, forward: u8, nb_result: u8) -> QueryConf {
    QueryConf {
        mode,
        hops,
        forward,
        nb_result,
        timeout: Duration::from_secs(10),
    }
}

fn found(
    replies: Vec<KVStoreReply<kvstore_net::TVal, kvstore_net::TPeer>>,
) -> Vec<kvstore_net::TVal> {
    match <[_; 1]>::try_from(replies) {
        Ok([KVStoreReply::FoundApi(1, v)]) => v,
        other => panic!("expected one FoundApi for query 1, got {other:?}"),
    }
}

#[test]
fn local_find_hit_and_miss() {
    let mut net = Net::line(2, KVStoreLimits::default());
    net.put(0, val(7, "seven"));

    net.cmd(0, Cmd::FindLocally(1, 7));
    assert_eq!(found(net.take_api(0)), vec![val(7, "seven")]);
    net.cmd(0, Cmd::FindLocally(1, 8));
    assert_eq!(found(net.take_api(0)), vec![]);

    // A network find that the local store answers goes nowhere.
    net.cmd(0, Cmd::Find(1, 7, QueryConf::default()));
    assert_eq!(found(net.take_api(0)), vec![val(7, "seven")]);
    // hops = 0 is a local lookup, even on a miss.
    net.cmd(0, Cmd::Find(1, 8, conf(QueryMode::AProxy, 0, 2, 1)));
    assert_eq!(found(net.take_api(0)), vec![]);
    assert!(net.log.is_empty(), "nothing was sent: {:?}", net.log);
    assert_eq!(net.nodes[0].cached_queries(), 0);
}

/// Node 0 looks for a key held by node 3 of the line 0-1-2-3; returns the
/// value found and the Found messages as (from, to).
fn three_hop_find(mode: QueryMode) -> (Vec<kvstore_net::TVal>, Vec<(usize, usize)>, Net) {
    let mut net = Net::line(4, KVStoreLimits::default());
    net.put(3, val(42, "far"));
    net.cmd(0, Cmd::Find(1, 42, conf(mode, 3, 1, 1)));
    let v = found(net.take_api(0));
    // The request walked the line once.
    assert_eq!(net.sent(is_find), vec![(0, 1), (1, 2), (2, 3)]);
    let replies = net.sent(is_found);
    (v, replies, net)
}

#[test]
fn aproxy_reply_goes_back_hop_by_hop() {
    let (v, replies, _) = three_hop_find(QueryMode::AProxy);
    assert_eq!(v, vec![val(42, "far")]);
    assert_eq!(replies, vec![(3, 2), (2, 1), (1, 0)]);
}

#[test]
fn asynch_reply_goes_straight_to_the_originator() {
    let (v, replies, _) = three_hop_find(QueryMode::Asynch);
    assert_eq!(v, vec![val(42, "far")]);
    assert_eq!(replies, vec![(3, 0)]);
}

#[test]
fn amix1_proxies_one_hop_then_asynch() {
    // Node 1 is the one proxied hop: it collects the asynchronous reply and
    // proxies it to the originator, who stays unknown to nodes 2 and 3.
    let (v, replies, _) = three_hop_find(QueryMode::AMix(1));
    assert_eq!(v, vec![val(42, "far")]);
    assert_eq!(replies, vec![(3, 1), (1, 0)]);
}

#[test]
fn a_miss_ends_before_the_timeout_when_proxied() {
    let mut net = Net::line(4, KVStoreLimits::default());
    net.cmd(0, Cmd::Find(1, 42, conf(QueryMode::AProxy, 3, 1, 1)));
    assert_eq!(found(net.take_api(0)), vec![]);
    assert_eq!(net.sent(is_found), vec![(3, 2), (2, 1), (1, 0)]);
}

#[test]
fn store_then_find() {
    let mut net = Net::line(4, KVStoreLimits::default());
    net.cmd(
        0,
        Cmd::Store(1, val(5, "five"), conf(QueryMode::AProxy, 2, 1, 2)),
    );
    match net.take_api(0).as_slice() {
        [KVStoreReply::Done(1, 2)] => {}
        other => panic!("expected Done(1, 2), got {other:?}"),
    }
    // Stored locally and on the two next hops, not beyond.
    for (node, has) in [(0, true), (1, true), (2, true), (3, false)] {
        net.cmd(node, Cmd::FindLocally(1, 5));
        assert_eq!(
            found(net.take_api(node)).len(),
            usize::from(has),
            "node {node}"
        );
    }
    net.cmd(3, Cmd::Find(1, 5, conf(QueryMode::Asynch, 1, 1, 1)));
    assert_eq!(found(net.take_api(3)), vec![val(5, "five")]);

    // Asynchronous stores report to the originator directly.
    net.log.clear();
    net.cmd(
        3,
        Cmd::Store(2, val(6, "six"), conf(QueryMode::Asynch, 3, 1, 3)),
    );
    match net.take_api(3).as_slice() {
        [KVStoreReply::Done(2, 3)] => {}
        other => panic!("expected Done(2, 3), got {other:?}"),
    }
    assert_eq!(
        net.sent(|k| matches!(k, Kind::Stored(_))),
        vec![(2, 3), (1, 3), (0, 3)]
    );
}

#[test]
fn store_locally_and_hops_zero() {
    let mut net = Net::line(2, KVStoreLimits::default());
    net.cmd(0, Cmd::StoreLocally(1, val(1, "a")));
    net.cmd(
        0,
        Cmd::Store(2, val(2, "b"), conf(QueryMode::AProxy, 0, 2, 1)),
    );
    match net.take_api(0).as_slice() {
        [KVStoreReply::Done(1, 1), KVStoreReply::Done(2, 1)] => {}
        other => panic!("got {other:?}"),
    }
    assert!(net.log.is_empty());
}

#[test]
fn nb_result_stops_the_query_early() {
    // Proxied: node 1 has the value, so node 2 (which has it too) is never
    // asked.
    let mut net = Net::line(3, KVStoreLimits::default());
    net.put(1, val(9, "one"));
    net.put(2, val(9, "two"));
    net.cmd(0, Cmd::Find(1, 9, conf(QueryMode::AProxy, 2, 1, 1)));
    assert_eq!(found(net.take_api(0)), vec![val(9, "one")]);
    assert_eq!(net.sent(is_find), vec![(0, 1)]);

    // Asynchronous, star of 4 holders, 2 results wanted: the query is
    // answered once, with 2 values, and later replies are dropped.
    let mut net = Net::new(
        &[vec![1, 2, 3, 4], vec![], vec![], vec![], vec![]],
        KVStoreLimits::default(),
    );
    for i in 1..=4 {
        net.put(i, val(9, &format!("v{i}")));
    }
    net.cmd(0, Cmd::Find(1, 9, conf(QueryMode::Asynch, 1, 4, 2)));
    assert_eq!(found(net.take_api(0)), vec![val(9, "v1"), val(9, "v2")]);
    assert_eq!(net.sent(is_found).len(), 4);
    net.advance(Duration::from_secs(11));
    assert!(net.take_api(0).is_empty(), "answered once only");
}

#[test]
fn loop_avoidance_with_a_cycle_in_the_route() {
    // A directed ring 0 -> 1 -> 2 -> 3 -> 0 and far more hops than nodes:
    // node 0 sees its own query come back and answers it empty, so the
    // proxied miss completes without waiting for the timeout.
    let ring: Vec<Vec<usize>> = (0..4).map(|i| vec![(i + 1) % 4]).collect();
    let mut net = Net::new(&ring, KVStoreLimits::default());
    net.cmd(0, Cmd::Find(1, 3, conf(QueryMode::AProxy, 8, 1, 1)));
    assert_eq!(found(net.take_api(0)), vec![]);
    assert_eq!(net.sent(is_find), vec![(0, 1), (1, 2), (2, 3), (3, 0)]);
    assert_eq!(net.sent(is_found), vec![(0, 3), (3, 2), (2, 1), (1, 0)]);

    // Complete graph, every node forwarding to every other: each node
    // processes the query once; the network settles; the find completes.
    let n = 6;
    let full: Vec<Vec<usize>> = (0..n)
        .map(|i| (0..n).filter(|&j| j != i).collect())
        .collect();
    for mode in [QueryMode::AProxy, QueryMode::Asynch, QueryMode::AMix(2)] {
        let mut net = Net::new(&full, KVStoreLimits::default());
        net.cmd(0, Cmd::Find(1, 3, conf(mode, 8, 8, 1)));
        for (i, node) in net.nodes.iter().enumerate() {
            let routed = node.route().asked;
            assert!(routed <= 1, "{mode:?}: node {i} routed {routed} times");
        }
        if mode != QueryMode::Asynch {
            // Proxied duplicates are answered empty at once.
            assert_eq!(found(net.take_api(0)), vec![]);
        } else {
            // Asynchronous misses send nothing: the query ends on its
            // timeout.
            assert!(net.take_api(0).is_empty());
            net.advance(Duration::from_secs(10));
            match net.take_api(0).as_slice() {
                [KVStoreReply::Expired { api: 1, found, .. }] if found.is_empty() => {}
                other => panic!("{mode:?}: got {other:?}"),
            }
        }
    }
}

#[test]
fn the_origin_and_previous_hop_are_never_routed_back_to() {
    // Node 1 knows only 0 (its previous hop) and 2; node 2 only 0 (the
    // collector) and 1 (its previous hop).
    let mut net = Net::new(&[vec![1], vec![0, 2], vec![0, 1]], KVStoreLimits::default());
    net.cmd(0, Cmd::Find(1, 3, conf(QueryMode::Asynch, 5, 2, 1)));
    assert_eq!(net.sent(is_find), vec![(0, 1), (1, 2)]);
}

#[test]
fn expiry_gives_the_partial_results() {
    // Asynchronous, 3 results wanted, 2 holders.
    let mut net = Net::new(
        &[vec![1, 2, 3], vec![], vec![], vec![]],
        KVStoreLimits::default(),
    );
    net.put(1, val(4, "a"));
    net.put(3, val(4, "b"));
    net.cmd(0, Cmd::Find(1, 4, conf(QueryMode::Asynch, 1, 3, 3)));
    assert!(net.take_api(0).is_empty());
    assert_eq!(
        net.nodes[0].next_deadline(),
        Some(net.now + Duration::from_secs(10))
    );
    net.advance(Duration::from_secs(9));
    assert!(net.take_api(0).is_empty());
    net.advance(Duration::from_secs(1));
    match net.take_api(0).as_slice() {
        [KVStoreReply::Expired {
            api: 1,
            found,
            stored: 0,
        }] => {
            assert_eq!(found, &vec![val(4, "a"), val(4, "b")])
        }
        other => panic!("got {other:?}"),
    }

    // A store that reaches fewer peers than asked for ends with its count.
    let mut net = Net::new(&[vec![1, 2], vec![], vec![]], KVStoreLimits::default());
    net.cmd(
        0,
        Cmd::Store(2, val(8, "x"), conf(QueryMode::Asynch, 1, 2, 3)),
    );
    assert!(net.take_api(0).is_empty());
    net.advance(Duration::from_secs(10));
    match net.take_api(0).as_slice() {
        [KVStoreReply::Expired {
            api: 2,
            found,
            stored: 2,
        }] => assert!(found.is_empty()),
        other => panic!("got {other:?}"),
    }

    // Proxied through a hop whose next peer is dead: the hop times out
    // first (its share of the timeout is shorter) and sends what it has,
    // so the originator gets it as a normal answer.
    let mut net = Net::line(3, KVStoreLimits::default());
    net.dead.push(2);
    net.put(1, val(4, "near"));
    net.cmd(0, Cmd::Find(1, 4, conf(QueryMode::AProxy, 2, 1, 2)));
    assert!(net.take_api(0).is_empty());
    net.advance(Duration::from_secs(7));
    assert_eq!(found(net.take_api(0)), vec![val(4, "near")]);
    assert_eq!(net.sent(is_found), vec![(1, 0)]);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn arb_mode() -> impl Strategy<Value = QueryMode> {
        prop_oneof![
            Just(QueryMode::AProxy),
            Just(QueryMode::Asynch),
            (0u8..4).prop_map(QueryMode::AMix),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// On any graph, in any mode: the network settles, the originator
        /// gets exactly one answer (at the latest when its timeout passes),
        /// with only values of the key, a holder one hop away is always
        /// found when every neighbour is asked, and every query leaves
        /// every cache once expired.
        #[test]
        fn every_query_gets_exactly_one_answer(
            edges in proptest::collection::vec(proptest::collection::vec(0usize..8, 0..5), 8),
            holders in proptest::collection::vec(any::<bool>(), 8),
            mode in arb_mode(),
            hops in 0u8..6,
            nb_result in 1u8..4,
            dead in proptest::option::of(1usize..8),
        ) {
            let adj: Vec<Vec<usize>> = edges
                .iter()
                .enumerate()
                .map(|(i, e)| e.iter().copied().filter(|&j| j != i).collect())
                .collect();
            let mut net = Net::new(&adj, KVStoreLimits::default());
            net.dead.extend(dead);
            for (i, &h) in holders.iter().enumerate() {
                if h {
                    net.put(i, val(1, &format!("v{i}")));
                }
                net.put(i, val(2, "other key"));
            }
            net.cmd(0, Cmd::Find(1, 1, conf(mode, hops, 8, nb_result)));
            net.advance(Duration::from_secs(10));
            let answers = net.take_api(0);
            prop_assert_eq!(answers.len(), 1, "{:?}", answers);
            let found = match &answers[0] {
                KVStoreReply::FoundApi(1, f) | KVStoreReply::Expired { api: 1, found: f, .. } => f.clone(),
                other => return Err(TestCaseError::fail(format!("{other:?}"))),
            };
            prop_assert!(found.len() <= usize::from(nb_result));
            prop_assert!(found.iter().all(|v| v.key == 1));
            let near_holder = holders[0]
                || (hops > 0 && adj[0].iter().any(|&j| holders[j] && Some(j) != dead));
            if near_holder {
                prop_assert!(!found.is_empty());
            }
            for node in &net.nodes {
                prop_assert_eq!(node.cached_queries(), 0);
            }
        }
    }
}
