//! The peer store: a `KVStoreService` over `PeerInfo`s finds every peer of a
//! ring by id, the serde form of a peer is checked on the way in, and the
//! service runs under a thread spawner and a restartable one alike.

use std::time::{Duration, Instant};

use mydht::service::kvstore::{
    KVStoreCommand as Cmd, KVStoreLimits, KVStoreProtoMsg, KVStoreReply, MemoryStore, QueryConf,
    QueryEngine, QueryMode,
};
use mydht::service::peer_store::{
    closest_in_store, ClosestPeers, PeerStoreCommand, PeerStoreReply, PeerStoreService,
};
use mydht::{PeerId, PeerInfo};
use mydht_base::{
    KVStore, MpscChannel, Peer, RestartOrError, Route, Service, SpawnChannel, SpawnHandle,
    SpawnRecv, SpawnSend, SpawnUnyield, Spawner, SpawnerYield, ThreadPark, YieldReturn,
};

/// Long enough for a loaded 2-core machine, short enough to fail a hang.
const WAIT: Duration = Duration::from_secs(10);

fn peer_info(i: u8) -> PeerInfo {
    PeerInfo::new([i; 32], format!("mem:{i}"), [i ^ 0xff; 32]).unwrap()
}

/// Routes to the node's two ring neighbours.
#[derive(Clone)]
struct Neighbours(Vec<PeerInfo>);

impl Route<PeerInfo, PeerId> for Neighbours {
    fn route(&mut self, _key: &PeerId, nb: usize, exclude: &[PeerId]) -> Vec<PeerInfo> {
        let peers = self.0.iter().filter(|p| !exclude.contains(p.get_id()));
        peers.take(nb).cloned().collect()
    }
}

struct Inline;

impl SpawnerYield for Inline {
    fn spawn_yield(&mut self) -> YieldReturn {
        YieldReturn::Loop
    }
}

type Store = PeerStoreService<Neighbours>;

/// A ring of `n` peer stores; each knows itself and its two neighbours.
fn ring(n: u8) -> (Vec<PeerInfo>, Vec<Store>) {
    let peers: Vec<PeerInfo> = (0..n).map(peer_info).collect();
    let stores = (0..n)
        .map(|i| {
            let prev = peers[usize::from((i + n - 1) % n)].clone();
            let next = peers[usize::from((i + 1) % n)].clone();
            let me = peers[usize::from(i)].clone();
            let route = Neighbours(vec![next.clone(), prev.clone()]);
            let mut store = MemoryStore::new(16);
            for p in [me.clone(), prev, next] {
                store.put(p).unwrap();
            }
            let limits = KVStoreLimits::default();
            Store::from_engine(QueryEngine::new(me, store, route, limits, u64::from(i)))
        })
        .collect();
    (peers, stores)
}

/// Runs `cmd` at node `at` and delivers every message (JSON on the way)
/// until the network settles; returns the api replies of `at`.
fn run<R: Route<PeerInfo, PeerId>>(
    peers: &[PeerInfo],
    stores: &mut [PeerStoreService<R>],
    at: usize,
    cmd: PeerStoreCommand,
) -> Vec<PeerStoreReply> {
    let index = |p: &PeerInfo| peers.iter().position(|q| q == p).unwrap();
    let mut queue = std::collections::VecDeque::new();
    let mut api = Vec::new();
    let mut next = Some((at, cmd));
    let mut steps = 0;
    while let Some((node, cmd)) = next.take() {
        steps += 1;
        assert!(steps < 10_000, "the network does not settle");
        for r in stores[node].call(cmd, &mut Inline).unwrap() {
            match r {
                KVStoreReply::Forward(to, msg) => {
                    let wire = serde_json::to_vec(&msg).unwrap();
                    queue.extend(to.iter().map(|p| (node, index(p), wire.clone())));
                }
                KVStoreReply::Reply(to, msg) => {
                    queue.push_back((node, index(&to), serde_json::to_vec(&msg).unwrap()))
                }
                other if node == at => api.push(other),
                other => panic!("api reply at a relay: {other:?}"),
            }
        }
        next = queue.pop_front().map(|(from, to, wire)| {
            let msg = serde_json::from_slice(&wire).unwrap();
            (to, Cmd::Received(peers[from].clone(), msg))
        });
    }
    api
}

