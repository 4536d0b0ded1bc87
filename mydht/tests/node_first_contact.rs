//! First contacts known-key between live nodes over TCP: a node given a
//! peer's `PeerInfo` (its key binding in it) dials it with the one-message
//! handshake although they never met (`Reply::ConnectTo`,
//! `Reply::SendOnceTo`); a forged binding is never trusted (the dial goes
//! signed); a `PeerInfo` naming one peer at another node's address is
//! refused there, and the dialler gets `AuthError::KnownKeyRefused`. Under
//! `restartable!` and `threaded!`.

mod log_capture;
#[macro_use]
mod note_node;

use std::time::Instant;

use log_capture::Captured;
use mydht::identity::KeyBinding;
use mydht::service::PeersView;
use mydht::{
    AuthError, GlobalCommand, Identity, LocalCommand, MyDHTConf, NodeHandle, PeerId, PeerInfo,
    Reply,
};
use mydht_base::{Error, ErrorKind, Peer, Result, Service, SpawnerYield};
use mydht_basetest::harness::nodes::{connect, stop_all, TIMEOUT};
use mydht_basetest::loopback_conf_items;
use serde::{Deserialize, Serialize};

/// What the test asks a node.
#[derive(Debug, Clone)]
pub enum Ask {
    /// Connect to this peer (pooled), expecting it at its address.
    ConnectTo(PeerInfo),
    /// Send this note once to this peer.
    OnceTo(PeerInfo, String),
    /// Send this note to this connected peer.
    Send(PeerId, String),
    /// The notes received.
    Notes,
    /// The pooled dials that failed: address and error.
    DialFailures,
}

/// What a node answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Asked of the node.
    Done,
    /// The notes received so far.
    Notes(Vec<String>),
    /// The failed dials so far.
    DialFailures(Vec<(String, Error)>),
}

/// The message between nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note(String);

macro_rules! first_contact_conf {
    ($m:ident, $profile:ident) => {
        mod $m {
            use super::*;

            /// A node that dials as asked and collects notes and dial
            /// failures, with its identity chosen by the test and its logs
            /// captured.
            pub struct Conf(pub Identity, pub Captured);

            #[derive(Default)]
            pub struct Global {
                notes: Vec<String>,
                failures: Vec<(String, Error)>,
            }

            impl Service for Global {
                type CommandIn = GlobalCommand<Conf>;
                type CommandOut = Reply<Conf>;
                fn call<Y: SpawnerYield>(
                    &mut self,
                    cmd: GlobalCommand<Conf>,
                    _: &mut Y,
                ) -> Result<Reply<Conf>> {
                    let done = |qid, r| Reply::Many(vec![r, Reply::Api(qid, Answer::Done)]);
                    Ok(match cmd {
                        GlobalCommand::Api(qid, Ask::ConnectTo(peer)) => {
                            done(qid, Reply::ConnectTo(peer))
                        }
                        GlobalCommand::Api(qid, Ask::OnceTo(peer, text)) => {
                            done(qid, Reply::SendOnceTo(peer, Note(text)))
                        }
                        GlobalCommand::Api(qid, Ask::Send(id, text)) => {
                            done(qid, Reply::Send(id, Note(text)))
                        }
                        GlobalCommand::Api(qid, Ask::Notes) => {
                            Reply::Api(qid, Answer::Notes(self.notes.clone()))
                        }
                        GlobalCommand::Api(qid, Ask::DialFailures) => {
                            Reply::Api(qid, Answer::DialFailures(self.failures.clone()))
                        }
                        GlobalCommand::Distant(_, Note(text)) => {
                            self.notes.push(text);
                            Reply::None
                        }
                        GlobalCommand::DialFailed(address, e) => {
                            self.failures.push((address.to_string(), e));
                            Reply::None
                        }
                        _ => Reply::None,
                    })
                }
            }

            note_node_items!($profile);

            #[test]
            fn a_peer_never_met_is_connected_known_key() {
                super::a_peer_never_met_is_connected_known_key(Conf);
            }

            #[test]
            fn a_forged_binding_is_never_used_the_dial_goes_signed() {
                super::a_forged_binding_is_never_used(Conf);
            }

            #[test]
            fn a_peer_named_at_another_nodes_address_is_refused() {
                super::a_peer_named_at_another_nodes_address(Conf);
            }

            #[test]
            fn a_peer_found_through_another_is_connected_known_key() {
                super::a_peer_found_through_another(Conf);
            }

            #[test]
            fn send_once_to_a_peer_never_met_delivers_known_key() {
                super::send_once_to_a_peer_never_met(Conf);
            }
        }
    };
}

