//! Send-once connections between live nodes over TCP: a service sends a
//! message to an address on a connection of its own, closed after it; no
//! peer goes online for it, and a pooled connection to the same peer is
//! left as it is.

use std::net::SocketAddr;
use std::time::Instant;

use mydht::service::PeersView;
use mydht::{GlobalCommand, LocalCommand, MyDHTConf, NodeHandle, PeerInfo, Reply};
use mydht_base::{Peer, Result, Service, SpawnerYield};
use mydht_basetest::harness::nodes::{address_of, connect, stop_all, TIMEOUT};
use mydht_basetest::loopback_conf_items;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
enum Ask {
    /// Send this note once to this address.
    Once(SocketAddr, String),
    /// The notes received.
    Notes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Sent,
    Notes(Vec<String>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Note(String);

#[derive(Default)]
struct Global {
    notes: Vec<String>,
}

impl Service for Global {
    type CommandIn = GlobalCommand<Once>;
    type CommandOut = Reply<Once>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: GlobalCommand<Once>,
        _: &mut Y,
    ) -> Result<Reply<Once>> {
        Ok(match cmd {
            GlobalCommand::Api(qid, Ask::Once(to, text)) => Reply::Many(vec![
                Reply::SendOnce(to, Note(text)),
                Reply::Api(qid, Answer::Sent),
            ]),
            GlobalCommand::Api(qid, Ask::Notes) => {
                Reply::Api(qid, Answer::Notes(self.notes.clone()))
            }
            GlobalCommand::Distant(_, Note(text)) => {
                self.notes.push(text);
                Reply::None
            }
            GlobalCommand::PeerStatus(..)
            | GlobalCommand::DialFailed(..)
            | GlobalCommand::SendOnceFailed(..) => Reply::None,
        })
    }
}

struct Local;

impl Service for Local {
    type CommandIn = LocalCommand<Once>;
    type CommandOut = Reply<Once>;
    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<Once>, _: &mut Y) -> Result<Reply<Once>> {
        Ok(Reply::Global(cmd.from, cmd.msg))
    }
}

struct Once;

impl MyDHTConf for Once {
    loopback_conf_items!();
    type ProtoMsg = Note;
    type GlobalCmd = Ask;
    type ApiReply = Answer;
    type GlobalService = Global;
    type LocalService = Local;
    mydht::threaded!();

    fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Global> {
        Ok(Global::default())
    }
    fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<Local> {
        Ok(Local)
    }
}

/// Asks `node` until `done` holds of the answer (each ask is a round trip
/// to its loop), at most [`TIMEOUT`].
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

fn notes(node: &NodeHandle<Once>) -> Vec<String> {
    match &node.query(Ask::Notes, 1, TIMEOUT).expect("notes")[..] {
        [Answer::Notes(n)] => n.clone(),
        other => panic!("not notes: {other:?}"),
    }
}

fn open_connections(node: &NodeHandle<Once>) -> usize {
    node.stats(TIMEOUT).expect("stats").open_connections
}

#[test]
fn a_send_once_message_arrives_and_its_connection_closes() {
    let nodes = mydht_basetest::harness::nodes::start_nodes(2, || Once).expect("nodes");
    let (a, b) = (&nodes[0], &nodes[1]);
    let to_b = address_of(b).expect("address");
    let sent = a
        .query(Ask::Once(to_b, "one".into()), 1, TIMEOUT)
        .expect("sent");
    assert_eq!(sent, vec![Answer::Sent]);
    until("note one", || notes(b), |n| n == &vec!["one".to_string()]);
    // Nobody went online for it, and its connection closes on both sides.
    assert!(a.connected_peers(TIMEOUT).expect("peers").is_empty());
    assert!(b.connected_peers(TIMEOUT).expect("peers").is_empty());
    until("a's send-once closed", || open_connections(a), |n| *n == 0);
    until("b's end closed", || open_connections(b), |n| *n == 0);

    // With a pooled connection: the note goes on a connection of its own,
    // the pooled one stays.
    let peer_b = connect(a, b).expect("connect");
    a.query(Ask::Once(to_b, "two".into()), 1, TIMEOUT)
        .expect("sent");
    until("note two", || notes(b), |n| n.len() == 2);
    assert_eq!(notes(b), vec!["one".to_string(), "two".to_string()]);
    until(
        "back to the pooled one",
        || open_connections(a),
        |n| *n == 1,
    );
    let peers = a.connected_peers(TIMEOUT).expect("peers");
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].get_id(), peer_b.get_id());
    stop_all(nodes).expect("stop");
}

#[test]
fn send_once_flights_after_a_confirmed_one_resume_without_key_operations() {
    let nodes = mydht_basetest::harness::nodes::start_nodes(2, || Once).expect("nodes");
    let (a, b) = (&nodes[0], &nodes[1]);
    let to_b = address_of(b).expect("address");
    // A signed connection first: b's address then leads a to b's keys,
    // and a's send-once dials there go known-key.
    connect(a, b).expect("connect");
    for (i, text) in ["one", "two", "three", "four", "five"].iter().enumerate() {
        a.query(Ask::Once(to_b, text.to_string()), 1, TIMEOUT)
            .expect("sent");
        until("the note", || notes(b), |n| n.len() == i + 1);
        // Its connection closed at a: b's sealed end confirmed the flight.
        until("a's send-once closed", || open_connections(a), |n| *n == 1);
    }
    assert_eq!(notes(b), ["one", "two", "three", "four", "five"]);
    // The first flight was known-key and asked for a ticket; each later
    // one resumed from the one before.
    assert_eq!(b.stats(TIMEOUT).expect("stats").resumed_flights, 4);
    assert_eq!(a.stats(TIMEOUT).expect("stats").resumed_flights, 0);
    stop_all(nodes).expect("stop");
}
