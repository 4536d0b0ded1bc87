//! The node's own wire messages round-trip through `Json` and `Bincode`,
//! alone and framed over streams that cut reads short and would block:
//! [`WireMessage`] of the touch example's `TouchMsg` (every variant, with
//! every [`PeerStoreProtoMsg`] inside), [`KVStoreProtoMsg`] over a
//! representative key/value, and [`PeerInfo`]. Every strict prefix of an
//! encoded message is a `Decode` error, never a panic.
//!
//! The authentication messages' round trips are in `msgenc_auth.rs`; only
//! their truncations are checked here.

mod frame_support;

// Only the message type of the example is used here, not its services.
#[allow(dead_code)]
#[path = "../examples/touch/app.rs"]
mod app;

use std::collections::BTreeSet;
use std::fmt::Debug;

use app::TouchMsg;
use frame_support::{check_round_trip, round_trip};
use mydht::auth::{AuthMode, AuthPing, AuthPong, AuthPongFinal, CipherSuite, PeerInfoMsg};
use mydht::frame::WireMessage;
use mydht::identity::MAX_ADDRESS_LEN;
use mydht::msgenc::{Bincode, Json};
use mydht::service::kvstore::{KVStoreProtoMsg, QueryMode, QueryMsg};
use mydht::service::peer_store::PeerStoreProtoMsg;
use mydht::{AuthMessage, PeerInfo};
use mydht_base::{ErrorKind, ErrorLevel, KeyVal, MsgEnc, Peer};
use mydht_basetest::peers::{identity_pool, POOL_SIZE};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Cases per round-trip property, as in `msgenc.rs`: each case is a batch
/// of up to five messages, unframed then framed; the whole file runs in
/// about a second in debug.
const CASES: u32 = 256;

// ---------------------------------------------------------------------------
// The messages under test, with an equality the encoders do not decide.
// ---------------------------------------------------------------------------

/// A representative application key/value for [`KVStoreProtoMsg`]: a key
/// that is not the value (as a DHT's content hash), and a byte payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Note {
    key: [u8; 32],
    body: Vec<u8>,
}

impl KeyVal for Note {
    type Key = [u8; 32];
    fn get_key(&self) -> [u8; 32] {
        self.key
    }
}

/// A node's wire message: [`WireMessage`] and `TouchMsg` have no
/// `PartialEq`, so this wrapper compares them field by field
/// (`transparent`: it encodes as the message itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
struct Wire(WireMessage<TouchMsg>);

impl PartialEq for Wire {
    fn eq(&self, other: &Self) -> bool {
        // Matching on `self` alone keeps this exhaustive: a new variant does
        // not compile until it is compared here.
        let b = &other.0;
        match &self.0 {
            WireMessage::App(a) => matches!(b, WireMessage::App(b) if touch_eq(a, b)),
            // The slot is not on the wire: a decoded one is empty.
            WireMessage::AppStream(a, _) => {
                matches!(b, WireMessage::AppStream(b, _) if touch_eq(a, b))
            }
            WireMessage::PeerStore(a) => matches!(b, WireMessage::PeerStore(b) if kv_eq(a, b)),
            WireMessage::Admitted => matches!(b, WireMessage::Admitted),
            WireMessage::Refused => matches!(b, WireMessage::Refused),
            WireMessage::Once => matches!(b, WireMessage::Once),
        }
    }
}

fn touch_eq(a: &TouchMsg, b: &TouchMsg) -> bool {
    match a {
        TouchMsg::Touch(q) => matches!(b, TouchMsg::Touch(r) if q == r),
        TouchMsg::Touched(q, by) => matches!(b, TouchMsg::Touched(r, by2) if q == r && by == by2),
    }
}

fn kv_eq<V: KeyVal + PartialEq, P: PartialEq>(
    a: &KVStoreProtoMsg<V, P>,
    b: &KVStoreProtoMsg<V, P>,
) -> bool {
    match a {
        KVStoreProtoMsg::Find(q, k) => matches!(b, KVStoreProtoMsg::Find(r, l) if q == r && k == l),
        KVStoreProtoMsg::FindNear(q, k) => {
            matches!(b, KVStoreProtoMsg::FindNear(r, l) if q == r && k == l)
        }
        KVStoreProtoMsg::Store(q, v) => {
            matches!(b, KVStoreProtoMsg::Store(r, w) if q == r && v == w)
        }
        KVStoreProtoMsg::Found(q, vs) => {
            matches!(b, KVStoreProtoMsg::Found(r, ws) if q == r && vs == ws)
        }
        KVStoreProtoMsg::Stored(q, n) => {
            matches!(b, KVStoreProtoMsg::Stored(r, m) if q == r && n == m)
        }
    }
}