first_contact_conf!(restart, restartable);
first_contact_conf!(threaded, threaded);

/// A node configuration of this file.
trait FirstConf: MyDHTConf<GlobalCmd = Ask, ApiReply = Answer, ProtoMsg = Note> {}
impl<C: MyDHTConf<GlobalCmd = Ask, ApiReply = Answer, ProtoMsg = Note>> FirstConf for C {}

/// How a test makes a node's configuration.
type Mk<C> = fn(Identity, Captured) -> C;

/// A node with a fresh identity, and its captured logs.
fn node<C: FirstConf>(mk: Mk<C>) -> (NodeHandle<C>, Captured) {
    let log = Captured::new();
    let node = mydht::start_loop(mk(Identity::generate().unwrap(), log.clone())).expect("node");
    (node, log)
}

/// Asks until `done` holds of the answer, at most [`TIMEOUT`].
fn until<T>(what: &str, mut ask: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let start = Instant::now();
    loop {
        let got = ask();
        if done(&got) {
            return got;
        }
        assert!(start.elapsed() < TIMEOUT, "{what}: not in time");
    }
}

fn ask<C: FirstConf>(node: &NodeHandle<C>, what: Ask) -> Answer {
    match &node.query(what, 1, TIMEOUT).expect("query")[..] {
        [answer] => answer.clone(),
        other => panic!("not one answer: {other:?}"),
    }
}

fn notes<C: FirstConf>(node: &NodeHandle<C>) -> Vec<String> {
    match ask(node, Ask::Notes) {
        Answer::Notes(n) => n,
        other => panic!("not notes: {other:?}"),
    }
}

fn dial_failures<C: FirstConf>(node: &NodeHandle<C>) -> Vec<(String, Error)> {
    match ask(node, Ask::DialFailures) {
        Answer::DialFailures(f) => f,
        other => panic!("not dial failures: {other:?}"),
    }
}

/// Known-key dials `log`'s node made (the core logs each flight it sends).
fn known_dials(log: &Captured) -> usize {
    log.lines()
        .iter()
        .filter(|l| l.contains("known-key dial;"))
        .count()
}

/// Waits until `a` and `b` are online at each other.
fn both_online<C: FirstConf>(a: &NodeHandle<C>, b: &NodeHandle<C>) {
    for (x, y) in [(a, b), (b, a)] {
        let id = *y.local_peer().get_id();
        until(
            "online",
            || x.connected_peers(TIMEOUT).expect("peers"),
            |p| p.iter().any(|p| p.get_id() == &id),
        );
    }
}

/// Node `a` is handed `b`'s `PeerInfo` (never met): its one dial is a
/// known-key flight, both go online, and notes flow both ways on the
/// pooled connection.
fn a_peer_never_met_is_connected_known_key<C: FirstConf>(mk: Mk<C>) {
    let ((a, log_a), (b, _)) = (node(mk), node(mk));
    let info_b = b.local_peer().clone();
    assert!(info_b.key_binding().is_some(), "a node's own info is bound");
    assert_eq!(ask(&a, Ask::ConnectTo(info_b.clone())), Answer::Done);
    both_online(&a, &b);
    assert_eq!(known_dials(&log_a), 1, "{:#?}", log_a.lines());
    let (id_a, id_b) = (*a.local_peer().get_id(), *info_b.get_id());
    ask(&a, Ask::Send(id_b, "a to b".into()));
    ask(&b, Ask::Send(id_a, "b to a".into()));
    until("b's note", || notes(&b), |n| n == &["a to b".to_string()]);
    until("a's note", || notes(&a), |n| n == &["b to a".to_string()]);
    assert_eq!(dial_failures(&a), vec![]);
    stop_all([a, b]).expect("stop");
}

