//! The pieces plugged into `mydht`'s query engine: a find and a store
//! between two engines carried by hand, with signed values, the memory store
//! and the Kademlia table as route.

mod common;

use std::time::Instant;

use common::{identity, value, T0};
use mydht::service::kvstore::{
    KVStoreCommand, KVStoreLimits, KVStoreProtoMsg, KVStoreReply, QueryConf, QueryEngine,
};
use mydht::PeerInfo;
use mydht_base::{ErrorKind, KVStore, Peer};
use mydht_kvstore::kademlia::{KademliaConf, RoutingTable, Seen};
use mydht_kvstore::{ManualClock, MemoryValueStore, SignedValue, StoreConf, ValueLimits};

type Engine = QueryEngine<SignedValue, PeerInfo, MemoryValueStore, RoutingTable<PeerInfo>>;

const HOUR: u64 = 3_600_000;

fn engine(me: &PeerInfo, known: &[&PeerInfo], clock: &ManualClock, seed: u64) -> Engine {
    let mut table = RoutingTable::new(*me.get_id(), KademliaConf::default(), seed, T0);
    for p in known {
        assert_eq!(table.seen((*p).clone(), T0), Seen::Added);
    }
    let store = MemoryValueStore::new(StoreConf::default()).with_clock(clock.clone());
    QueryEngine::new(me.clone(), store, table, KVStoreLimits::default(), seed)
}

#[test]
fn find_and_store_through_the_engine() {
    let (ia, ib) = (identity(1), identity(2));
    let pa = ia.peer_info("a".into()).unwrap();
    let pb = ib.peer_info("b".into()).unwrap();
    let clock = ManualClock::new(T0);
    let mut a = engine(&pa, &[&pb], &clock, 1);
    let mut b = engine(&pb, &[&pa], &clock, 2);
    let now = Instant::now();
    let mut out = Vec::new();

    // a stores a value: kept locally, then sent to b, the closest peer.
    let v = value(&ia, "topic", b"payload", T0, HOUR);
    let conf = QueryConf {
        hops: 1,
        forward: 1,
        ..QueryConf::default()
    };
    a.handle(KVStoreCommand::Store(10, v.clone(), conf), now, &mut out);
    let Some(KVStoreReply::Forward(to, request)) = out.pop() else {
        panic!("{out:?}")
    };
    assert_eq!(to, vec![pb.clone()]);
    b.handle(KVStoreCommand::Received(pa.clone(), request), now, &mut out);
    let Some(KVStoreReply::Reply(to, stored)) = out.pop() else {
        panic!("{out:?}")
    };
    assert_eq!(to, pa);
    a.handle(KVStoreCommand::Received(pb.clone(), stored), now, &mut out);
    assert!(
        matches!(out.pop(), Some(KVStoreReply::Done(10, 1))),
        "{out:?}"
    );
    assert_eq!(b.store().get(v.key()), Some(v.clone()));

    // A forged value sent to b is not stored (b answers it stored nothing).
    let mut parts = value(&ia, "topic", b"payload", T0 + 1, HOUR).to_parts();
    parts.value = b"forged".to_vec();
    let forged = SignedValue::from_parts(parts);
    let mut c = engine(&pa, &[&pb], &clock, 3);
    c.store_mut().put(v.clone()).unwrap();
    // c forwards the forged value as a's own query would.
    let fwd = forward_store(&mut c, forged.clone(), conf, now);
    b.handle(KVStoreCommand::Received(pa.clone(), fwd), now, &mut out);
    assert!(matches!(
        out.pop(),
        Some(KVStoreReply::Reply(_, KVStoreProtoMsg::Stored(_, 0)))
    ));
    assert_eq!(b.store().get(v.key()), Some(v.clone()));

    // The api's own forged store fails with the store's typed error.
    a.handle(KVStoreCommand::Store(11, forged, conf), now, &mut out);
    match out.pop() {
        Some(KVStoreReply::Failed(11, e)) => assert_eq!(e.kind(), ErrorKind::Auth),
        other => panic!("{other:?}"),
    }

    // A fresh engine finds the value at b.
    let mut d = engine(&pa, &[&pb], &clock, 4);
    d.handle(KVStoreCommand::Find(12, *v.key(), conf), now, &mut out);
    let Some(KVStoreReply::Forward(_, request)) = out.pop() else {
        panic!("{out:?}")
    };
    b.handle(KVStoreCommand::Received(pa.clone(), request), now, &mut out);
    let Some(KVStoreReply::Reply(_, found)) = out.pop() else {
        panic!("{out:?}")
    };
    d.handle(KVStoreCommand::Received(pb.clone(), found), now, &mut out);
    match out.pop() {
        Some(KVStoreReply::FoundApi(12, found)) => {
            assert_eq!(found, vec![v.clone()]);
            found[0].verify(T0, &ValueLimits::default()).unwrap();
        }
        other => panic!("{other:?}"),
    }

    // Once expired, b has nothing to give.
    clock.set(T0 + HOUR);
    assert_eq!(b.store().get(v.key()), None);
}