/// A key/value query message of the representative application.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
struct NoteMsg(KVStoreProtoMsg<Note, PeerInfo>);

impl PartialEq for NoteMsg {
    fn eq(&self, other: &Self) -> bool {
        kv_eq(&self.0, &other.0)
    }
}

/// Names every variant reached by a [`Wire`] message, down to the peer
/// store's and the application's: what a strategy must cover.
fn wire_kind(m: &WireMessage<TouchMsg>) -> &'static str {
    match m {
        WireMessage::App(TouchMsg::Touch(_)) => "App(Touch)",
        WireMessage::App(TouchMsg::Touched(..)) => "App(Touched)",
        WireMessage::AppStream(..) => "AppStream",
        WireMessage::PeerStore(p) => match **p {
            KVStoreProtoMsg::Find(..) => "PeerStore(Find)",
            KVStoreProtoMsg::FindNear(..) => "PeerStore(FindNear)",
            KVStoreProtoMsg::Store(..) => "PeerStore(Store)",
            KVStoreProtoMsg::Found(..) => "PeerStore(Found)",
            KVStoreProtoMsg::Stored(..) => "PeerStore(Stored)",
        },
        WireMessage::Admitted => "Admitted",
        WireMessage::Refused => "Refused",
        WireMessage::Once => "Once",
    }
}

const WIRE_KINDS: [&str; 11] = [
    "App(Touch)",
    "App(Touched)",
    "AppStream",
    "PeerStore(Find)",
    "PeerStore(FindNear)",
    "PeerStore(Store)",
    "PeerStore(Found)",
    "PeerStore(Stored)",
    "Admitted",
    "Refused",
    "Once",
];

/// The same for the query modes a [`QueryMsg`] carries.
fn mode_kind(m: QueryMode) -> &'static str {
    match m {
        QueryMode::AProxy => "AProxy",
        QueryMode::Asynch => "Asynch",
        QueryMode::AMix(_) => "AMix",
    }
}

// ---------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------

/// Listening addresses a peer may announce: socket addresses, any text,
/// and the longest address allowed.
fn address() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<std::net::SocketAddr>().prop_map(|a| a.to_string()),
        "\\PC{0,40}",
        "[a-z0-9:.]{0,8}".prop_map(|s| {
            let mut a = s.repeat(MAX_ADDRESS_LEN);
            a.truncate(MAX_ADDRESS_LEN);
            a
        }),
    ]
}

prop_compose! {
    /// A valid peer, built through its constructor from a pooled identity.
    fn peer_info()(i in 0..POOL_SIZE, address in address()) -> PeerInfo {
        identity_pool()[i].peer_info(address).expect("address within bound")
    }
}

fn query_mode() -> impl Strategy<Value = QueryMode> {
    prop_oneof![
        Just(QueryMode::AProxy),
        Just(QueryMode::Asynch),
        any::<u8>().prop_map(QueryMode::AMix),
    ]
}

prop_compose! {
    /// The routing part of a request, with or without its collector.
    fn query_msg()(
        qid in any::<u64>(),
        origin in prop::option::of(peer_info()),
        mode in query_mode(),
        hops in any::<u8>(),
        forward in any::<u8>(),
        nb_result in any::<u8>(),
        timeout_ms in any::<u32>(),
    ) -> QueryMsg<PeerInfo> {
        QueryMsg { qid, origin, mode, hops, forward, nb_result, timeout_ms }
    }
}

/// Every variant of a query message over `V`, whose values come from
/// `value()` and keys from `key`.
fn kv_msg<V, S, K>(
    value: impl Fn() -> S,
    key: K,
) -> impl Strategy<Value = KVStoreProtoMsg<V, PeerInfo>>
where
    V: KeyVal + 'static,
    S: Strategy<Value = V> + 'static,
    K: Strategy<Value = V::Key> + Clone + 'static,
{
    prop_oneof![
        (query_msg(), key.clone()).prop_map(|(q, k)| KVStoreProtoMsg::Find(q, k)),
        (query_msg(), key).prop_map(|(q, k)| KVStoreProtoMsg::FindNear(q, k)),
        (query_msg(), value()).prop_map(|(q, v)| KVStoreProtoMsg::Store(q, v)),
        (any::<u64>(), prop::collection::vec(value(), 0..4))
            .prop_map(|(q, vs)| KVStoreProtoMsg::Found(q, vs)),
        any::<(u64, u32)>().prop_map(|(q, n)| KVStoreProtoMsg::Stored(q, n)),
    ]
}