/// `b`'s `PeerInfo` with a binding that does not verify (one byte
/// flipped; another identity's): never used known-key. The dial goes
/// signed (logged), reaches `b`, and no flight is sent.
fn a_forged_binding_is_never_used<C: FirstConf>(mk: Mk<C>) {
    let (b, _) = node(mk);
    let info_b = b.local_peer().clone();
    let mut flipped = *info_b.key_binding().expect("bound");
    flipped.0[17] ^= 0x40;
    let other = *Identity::generate().unwrap().key_binding();
    for (binding, note) in [(flipped, "flipped byte"), (other, "another identity's")] {
        let (a, log_a) = node(mk);
        let forged = info_b.clone().with_binding(binding);
        assert_eq!(ask(&a, Ask::ConnectTo(forged)), Answer::Done);
        both_online(&a, &b);
        assert_eq!(known_dials(&log_a), 0, "{note}: {:#?}", log_a.lines());
        let refused = log_a
            .lines()
            .into_iter()
            .find(|l| l.contains("key binding refused: signed handshake"));
        let refused = refused.unwrap_or_else(|| panic!("{note}: {:#?}", log_a.lines()));
        assert!(refused.contains("key binding does not verify"), "{refused}");
        ask(&a, Ask::Send(*info_b.get_id(), note.into()));
        until(
            "the note",
            || notes(&b),
            |n| n.last() == Some(&note.to_string()),
        );
        assert_eq!(dial_failures(&a), vec![]);
        stop_all([a]).expect("stop a");
    }
    stop_all([b]).expect("stop b");
}

/// `b`'s identity, keys and genuine binding at `c`'s address: `c` cannot
/// open the flight and closes the socket; `a` gets `DialFailed` with
/// `AuthError::KnownKeyRefused` and keeps no connection; nobody is online.
fn a_peer_named_at_another_nodes_address<C: FirstConf>(mk: Mk<C>) {
    let ((a, log_a), (b, _), (c, log_c)) = (node(mk), node(mk), node(mk));
    let info_b = b.local_peer();
    let at_c = c.local_peer().get_address().clone();
    let impostor = PeerInfo::new(
        *info_b.identity_key(),
        at_c.clone(),
        *info_b.tunnel_public_key(),
    )
    .unwrap()
    .with_binding(*info_b.key_binding().expect("bound"));
    assert_eq!(ask(&a, Ask::ConnectTo(impostor)), Answer::Done);
    let failures = until("the dial failure", || dial_failures(&a), |f| !f.is_empty());
    let [(address, e)] = &failures[..] else {
        panic!("one failure: {failures:?}");
    };
    assert_eq!(address, &at_c);
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert_eq!(AuthError::of(e), Some(&AuthError::KnownKeyRefused), "{e}");
    assert_eq!(e, &Error::from(AuthError::KnownKeyRefused));
    assert_eq!(known_dials(&log_a), 1, "{:#?}", log_a.lines());
    // `c` refused the flight by its id and closed the connection.
    log_c
        .wait_for(TIMEOUT, |l| {
            l.contains("connection dropped") && l.contains("not the expected peer")
        })
        .unwrap_or_else(|| panic!("c: {:#?}", log_c.lines()));
    // `a` closed its side: no connection left, nobody online.
    until(
        "a's connection closed",
        || a.stats(TIMEOUT).expect("stats").open_connections,
        |n| *n == 0,
    );
    assert_eq!(a.connected_peers(TIMEOUT).expect("peers"), vec![]);
    assert_eq!(c.connected_peers(TIMEOUT).expect("peers"), vec![]);
    stop_all([a, b, c]).expect("stop");
}

