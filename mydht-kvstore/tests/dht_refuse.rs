//! Bad input sent to a node by a hostile peer (a node of the test's own,
//! speaking the same wire messages): a forged value, an oversize one, an
//! older version, a malformed key. Each is refused with an error reply to
//! the sender and a warning in the node's log; the node keeps serving. A
//! forged value a peer answers a find with never reaches the caller.

mod dht_support;

use std::time::Duration;

use dht_support::{conf, identity, Lines, T};
use mydht::prelude::*;
use mydht::service::kvstore::{KVStoreProtoMsg, QueryMode, QueryMsg};
use mydht_kvstore::dht::{Dht, DhtError, DhtMsg, DhtSettings, Refusal};
use mydht_kvstore::kademlia::Distance;
use mydht_kvstore::{Clock, Key, SignedValue, SystemClock, DEFAULT_MAX_VALUE_LEN};

/// What the hostile node's api asks: send this message to this peer, its
/// query id replaced by the api's.
type Send = (PeerId, DhtMsg);

/// The hostile node: sends whatever it is told; gives its api the
/// replies; answers any find with `forged`.
struct Hostile {
    forged: Option<SignedValue>,
}

struct HGlobal;

impl Service for HGlobal {
    type CommandIn = GlobalCommand<Hostile>;
    type CommandOut = Reply<Hostile>;
    fn call<Y: SpawnerYield>(&mut self, cmd: Self::CommandIn, _: &mut Y) -> Result<Reply<Hostile>> {
        Ok(match cmd {
            GlobalCommand::Api(qid, (to, mut msg)) => {
                if let DhtMsg::Kv(
                    KVStoreProtoMsg::Find(q, _)
                    | KVStoreProtoMsg::FindNear(q, _)
                    | KVStoreProtoMsg::Store(q, _),
                ) = &mut msg
                {
                    q.qid = qid;
                }
                Reply::Send(to, msg)
            }
            _ => Reply::None,
        })
    }
}

struct HLocal {
    forged: Option<SignedValue>,
}

impl Service for HLocal {
    type CommandIn = LocalCommand<Hostile>;
    type CommandOut = Reply<Hostile>;
    fn call<Y: SpawnerYield>(&mut self, cmd: Self::CommandIn, _: &mut Y) -> Result<Reply<Hostile>> {
        let from = *cmd.from.get_id();
        Ok(match cmd.msg {
            DhtMsg::Refused(q, _) => Reply::Api(q, cmd.msg),
            DhtMsg::Kv(KVStoreProtoMsg::Found(q, _) | KVStoreProtoMsg::Stored(q, _)) => {
                Reply::Api(q, cmd.msg)
            }
            DhtMsg::Kv(KVStoreProtoMsg::Find(q, _)) => match &self.forged {
                Some(v) => Reply::Send(
                    from,
                    DhtMsg::Kv(KVStoreProtoMsg::Found(q.qid, vec![v.clone()])),
                ),
                None => Reply::None,
            },
            _ => Reply::None,
        })
    }
}

impl MyDHTConf for Hostile {
    mydht::default_components!(loopback);
    type ProtoMsg = DhtMsg;
    type GlobalCmd = Send;
    type ApiReply = DhtMsg;
    type GlobalService = HGlobal;
    type LocalService = HLocal;
    mydht::restartable!();

    fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<HGlobal> {
        Ok(HGlobal)
    }
    fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<HLocal> {
        Ok(HLocal {
            forged: self.forged.clone(),
        })
    }
}

/// Whether a refusal is the one a case expects.
type Expected = fn(&Refusal) -> bool;

/// The routing part of a request straight to its receiver.
fn direct() -> QueryMsg<PeerInfo> {
    QueryMsg {
        qid: 0,
        origin: None,
        mode: QueryMode::AProxy,
        hops: 0,
        forward: 1,
        nb_result: 1,
        timeout_ms: 1000,
    }
}

fn store(v: SignedValue) -> DhtMsg {
    DhtMsg::Kv(KVStoreProtoMsg::Store(direct(), v))
}

/// A value of publisher 52, version `version`, living an hour.
fn value(key: Key, bytes: Vec<u8>, version: u64) -> SignedValue {
    let now = SystemClock.now_ms();
    SignedValue::sign_versioned(&identity(52), key, bytes, version, now + 3_600_000).unwrap()
}