/// Every peer store message: the values are peers, the keys their ids
/// (of the pool, or any 32 bytes: a find may look for an unknown peer).
fn peer_store_msg() -> impl Strategy<Value = PeerStoreProtoMsg> {
    let id = prop_oneof![
        peer_info().prop_map(|p| *p.get_id()),
        any::<[u8; 32]>().prop_map(mydht::PeerId::from),
    ];
    kv_msg(peer_info, id)
}

fn touch_msg() -> impl Strategy<Value = TouchMsg> {
    prop_oneof![
        any::<u64>().prop_map(TouchMsg::Touch),
        any::<(u64, [u8; 32])>().prop_map(|(q, by)| TouchMsg::Touched(q, by)),
    ]
}

fn wire_msg() -> impl Strategy<Value = WireMessage<TouchMsg>> {
    prop_oneof![
        touch_msg().prop_map(WireMessage::App),
        touch_msg().prop_map(|m| WireMessage::AppStream(m, Default::default())),
        peer_store_msg().prop_map(|m| WireMessage::PeerStore(Box::new(m))),
        Just(WireMessage::Admitted),
        Just(WireMessage::Refused),
        Just(WireMessage::Once),
    ]
}

fn note() -> impl Strategy<Value = Note> {
    (any::<[u8; 32]>(), prop::collection::vec(any::<u8>(), 0..64))
        .prop_map(|(key, body)| Note { key, body })
}

impl Arbitrary for Wire {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;
    fn arbitrary_with(_: ()) -> Self::Strategy {
        wire_msg().prop_map(Wire).boxed()
    }
}

impl Arbitrary for NoteMsg {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;
    fn arbitrary_with(_: ()) -> Self::Strategy {
        kv_msg(note, any::<[u8; 32]>()).prop_map(NoteMsg).boxed()
    }
}

/// [`PeerInfo`] alone (it has `PartialEq`; the wrapper only gives it a
/// strategy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
struct Info(PeerInfo);

impl Arbitrary for Info {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;
    fn arbitrary_with(_: ()) -> Self::Strategy {
        peer_info().prop_map(Info).boxed()
    }
}

// ---------------------------------------------------------------------------
// Round trips.
// ---------------------------------------------------------------------------

#[test]
fn the_strategies_reach_every_variant_and_query_mode() {
    let mut runner = TestRunner::deterministic();
    let strategy = wire_msg();
    let mut kinds = BTreeSet::new();
    let mut modes = BTreeSet::new();
    let mut with_origin = BTreeSet::new();
    for _ in 0..400 {
        let m = strategy.new_tree(&mut runner).unwrap().current();
        kinds.insert(wire_kind(&m));
        if let WireMessage::PeerStore(p) = &m {
            if let KVStoreProtoMsg::Find(q, _)
            | KVStoreProtoMsg::FindNear(q, _)
            | KVStoreProtoMsg::Store(q, _) = &**p
            {
                modes.insert(mode_kind(q.mode));
                with_origin.insert(q.origin.is_some());
            }
        }
    }
    assert_eq!(kinds, BTreeSet::from(WIRE_KINDS));
    assert_eq!(modes, BTreeSet::from(["AProxy", "Asynch", "AMix"]));
    assert_eq!(with_origin, BTreeSet::from([false, true]));
}

#[test]
fn json_round_trips_every_wire_message() {
    check_round_trip::<Wire, _>(&Json, CASES);
}

#[test]
fn bincode_round_trips_every_wire_message() {
    check_round_trip::<Wire, _>(&Bincode::new(), CASES);
}

#[test]
fn json_round_trips_every_key_value_message() {
    check_round_trip::<NoteMsg, _>(&Json, CASES);
}

#[test]
fn bincode_round_trips_every_key_value_message() {
    check_round_trip::<NoteMsg, _>(&Bincode::new(), CASES);
}