/// `a` and `c` never met, both connected to `b` (signed): `a` finds `c`
/// through `b`'s peer store, and the `PeerInfo` it gets carries `c`'s
/// binding (through the signed handshake to `b` and the peer store's wire
/// form): `a` dials `c` known-key at first contact.
fn a_peer_found_through_another<C: FirstConf>(mk: Mk<C>) {
    let ((a, log_a), (b, _), (c, _)) = (node(mk), node(mk), node(mk));
    connect(&a, &b).expect("a to b");
    connect(&c, &b).expect("c to b");
    let id_c = *c.local_peer().get_id();
    let found = until(
        "c through b",
        || a.find_peer(&id_c, TIMEOUT).expect("find"),
        Option::is_some,
    )
    .expect("found");
    assert_eq!(found.key_binding(), c.local_peer().key_binding());
    assert_eq!(known_dials(&log_a), 0, "{:#?}", log_a.lines());
    assert_eq!(ask(&a, Ask::ConnectTo(found)), Answer::Done);
    both_online(&a, &c);
    let to_c = log_a
        .lines()
        .into_iter()
        .filter(|l| l.contains("known-key dial;") && l.contains(&id_c.to_string()))
        .count();
    assert_eq!(to_c, 1, "{:#?}", log_a.lines());
    stop_all([a, b, c]).expect("stop");
}

/// `a` sends one note to `b` (never met) on a send-once connection: known-
/// key, delivered, and neither goes online.
fn send_once_to_a_peer_never_met<C: FirstConf>(mk: Mk<C>) {
    let ((a, log_a), (b, _)) = (node(mk), node(mk));
    let info_b = b.local_peer().clone();
    assert_eq!(
        ask(&a, Ask::OnceTo(info_b, "once, known-key".into())),
        Answer::Done
    );
    until(
        "the note",
        || notes(&b),
        |n| n == &["once, known-key".to_string()],
    );
    assert_eq!(known_dials(&log_a), 1, "{:#?}", log_a.lines());
    assert_eq!(a.connected_peers(TIMEOUT).expect("peers"), vec![]);
    assert!(!log_a
        .lines()
        .iter()
        .any(|l| l.contains("known-key dial refused")));
    stop_all([a, b]).expect("stop");
}

/// A binding is 64 bytes on the wire inside a `PeerInfo`, and a decoded
/// peer keeps it.
#[test]
fn a_peer_info_carries_its_binding_on_the_wire() {
    let id = Identity::generate().unwrap();
    let info = id.peer_info("127.0.0.1:7".into()).unwrap();
    let bare = PeerInfo::new(*id.identity_key(), "127.0.0.1:7".into(), *id.tunnel_key()).unwrap();
    let round = |p: &PeerInfo| -> (PeerInfo, usize) {
        let mut bytes = Vec::new();
        mydht_base::MsgEnc::encode(&mydht::Bincode::new(), p, &mut bytes).unwrap();
        let back: PeerInfo = mydht_base::MsgEnc::decode(&mydht::Bincode::new(), &bytes).unwrap();
        (back, bytes.len())
    };
    let (got, bound_len) = round(&info);
    assert_eq!(got.key_binding(), Some(id.key_binding()));
    let (got, bare_len) = round(&bare);
    assert_eq!(got.key_binding(), None::<&KeyBinding>);
    assert_eq!(bound_len - bare_len, 64);
    let mut json = Vec::new();
    mydht_base::MsgEnc::encode(&mydht::Json, &info, &mut json).unwrap();
    let back: PeerInfo = mydht_base::MsgEnc::decode(&mydht::Json, &json).unwrap();
    assert_eq!(back.key_binding(), Some(id.key_binding()));
}
