//! What a peer cannot make a query engine do: exceed its limits, grow its
//! query cache, take values it did not ask for, or panic.

mod kvstore_net;

use std::time::{Duration, Instant};

use kvstore_net::{peer, val, Engine, GraphRoute, Msg, Reply, TPeer, TVal};
use mydht::service::kvstore::{
    KVStoreCommand as Cmd, KVStoreLimits, KVStoreProtoMsg, KVStoreReply, MemoryStore, QueryConf,
    QueryEngine, QueryMode, QueryMsg,
};
use mydht_base::{KVStore, Route};
use proptest::prelude::*;

/// Node 0, routing to peers 1..=`n`.
fn engine(n: usize, limits: KVStoreLimits) -> Engine {
    let route = GraphRoute {
        neighbours: (1..=n).map(peer).collect(),
        asked: 0,
    };
    QueryEngine::new(peer(0), MemoryStore::new(16), route, limits, 0)
}

fn find(qid: u64, mode: QueryMode, origin: Option<TPeer>, hops: u8, forward: u8, nb: u8) -> Msg {
    let q = QueryMsg {
        qid,
        origin,
        mode,
        hops,
        forward,
        nb_result: nb,
        timeout_ms: u32::MAX,
    };
    KVStoreProtoMsg::Find(q, 1)
}

fn handle(e: &mut Engine, cmd: Cmd<TVal, TPeer>, now: Instant) -> Vec<Reply> {
    let mut out = Vec::new();
    e.handle(cmd, now, &mut out);
    out
}