#[test]
fn bad_input_is_refused_and_the_node_keeps_serving() {
    let log = Lines::default();
    let honest = Dht::start(conf(51, DhtSettings::default(), Some(log.logger()))).unwrap();
    let mut parts = value(Key::hash_of(b"x"), b"x".to_vec(), 1).to_parts();
    parts.value = b"not what was signed".to_vec();
    let forged = SignedValue::from_parts(parts);
    let hostile = start_loop(Hostile {
        forged: Some(forged.clone()),
    })
    .unwrap();
    let address = honest.local_peer().get_address().parse().unwrap();
    let to = *hostile.connect(address, T).unwrap().get_id();
    honest.node().wait_peers(PeerCount::AtLeast(1), T).unwrap();
    let ask = |msg: DhtMsg| -> DhtMsg {
        let mut r = hostile.query((to, msg), 1, T).unwrap();
        r.pop().unwrap()
    };
    let now = SystemClock.now_ms();

    // The honest node holds version `now` of a key.
    let key = Key::hash_of(b"held");
    let held = value(key, b"v2".to_vec(), now);
    honest
        .put_signed(held.clone(), dht_support::walk(QueryMode::AProxy, 0), T)
        .unwrap();

    let cases: Vec<(DhtMsg, Expected)> = vec![
        (store(forged.clone()), |r| *r == Refusal::BadSignature),
        (
            store(value(
                Key::hash_of(b"big"),
                vec![7; DEFAULT_MAX_VALUE_LEN + 1],
                now,
            )),
            |r| matches!(r, Refusal::TooLarge { .. }),
        ),
        (store(value(key, b"v1".to_vec(), now - 1000)), |r| {
            matches!(r, Refusal::Older { .. })
        }),
        (store(value(Key::new([0; 32]), b"z".to_vec(), now)), |r| {
            *r == Refusal::MalformedKey
        }),
        (
            DhtMsg::Kv(KVStoreProtoMsg::Find(direct(), Key::new([0; 32]))),
            |r| *r == Refusal::MalformedKey,
        ),
    ];
    let n = cases.len();
    for (i, (msg, expected)) in cases.into_iter().enumerate() {
        match ask(msg) {
            DhtMsg::Refused(_, r) if expected(&r) => {}
            other => panic!("case {i}: {other:?}"),
        }
    }
    let refusals = log
        .lines()
        .iter()
        .filter(|l| l.contains("refused a peer's request"))
        .count();
    assert_eq!(refusals, n, "{:?}", log.lines());
    assert_eq!(honest.stats(T).unwrap().refused, n as u64);

    // Still serving: the held value, and a good store.
    match ask(DhtMsg::Kv(KVStoreProtoMsg::Find(direct(), key))) {
        DhtMsg::Kv(KVStoreProtoMsg::Found(_, v)) => assert_eq!(v, vec![held.clone()]),
        other => panic!("{other:?}"),
    }
    // A key the honest node is responsible for (closer to it than its peer).
    let me = *honest.local_peer().get_id();
    let them = *hostile.local_peer().get_id();
    let fresh_key = (0u32..)
        .map(|i| Key::hash_of(format!("fresh {i}").as_bytes()))
        .find(|k| Distance::between(&me, k) < Distance::between(&them, k))
        .unwrap();
    let fresh = value(fresh_key, b"ok".to_vec(), now);
    match ask(store(fresh.clone())) {
        DhtMsg::Kv(KVStoreProtoMsg::Stored(_, 1)) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(honest.get(*fresh.key(), T).unwrap(), fresh);

    // The hostile peer answers a find with a forged value: dropped, logged,
    // not found.
    let x = dht_support::query(QueryMode::AProxy, 1, 1, 1, Duration::from_secs(2));
    match honest.get_with(Key::hash_of(b"x"), x, T) {
        Err(DhtError::NotFound) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(honest.stats(T).unwrap().dropped_found, 1);
    assert!(log
        .lines()
        .iter()
        .any(|l| l.contains("dropped a found value")));
    hostile.stop().unwrap();
    honest.stop().unwrap();
}