#[test]
fn json_round_trips_peer_infos() {
    check_round_trip::<Info, _>(&Json, CASES);
}

#[test]
fn bincode_round_trips_peer_infos() {
    check_round_trip::<Info, _>(&Bincode::new(), CASES);
}

/// One message of every variant, at the edges of their fields.
fn one_of_each() -> Vec<Wire> {
    let ids = identity_pool();
    let peer = |i: usize, a: &str| ids[i].peer_info(a.to_string()).unwrap();
    let longest = peer(3, &"a".repeat(MAX_ADDRESS_LEN));
    let query = |mode, origin| QueryMsg {
        qid: u64::MAX,
        origin,
        mode,
        hops: u8::MAX,
        forward: 0,
        nb_result: 1,
        timeout_ms: u32::MAX,
    };
    let store = |m: PeerStoreProtoMsg| WireMessage::PeerStore(Box::new(m));
    [
        WireMessage::App(TouchMsg::Touch(0)),
        WireMessage::App(TouchMsg::Touched(u64::MAX, [0xff; 32])),
        WireMessage::AppStream(TouchMsg::Touch(1), Default::default()),
        store(KVStoreProtoMsg::Find(
            query(QueryMode::AProxy, None),
            *ids[0].id(),
        )),
        store(KVStoreProtoMsg::Find(
            query(QueryMode::Asynch, Some(peer(1, "127.0.0.1:4000"))),
            mydht::PeerId::from([0; 32]),
        )),
        store(KVStoreProtoMsg::FindNear(
            query(QueryMode::AProxy, None),
            mydht::PeerId::from([0xff; 32]),
        )),
        store(KVStoreProtoMsg::Store(
            query(QueryMode::AMix(u8::MAX), Some(longest.clone())),
            peer(2, "[::1]:65535"),
        )),
        store(KVStoreProtoMsg::Found(7, vec![])),
        store(KVStoreProtoMsg::Found(
            0,
            vec![peer(0, ""), longest.clone(), peer(1, "é\"\\\n")],
        )),
        store(KVStoreProtoMsg::Stored(1, u32::MAX)),
        WireMessage::Admitted,
        WireMessage::Refused,
        WireMessage::Once,
    ]
    .into_iter()
    .map(Wire)
    .collect()
}

#[test]
fn one_of_each_variant_round_trips_in_one_stream() {
    let msgs = one_of_each();
    let kinds: BTreeSet<_> = msgs.iter().map(|m| wire_kind(&m.0)).collect();
    assert_eq!(kinds, BTreeSet::from(WIRE_KINDS));
    for pattern in [&[1][..], &[3, 17], &[4096]] {
        round_trip(&Json, &msgs, pattern).unwrap();
        round_trip(&Bincode::new(), &msgs, pattern).unwrap();
    }
}

#[test]
fn a_decoded_peer_keeps_the_id_of_its_key() {
    // The id is not on the wire: it is recomputed from the identity key.
    let sent = identity_pool()[2].peer_info("127.0.0.1:9".into()).unwrap();
    for got in [
        decode_as::<PeerInfo, _>(&Json, &sent),
        decode_as::<PeerInfo, _>(&Bincode::new(), &sent),
    ] {
        assert_eq!(got.get_id(), identity_pool()[2].id());
        assert_eq!(got, sent);
    }
}

fn decode_as<M: DeserializeOwned, E: MsgEnc>(enc: &E, m: &impl Serialize) -> M {
    let mut bytes = Vec::new();
    enc.encode(m, &mut bytes).unwrap();
    enc.decode(&bytes).unwrap()
}

/// The fields of a peer as they are sent, to forge what
/// [`PeerInfo::new`] would refuse to build.
#[derive(Serialize)]
struct ForgedPeer {
    identity_key: [u8; 32],
    address: String,
    tunnel_key: [u8; 32],
    binding: Option<mydht::identity::KeyBinding>,
}

/// A peer whose address is [`MAX_ADDRESS_LEN`] bytes decodes, one byte
/// more is a `Decode` error.
fn check_address_bound<E: MsgEnc>(enc: &E) {
    let id = &identity_pool()[0];
    let forged = |len| {
        let mut bytes = Vec::new();
        let peer = ForgedPeer {
            identity_key: *id.identity_key(),
            address: "a".repeat(len),
            tunnel_key: *id.tunnel_key(),
            binding: None,
        };
        enc.encode(&peer, &mut bytes).unwrap();
        enc.decode::<PeerInfo>(&bytes)
    };
    let ok = forged(MAX_ADDRESS_LEN).expect("longest address");
    assert_eq!(ok.get_address().len(), MAX_ADDRESS_LEN);
    let e = forged(MAX_ADDRESS_LEN + 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode, "{e}");
    assert_eq!(e.level(), ErrorLevel::ShutDown, "{e}");
}