#[test]
fn garbage_counts_are_clamped() {
    let limits = KVStoreLimits::default();
    let now = Instant::now();
    for mode in [
        QueryMode::AProxy,
        QueryMode::AMix(255),
        QueryMode::AMix(1),
        QueryMode::Asynch,
    ] {
        let mut e = engine(100, limits);
        let msg = find(1, mode, Some(peer(200)), 255, 255, 255);
        let out = handle(&mut e, Cmd::Received(peer(100), msg), now);
        match out.as_slice() {
            [KVStoreReply::Forward(to, KVStoreProtoMsg::Find(q, 1))] => {
                assert_eq!(to.len(), usize::from(limits.max_forward), "{mode:?}");
                assert!(to.iter().all(|p| p.id != 100 && p.id != 0 && p.id != 200));
                assert_eq!(q.hops, limits.max_hops - 1);
                assert_eq!(q.forward, limits.max_forward);
                assert_eq!(q.nb_result, limits.max_nb_result);
                assert!(Duration::from_millis(q.timeout_ms.into()) <= limits.max_timeout);
            }
            other => panic!("{mode:?}: {other:?}"),
        }
        // The hop's own deadline is bounded too.
        assert!(e.next_deadline().unwrap() <= now + limits.max_timeout);
    }

    // Local queries are clamped the same way.
    let mut e = engine(100, limits);
    let conf = QueryConf {
        mode: QueryMode::AProxy,
        hops: 255,
        forward: 255,
        nb_result: 0,
        timeout: Duration::MAX,
    };
    match handle(&mut e, Cmd::Find(1, 1, conf), now).as_slice() {
        [KVStoreReply::Forward(to, KVStoreProtoMsg::Find(q, 1))] => {
            assert_eq!(to.len(), usize::from(limits.max_forward));
            assert_eq!((q.hops, q.nb_result), (limits.max_hops - 1, 1));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unbounded_limits_do_not_overflow() {
    let limits = KVStoreLimits {
        max_hops: u8::MAX,
        max_forward: u8::MAX,
        max_nb_result: u8::MAX,
        max_timeout: Duration::MAX,
        cache_capacity: 0,
    };
    let now = Instant::now();
    let mut e = engine(300, limits);
    let conf = QueryConf {
        mode: QueryMode::AMix(u8::MAX),
        hops: u8::MAX,
        forward: u8::MAX,
        nb_result: u8::MAX,
        timeout: Duration::MAX,
    };
    let out = handle(&mut e, Cmd::Find(1, 1, conf), now);
    match out.as_slice() {
        [KVStoreReply::Forward(to, KVStoreProtoMsg::Find(q, 1))] => {
            assert_eq!(to.len(), 255);
            assert_eq!((q.hops, q.timeout_ms), (254, u32::MAX));
        }
        other => panic!("{other:?}"),
    }
    let msg = find(2, QueryMode::AMix(1), None, u8::MAX, u8::MAX, 0);
    assert_eq!(handle(&mut e, Cmd::Received(peer(1), msg), now).len(), 2);
    // A cache of capacity 0 holds one query: the first one was evicted.
    assert_eq!(e.cached_queries(), 1);
}

/// A careless route: always the same list, whatever is asked.
struct Careless(Vec<usize>);

impl Route<TPeer, u32> for Careless {
    fn route(&mut self, _: &u32, _: usize, _: &[usize]) -> Vec<TPeer> {
        self.0.iter().map(|&i| peer(i)).collect()
    }
}

#[test]
fn a_route_answering_duplicates_and_excluded_peers_is_filtered() {
    let route = Careless(vec![0, 1, 1, 2, 0, 2, 3, 4]);
    let mut e = QueryEngine::new(
        peer(0),
        MemoryStore::new(4),
        route,
        KVStoreLimits::default(),
        0,
    );
    let now = Instant::now();
    // Peer 1 is the previous hop, 0 this node, and 3 peers are wanted.
    let msg = find(1, QueryMode::AProxy, None, 2, 3, 1);
    let mut out = Vec::new();
    e.handle(Cmd::Received(peer(1), msg), now, &mut out);
    match out.as_slice() {
        [KVStoreReply::Forward(to, _)] => {
            assert_eq!(to.iter().map(|p| p.id).collect::<Vec<_>>(), vec![2, 3, 4])
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_and_unsolicited_messages_are_dropped() {
    let now = Instant::now();
    let mut e = engine(3, KVStoreLimits::default());
    // Asynchronous without a collector: nobody to answer, nothing done.
    let out = handle(
        &mut e,
        Cmd::Received(peer(1), find(1, QueryMode::Asynch, None, 3, 2, 1)),
        now,
    );
    assert!(out.is_empty(), "{out:?}");
    // Asynchronous naming this node as the collector of a query it never
    // sent: dropped, even when the value is here.
    e.store_mut().put(val(1, "here")).unwrap();
    let bogus = find(2, QueryMode::Asynch, Some(peer(0)), 3, 2, 1);
    assert!(handle(&mut e, Cmd::Received(peer(1), bogus), now).is_empty());
    e.store_mut().remove(&1);
    // Nor does such a store store anything.
    let bogus = KVStoreProtoMsg::Store(
        QueryMsg {
            qid: 3,
            origin: None,
            mode: QueryMode::AMix(0),
            hops: 1,
            forward: 1,
            nb_result: 1,
            timeout_ms: 1000,
        },
        val(5, "planted"),
    );
    assert!(handle(&mut e, Cmd::Received(peer(1), bogus), now).is_empty());
    assert!(e.store().get(&5).is_none());
    // Replies to queries that do not exist.
    for m in [
        KVStoreProtoMsg::Found(9, vec![val(1, "x")]),
        KVStoreProtoMsg::Stored(9, u32::MAX),
    ] {
        assert!(handle(&mut e, Cmd::Received(peer(1), m), now).is_empty());
    }

    // A proxied query of node 0 waiting on peers 1 and 2.
    let conf = QueryConf {
        mode: QueryMode::AProxy,
        hops: 2,
        forward: 2,
        nb_result: 2,
        timeout: Duration::from_secs(5),
    };
    let out = handle(&mut e, Cmd::Find(7, 1, conf), now);
    let qid = match out.as_slice() {
        [KVStoreReply::Forward(_, KVStoreProtoMsg::Find(q, _))] => q.qid,
        other => panic!("{other:?}"),
    };
    // Peer 3 was not asked: its values are not taken.
    let stranger = KVStoreProtoMsg::Found(qid, vec![val(1, "forged")]);
    assert!(handle(&mut e, Cmd::Received(peer(3), stranger), now).is_empty());
    // Peer 1 answers with many values, most of another key: only values of
    // the key are kept, no more than the result count.
    let mut vals: Vec<TVal> = (0..10_000).map(|i| val(2 + i, "other")).collect();
    vals.extend((0..5).map(|i| val(1, &format!("ok{i}"))));
    let out = handle(
        &mut e,
        Cmd::Received(peer(1), KVStoreProtoMsg::Found(qid, vals)),
        now,
    );
    match out.as_slice() {
        [KVStoreReply::FoundApi(7, found)] => {
            assert_eq!(found, &vec![val(1, "ok0"), val(1, "ok1")])
        }
        other => panic!("{other:?}"),
    }
    // A late answer of peer 2 changes nothing.
    let late = KVStoreProtoMsg::Found(qid, vec![val(1, "late")]);
    assert!(handle(&mut e, Cmd::Received(peer(2), late), now).is_empty());
}

#[test]
fn the_query_cache_stays_bounded_under_100k_queries() {
    let limits = KVStoreLimits {
        cache_capacity: 64,
        ..KVStoreLimits::default()
    };
    let now = Instant::now();
    let n = 100_000u64;

    // Proxied queries from a peer, each left waiting on peer 1: every one
    // evicted is answered (empty) to its sender, so nobody waits forever.
    let mut e = engine(1, limits);
    let mut answered = 0;
    for qid in 0..n {
        let msg = find(qid, QueryMode::AProxy, None, 3, 1, 1);
        for r in handle(&mut e, Cmd::Received(peer(2), msg), now) {
            match r {
                KVStoreReply::Forward(..) => {}
                KVStoreReply::Reply(to, KVStoreProtoMsg::Found(q, v)) => {
                    assert_eq!((to.id, v.len()), (2, 0));
                    assert_eq!(q, answered, "the oldest goes first");
                    answered += 1;
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(e.cached_queries() <= 64);
    }
    assert_eq!(answered, n - 64);
    // The rest expire.
    let out = handle(&mut e, Cmd::Tick(now + limits.max_timeout), now);
    assert_eq!(out.len(), 64);
    assert_eq!(e.cached_queries(), 0);

    // Local queries: evicted ones end as expired for the api.
    let mut e = engine(1, limits);
    let mut expired = 0;
    for api in 0..n {
        for r in handle(&mut e, Cmd::Find(api, 1, QueryConf::default()), now) {
            match r {
                KVStoreReply::Forward(..) => {}
                KVStoreReply::Expired { api: a, .. } => {
                    assert_eq!(a, expired);
                    expired += 1;
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(expired, n - 64);
    assert_eq!(e.cached_queries(), 64);
}

#[test]
fn a_full_store_evicts_its_oldest_value() {
    let mut s = MemoryStore::new(3);
    for i in 0..1000 {
        s.put(val(i, "v")).unwrap();
        assert!(s.len() <= 3);
    }
    assert!(s.get(&996).is_none());
    assert_eq!(s.get(&999), Some(val(999, "v")));
}

fn arb_mode() -> impl Strategy<Value = QueryMode> {
    prop_oneof![
        Just(QueryMode::AProxy),
        Just(QueryMode::Asynch),
        any::<u8>().prop_map(QueryMode::AMix),
    ]
}

/// Any request header.
fn arb_query() -> impl Strategy<Value = QueryMsg<TPeer>> {
    (
        0u64..8,
        arb_mode(),
        proptest::option::of(0usize..6),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
    )
        .prop_map(
            |(qid, mode, origin, hops, forward, nb_result, timeout_ms)| QueryMsg {
                qid,
                origin: origin.map(peer),
                mode,
                hops,
                forward,
                nb_result,
                timeout_ms,
            },
        )
}

/// One input from a peer (or the clock), with small qids so duplicates and
/// replies to live queries happen.
fn arb_input() -> impl Strategy<Value = (usize, Cmd<TVal, TPeer>)> {
    let msg = prop_oneof![
        (arb_query(), 0u32..4).prop_map(|(q, k)| KVStoreProtoMsg::Find(q, k)),
        (arb_query(), 0u32..4).prop_map(|(q, k)| KVStoreProtoMsg::Store(q, val(k, "s"))),
        (0u64..8, proptest::collection::vec(0u32..4, 0..40)).prop_map(|(qid, ks)| {
            KVStoreProtoMsg::Found(qid, ks.into_iter().map(|k| val(k, "f")).collect())
        }),
        (0u64..8, any::<u32>()).prop_map(|(qid, n)| KVStoreProtoMsg::Stored(qid, n)),
    ];
    prop_oneof![
        8 => (1usize..6, msg).prop_map(|(from, m)| (from, Cmd::Received(peer(from), m))),
        1 => (0u64..120).prop_map(|s| (0, Cmd::Tick(base() + Duration::from_secs(s)))),
        1 => (0u32..4, 0u8..4).prop_map(|(k, hops)| (0, Cmd::Find(1, k, QueryConf { hops, ..QueryConf::default() }))),
    ]
}

fn base() -> Instant {
    use std::sync::OnceLock;
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

proptest! {
    /// Whatever peers send, the engine keeps to its limits and never routes
    /// a query back to its sender or collector.
    #[test]
    fn any_input_respects_the_limits(inputs in proptest::collection::vec(arb_input(), 1..60)) {
        let limits = KVStoreLimits { cache_capacity: 6, ..KVStoreLimits::default() };
        let mut e = engine(5, limits);
        let mut now = base();
        for (from, cmd) in inputs {
            if let Cmd::Tick(t) = &cmd {
                now = now.max(*t);
            }
            let origin = match &cmd {
                Cmd::Received(_, KVStoreProtoMsg::Find(q, _) | KVStoreProtoMsg::Store(q, _)) => q.origin.clone(),
                _ => None,
            };
            for r in handle(&mut e, cmd, now) {
                if let KVStoreReply::Forward(to, m) = r {
                    prop_assert!(to.len() <= usize::from(limits.max_forward));
                    for p in &to {
                        prop_assert!(p.id != 0 && (from == 0 || p.id != from));
                        prop_assert!(origin.as_ref().is_none_or(|o| o.id != p.id));
                    }
                    if let KVStoreProtoMsg::Find(q, _) | KVStoreProtoMsg::Store(q, _) = m {
                        prop_assert!(q.hops < limits.max_hops);
                        prop_assert!(q.forward <= limits.max_forward);
                        prop_assert!(q.nb_result >= 1 && q.nb_result <= limits.max_nb_result);
                    }
                }
            }
            prop_assert!(e.cached_queries() <= 6);
        }
    }
}