/// The request engine `e` forwards for a store of `kv` (bypassing its local
/// store, which may refuse it).
fn forward_store(
    e: &mut Engine,
    kv: SignedValue,
    conf: QueryConf,
    now: Instant,
) -> KVStoreProtoMsg<SignedValue, PeerInfo> {
    let mut out = Vec::new();
    // Any value the engine accepts gives the request's shape; the forged
    // value is swapped in.
    let carrier = value(&identity(9), "carrier", b"c", T0, HOUR);
    e.handle(KVStoreCommand::Store(0, carrier, conf), now, &mut out);
    match out.pop() {
        Some(KVStoreReply::Forward(_, KVStoreProtoMsg::Store(q, _))) => {
            KVStoreProtoMsg::Store(q, kv)
        }
        other => panic!("{other:?}"),
    }
}

/// `KVStoreService` reads no real clock when given one: a find called at
/// the service's (fixed) time expires exactly its timeout later.
#[test]
fn the_service_takes_its_time_from_its_clock() {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use mydht::service::kvstore::KVStoreService;
    use mydht_base::{Service, SpawnerYield, YieldReturn};

    struct NoYield;
    impl SpawnerYield for NoYield {
        fn spawn_yield(&mut self) -> YieldReturn {
            YieldReturn::Loop
        }
    }

    let (ia, ib) = (identity(1), identity(2));
    let pa = ia.peer_info("a".into()).unwrap();
    let pb = ib.peer_info("b".into()).unwrap();
    let clock = ManualClock::new(T0);
    let start = Instant::now();
    let now = Arc::new(Mutex::new(start));
    let read = now.clone();
    let mut service = KVStoreService::from_engine(engine(&pa, &[&pb], &clock, 1))
        .with_clock(Arc::new(move || *read.lock().unwrap()));
    let conf = QueryConf {
        hops: 1,
        forward: 1,
        timeout: Duration::from_secs(3),
        ..QueryConf::default()
    };
    let key = *value(&ia, "timed", b"x", T0, HOUR).key();
    // The real clock moves on; the service's does not.
    *now.lock().unwrap() = start + Duration::from_secs(100);
    let out = service
        .call(KVStoreCommand::Find(5, key, conf), &mut NoYield)
        .unwrap();
    assert!(
        matches!(out.as_slice(), [KVStoreReply::Forward(..)]),
        "{out:?}"
    );
    let at = |s: u64| start + Duration::from_secs(100 + s);
    assert!(service
        .call_at(KVStoreCommand::Tick(at(2)), at(2))
        .is_empty());
    let out = service.call_at(KVStoreCommand::Tick(at(3)), at(3));
    assert!(
        matches!(out.as_slice(), [KVStoreReply::Expired { api: 5, .. }]),
        "{out:?}"
    );
}