#[test]
fn a_peer_address_over_the_bound_is_a_decode_error() {
    check_address_bound(&Json);
    check_address_bound(&Bincode::new());
}

// ---------------------------------------------------------------------------
// Truncations.
// ---------------------------------------------------------------------------

/// Every strict prefix of `msg` encoded by `enc` is a `Decode` error that
/// closes the connection; the whole decodes.
fn check_prefixes<M, E>(enc: &E, msg: &M) -> Result<(), TestCaseError>
where
    M: Serialize + DeserializeOwned + PartialEq + Debug,
    E: MsgEnc,
{
    let mut bytes = Vec::new();
    enc.encode(msg, &mut bytes)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for len in 0..bytes.len() {
        match enc.decode::<M>(&bytes[..len]) {
            Ok(m) => {
                return Err(TestCaseError::fail(format!(
                    "{len} of {} bytes decoded as {m:?}",
                    bytes.len()
                )))
            }
            Err(e) => {
                prop_assert_eq!(e.kind(), ErrorKind::Decode, "{}", e);
                prop_assert_eq!(e.level(), ErrorLevel::ShutDown, "{}", e);
            }
        }
    }
    prop_assert_eq!(&enc.decode::<M>(&bytes).unwrap(), msg);
    Ok(())
}

fn check_all_prefixes<M>(msg: &M)
where
    M: Serialize + DeserializeOwned + PartialEq + Debug,
{
    check_prefixes(&Json, msg).unwrap();
    check_prefixes(&Bincode::new(), msg).unwrap();
}

#[test]
fn every_truncation_of_each_wire_variant_is_a_decode_error() {
    for m in one_of_each() {
        check_all_prefixes(&m);
    }
}

#[test]
fn every_truncation_of_a_key_value_message_and_a_peer_is_a_decode_error() {
    let peer = identity_pool()[1]
        .peer_info("192.168.1.1:80".into())
        .unwrap();
    let query = QueryMsg {
        qid: 42,
        origin: Some(peer.clone()),
        mode: QueryMode::AMix(2),
        hops: 3,
        forward: 2,
        nb_result: 1,
        timeout_ms: 10_000,
    };
    let note = Note {
        key: [9; 32],
        body: b"payload".to_vec(),
    };
    for m in [
        KVStoreProtoMsg::Find(query.clone(), note.key),
        KVStoreProtoMsg::Store(query, note.clone()),
        KVStoreProtoMsg::Found(1, vec![note.clone(), note]),
        KVStoreProtoMsg::Stored(2, 3),
    ] {
        check_all_prefixes(&NoteMsg(m));
    }
    check_all_prefixes(&peer);
}

#[test]
fn every_truncation_of_each_auth_message_is_a_decode_error() {
    let peer = PeerInfoMsg {
        id: vec![1; 32],
        identity_key: vec![2; 32],
        address: "127.0.0.1:7".into(),
        tunnel_key: vec![3; 32],
        binding: Vec::new(),
    };
    for m in [
        AuthMessage::Ping(AuthPing {
            peer: peer.clone(),
            challenge: vec![4; 32],
            ephemeral_key: vec![5; 32],
            mode: AuthMode::Signed,
            suite: CipherSuite::Aes256Gcm,
        }),
        AuthMessage::Pong(AuthPong {
            peer,
            your_challenge: vec![4; 32],
            challenge: vec![6; 32],
            ephemeral_key: vec![7; 32],
            signature: vec![8; 64],
            suite: CipherSuite::ChaCha20Poly1305,
        }),
        AuthMessage::PongFinal(AuthPongFinal {
            your_challenge: vec![6; 32],
            signature: vec![9; 64],
        }),
    ] {
        check_all_prefixes(&m);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_truncation_of_any_wire_message_is_a_decode_error(m in any::<Wire>()) {
        check_prefixes(&Json, &m)?;
        check_prefixes(&Bincode::new(), &m)?;
    }
}