#[test]
fn a_peer_store_find_of_each_peers_id_returns_it() {
    let n = 8;
    let (peers, mut stores) = ring(n);
    let conf = QueryConf {
        hops: 4,
        ..QueryConf::default()
    };
    for mode in [QueryMode::AProxy, QueryMode::Asynch, QueryMode::AMix(1)] {
        for at in 0..usize::from(n) {
            for (j, target) in peers.iter().enumerate() {
                let qid = (at * 100 + j) as u64;
                let cmd = Cmd::Find(qid, *target.get_id(), QueryConf { mode, ..conf });
                match run(&peers, &mut stores, at, cmd).as_slice() {
                    [KVStoreReply::FoundApi(q, found)] if *q == qid => {
                        assert_eq!(found, &vec![target.clone()], "{mode:?} {at} -> {j}")
                    }
                    other => panic!("{mode:?} {at} -> {j}: {other:?}"),
                }
            }
        }
    }
}

/// The ids of a find's answer, sorted.
fn found_ids(replies: &[PeerStoreReply], qid: u64) -> Vec<PeerId> {
    match replies {
        [KVStoreReply::FoundApi(q, found)] if *q == qid => {
            let mut ids: Vec<PeerId> = found.iter().map(|p| *p.get_id()).collect();
            ids.sort();
            ids
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn find_near_collects_the_closest_peers_other_stores_know() {
    let (peers, stores) = ring(8);
    let mut stores: Vec<Store> = stores
        .into_iter()
        .map(|s| s.with_near(closest_in_store))
        .collect();
    let conf = |nb_result| QueryConf {
        mode: QueryMode::AProxy,
        hops: 1,
        forward: 2,
        nb_result,
        ..QueryConf::default()
    };
    // Node 0 asks its neighbours 1 and 7: each answers the three peers its
    // store has, each peer once in the result.
    let key = PeerId::from([0x33; 32]);
    let replies = run(&peers, &mut stores, 0, Cmd::FindNear(1, key, conf(8)));
    let mut want: Vec<PeerId> = [0, 1, 2, 6, 7]
        .iter()
        .map(|&i| *peers[i].get_id())
        .collect();
    want.sort();
    assert_eq!(found_ids(&replies, 1), want);
    // The result count bounds the answer.
    let replies = run(&peers, &mut stores, 0, Cmd::FindNear(2, key, conf(2)));
    assert_eq!(found_ids(&replies, 2).len(), 2);
    // Each store answers with the closest it has: asked for one peer near
    // node 2's id, node 1 (asked first) answers node 2 itself.
    let near_2 = *peers[2].get_id();
    let replies = run(&peers, &mut stores, 0, Cmd::FindNear(3, near_2, conf(1)));
    assert_eq!(found_ids(&replies, 3), vec![near_2]);
}

#[test]
fn find_near_takes_each_peer_once_and_at_most_the_result_count() {
    let (peers, mut stores) = ring(8);
    let conf = QueryConf {
        mode: QueryMode::AProxy,
        hops: 1,
        forward: 1,
        nb_result: 2,
        ..QueryConf::default()
    };
    let engine = stores[0].engine_mut();
    let mut out = Vec::new();
    let now = Instant::now();
    engine.handle(Cmd::FindNear(5, PeerId::from([7; 32]), conf), now, &mut out);
    let (to, qid) = match out.as_slice() {
        [KVStoreReply::Forward(to, KVStoreProtoMsg::FindNear(q, _))] => (to[0].clone(), q.qid),
        other => panic!("{other:?}"),
    };
    // A peer answers more than asked, the same peer twice.
    let answer = vec![
        peers[3].clone(),
        peers[3].clone(),
        peers[4].clone(),
        peers[5].clone(),
    ];
    out.clear();
    engine.handle(
        Cmd::Received(to, KVStoreProtoMsg::Found(qid, answer)),
        now,
        &mut out,
    );
    let mut want = vec![*peers[3].get_id(), *peers[4].get_id()];
    want.sort();
    assert_eq!(found_ids(&out, 5), want);
}

#[test]
fn find_near_without_a_closeness_finds_nothing() {
    let (peers, mut stores) = ring(4);
    let conf = QueryConf {
        hops: 1,
        nb_result: 4,
        ..QueryConf::default()
    };
    let replies = run(
        &peers,
        &mut stores,
        0,
        Cmd::FindNear(1, PeerId::from([1; 32]), conf),
    );
    assert_eq!(found_ids(&replies, 1), Vec::<PeerId>::new());
}

#[test]
fn closest_peers_route_finds_every_peer() {
    // 16 nodes, each knowing the peers 1, 2, 4 and 8 places after it.
    let n = 16u8;
    let peers: Vec<PeerInfo> = (0..n).map(peer_info).collect();
    let mut stores: Vec<PeerStoreService> = (0..n)
        .map(|i| {
            let mut route = ClosestPeers::new(8);
            let mut store = MemoryStore::new(8);
            let me = peers[usize::from(i)].clone();
            store.put(me.clone()).unwrap();
            for d in [1, 2, 4, 8] {
                let p = peers[usize::from((i + d) % n)].clone();
                route.add(p.clone());
                store.put(p).unwrap();
            }
            let limits = KVStoreLimits::default();
            PeerStoreService::from_engine(QueryEngine::new(me, store, route, limits, u64::from(i)))
        })
        .collect();
    let conf = QueryConf {
        hops: 6,
        forward: 2,
        ..QueryConf::default()
    };
    for at in 0..usize::from(n) {
        for (j, target) in peers.iter().enumerate() {
            let cmd = Cmd::Find(1, *target.get_id(), conf);
            match run(&peers, &mut stores, at, cmd).as_slice() {
                [KVStoreReply::FoundApi(1, found)] => {
                    assert_eq!(found, &vec![target.clone()], "{at} -> {j}")
                }
                other => panic!("{at} -> {j}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_received_peer_is_rebuilt_from_its_key() {
    let p = peer_info(3);
    let json = serde_json::to_string(&p).unwrap();
    assert!(!json.contains("\"id\""), "the id is not sent: {json}");
    let back: PeerInfo = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    assert_eq!(back.get_id(), &PeerId::of_key(&[3; 32]));

    // An address over the bound does not decode.
    let long = json.replace("mem:3", &"a".repeat(mydht::identity::MAX_ADDRESS_LEN + 1));
    assert!(serde_json::from_str::<PeerInfo>(&long).is_err());

    // A whole message, through the node's binary encoding too.
    let msg: KVStoreProtoMsg<PeerInfo, PeerInfo> = KVStoreProtoMsg::Found(7, vec![p.clone()]);
    let bytes = bincode::serde::encode_to_vec(&msg, bincode::config::standard()).unwrap();
    let (back, _): (KVStoreProtoMsg<PeerInfo, PeerInfo>, usize) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    match back {
        KVStoreProtoMsg::Found(7, v) => assert_eq!(v, vec![p]),
        other => panic!("{other:?}"),
    }
}

/// Sends `cmd` to a spawned peer store and waits for its answer.
fn ask<H: SpawnUnyield>(
    tx: &mut impl SpawnSend<PeerStoreCommand>,
    handle: &mut H,
    results: &mut impl SpawnRecv<Vec<PeerStoreReply>>,
    cmd: PeerStoreCommand,
) -> Vec<PeerStoreReply> {
    tx.send(cmd).unwrap();
    handle.unyield().unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(r) = results.recv_wait().unwrap() {
            return r;
        }
        assert!(Instant::now() < deadline, "no answer from the service");
    }
}

fn spawned_scenario<Sp>(mut sp: Sp)
where
    Sp: Spawner<
        Store,
        <MpscChannel as SpawnChannel<Vec<PeerStoreReply>>>::Send,
        <MpscChannel as SpawnChannel<PeerStoreCommand>>::Recv,
    >,
{
    let (peers, mut stores) = ring(3);
    let (mut tx, recv) =
        SpawnChannel::<PeerStoreCommand>::new_channel(&mut MpscChannel::new(8)).unwrap();
    let (dest, mut results) =
        SpawnChannel::<Vec<PeerStoreReply>>::new_channel(&mut MpscChannel::new(8)).unwrap();
    let mut handle = sp.spawn(stores.remove(0), dest, None, recv, 0).unwrap();

    let id = *peers[1].get_id();
    match ask(&mut tx, &mut handle, &mut results, Cmd::FindLocally(1, id)).as_slice() {
        [KVStoreReply::FoundApi(1, found)] => assert_eq!(found, &vec![peers[1].clone()]),
        other => panic!("{other:?}"),
    }
    // A network find goes to the neighbours first.
    let conf = QueryConf::default();
    match ask(
        &mut tx,
        &mut handle,
        &mut results,
        Cmd::Find(2, PeerId::from([9; 32]), conf),
    )
    .as_slice()
    {
        [KVStoreReply::Forward(to, KVStoreProtoMsg::Find(q, _))] => {
            assert_eq!(to, &vec![peers[1].clone(), peers[2].clone()]);
            assert_eq!(q.hops, conf.hops - 1);
        }
        other => panic!("{other:?}"),
    }
    // Time passes: the query expires with nothing.
    let later = Instant::now() + conf.timeout;
    match ask(&mut tx, &mut handle, &mut results, Cmd::Tick(later)).as_slice() {
        [KVStoreReply::Expired { api: 2, found, .. }] => assert!(found.is_empty()),
        other => panic!("{other:?}"),
    }
    drop(tx);
    handle.unyield().unwrap();
    let (svc, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert_eq!(svc.engine().store().len(), 3);
}

#[test]
fn runs_on_its_own_thread() {
    spawned_scenario(ThreadPark);
}

#[test]
fn runs_restartable_on_the_callers_thread() {
    spawned_scenario(RestartOrError);
}
