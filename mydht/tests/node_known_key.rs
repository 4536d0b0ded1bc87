//! The known-key handshake between live nodes over TCP: the first dial to
//! an address runs the signed handshake, later ones (send-once and pooled)
//! go known-key and deliver; at the socket, a replayed flight (the same
//! bytes again) and a garbage flight are refused and their connections
//! closed, and the node keeps serving. Under `restartable!` and
//! `threaded!`.

mod log_capture;
#[macro_use]
mod note_node;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use log_capture::Captured;
use mydht::auth::{wall_clock_ms, AuthKnown, AuthMessage, CipherSuite};
use mydht::frame::WireMessage;
use mydht::service::PeersView;
use mydht::{
    AuthError, Bincode, ChallengeCache, FrameReader, FrameWriter, GlobalCommand, Handshake,
    Identity, LocalCommand, LocalPeer, MyDHTConf, NodeHandle, PeerInfo, Reply, SessionShadow,
    Shadow, Step,
};
use mydht_base::{Peer, Result, Service, SpawnerYield};
use mydht_basetest::harness::nodes::{connect, stop_all, TIMEOUT};
use mydht_basetest::loopback_conf_items;
use readwrite_comp::{CompR, CompW};
use serde::{Deserialize, Serialize};

/// What the test asks a node.
#[derive(Debug, Clone)]
pub enum Ask {
    /// Send this note once to this address.
    Once(SocketAddr, String),
    /// The notes received.
    Notes,
}

/// What a node answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The note is on its way.
    Sent,
    /// The notes received so far.
    Notes(Vec<String>),
}

/// The message between nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note(String);

macro_rules! known_conf {
    ($m:ident, $profile:ident) => {
        mod $m {
            use super::*;

            /// A node that sends and collects notes, with its identity
            /// chosen by the test and its logs captured.
            pub struct Conf(pub Identity, pub Captured);

            #[derive(Default)]
            pub struct Global {
                notes: Vec<String>,
            }

            impl Service for Global {
                type CommandIn = GlobalCommand<Conf>;
                type CommandOut = Reply<Conf>;
                fn call<Y: SpawnerYield>(
                    &mut self,
                    cmd: GlobalCommand<Conf>,
                    _: &mut Y,
                ) -> Result<Reply<Conf>> {
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
                        _ => Reply::None,
                    })
                }
            }

            note_node_items!($profile);

            #[test]
            fn later_dials_go_known_key_and_deliver() {
                super::later_dials_go_known_key_and_deliver(Conf);
            }

            #[test]
            fn a_replayed_flight_is_refused_at_the_socket() {
                super::a_replayed_flight_is_refused_at_the_socket(Conf);
            }

            #[test]
            fn another_node_at_a_known_address_refuses_then_the_dialler_goes_signed() {
                super::another_node_at_a_known_address(Conf);
            }

            #[test]
            fn a_late_admission_leaves_a_refusal_standing() {
                super::a_late_admission_leaves_a_refusal_standing(Conf);
            }

            #[test]
            fn garbage_flights_are_refused_at_the_socket() {
                super::garbage_flights_are_refused_at_the_socket(Conf);
            }

            #[test]
            fn a_send_once_flight_gets_no_admission_and_a_clean_close() {
                super::a_send_once_flight_gets_no_admission(Conf);
            }
        }
    };
}

known_conf!(restart, restartable);
known_conf!(threaded, threaded);

/// A node configuration of this file.
trait KnownConf: MyDHTConf<GlobalCmd = Ask, ApiReply = Answer, ProtoMsg = Note> {}
impl<C: MyDHTConf<GlobalCmd = Ask, ApiReply = Answer, ProtoMsg = Note>> KnownConf for C {}

/// The nodes' encoder.
const ENC: Bincode = Bincode;
/// Frames of the handshake are small.
const AUTH_FRAME: usize = 8 * 1024;

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

fn notes<C: KnownConf>(node: &NodeHandle<C>) -> Vec<String> {
    match &node.query(Ask::Notes, 1, TIMEOUT).expect("notes")[..] {
        [Answer::Notes(n)] => n.clone(),
        other => panic!("not notes: {other:?}"),
    }
}

fn known_dials(log: &Captured) -> usize {
    log.lines()
        .iter()
        .filter(|l| l.contains("known-key dial;"))
        .count()
}

fn later_dials_go_known_key_and_deliver<C: KnownConf>(mk: fn(Identity, Captured) -> C)
where
    mydht::conf::Address<C>: From<SocketAddr> + std::str::FromStr,
{
    let (log_a, log_b) = (Captured::new(), Captured::new());
    let a = mydht::start_loop(mk(Identity::generate().unwrap(), log_a.clone())).expect("a");
    let b = mydht::start_loop(mk(Identity::generate().unwrap(), log_b)).expect("b");
    let to_b: SocketAddr = b.local_peer().get_address().parse().expect("address");
    let mut sent = Vec::new();
    for i in 0..3 {
        let note = format!("note {i}");
        a.query(Ask::Once(to_b, note.clone()), 1, TIMEOUT)
            .expect("sent");
        sent.push(note);
        until("the note", || notes(&b), |n| n.len() == sent.len());
    }
    assert_eq!(notes(&b), sent);
    // The first dial ran the signed handshake, the later ones known-key.
    assert_eq!(known_dials(&log_a), 2, "{:#?}", log_a.lines());

    // A pooled connection to the same address goes known-key too, and
    // both peers are online.
    let peer_b = connect(&a, &b).expect("connect");
    assert_eq!(peer_b.get_id(), b.local_peer().get_id());
    assert_eq!(known_dials(&log_a), 3, "{:#?}", log_a.lines());
    until(
        "a online at b",
        || b.connected_peers(TIMEOUT).expect("peers"),
        |p| p.iter().any(|p| p.get_id() == a.local_peer().get_id()),
    );
    stop_all([a, b]).expect("stop");
}

/// A flight to `node` (whose `identity` the dialler verified) from a
/// fresh identity, for a send-once connection or a pooled one, and this
/// side's keys.
fn dial_as_a_node<C: KnownConf>(
    node: &NodeHandle<C>,
    identity: &Identity,
    send_once: bool,
) -> (AuthKnown, mydht::Authenticated) {
    let me = LocalPeer::new(Identity::generate().unwrap(), "127.0.0.1:9".into()).unwrap();
    let mut memory = ChallengeCache::new(64, 2 * TIMEOUT);
    memory
        .verify_peer(node.local_peer(), identity.key_binding())
        .expect("binding");
    let dial = if send_once {
        Handshake::dial_known_send_once
    } else {
        Handshake::dial_known
    };
    dial(
        &me,
        node.local_peer(),
        &mut memory,
        CipherSuite::default(),
        wall_clock_ms(),
    )
    .expect("flight")
}

/// A client that dials `node` known-key the way a node does: its flight,
/// then its send-once frames sealed right behind it, as bytes.
fn known_key_bytes<C: KnownConf>(node: &NodeHandle<C>, identity: &Identity, text: &str) -> Vec<u8> {
    let (flight, auth) = dial_as_a_node(node, identity, false);
    let mut bytes = handshake_frame(&AuthMessage::Known(flight));
    let writer = SessionShadow::default().writer(&auth.keys).expect("shadow");
    let mut sealed = CompW::new(Vec::new(), writer);
    let mut frames = FrameWriter::new(AUTH_FRAME);
    for msg in [WireMessage::Once, WireMessage::App(Note(text.into()))] {
        let mut body = Vec::new();
        mydht_base::MsgEnc::encode(&ENC, &msg, &mut body).expect("encode");
        frames.push_frame(&body).expect("frame");
    }
    frames.write_to(&mut sealed).expect("seal");
    bytes.extend(sealed.into_parts().0);
    bytes
}

/// What a node's send-once dial writes: its send-once flight, the note
/// sealed right behind it, then the session's end; and this side's keys.
fn send_once_bytes<C: KnownConf>(
    node: &NodeHandle<C>,
    identity: &Identity,
    text: &str,
) -> (Vec<u8>, mydht::Authenticated) {
    let (flight, auth) = dial_as_a_node(node, identity, true);
    let mut bytes = handshake_frame(&AuthMessage::Known(flight));
    let writer = SessionShadow::default().writer(&auth.keys).expect("shadow");
    let mut sealed = CompW::new(Vec::new(), writer);
    let mut frames = FrameWriter::new(AUTH_FRAME);
    frames
        .push_msg(&ENC, &WireMessage::App(Note(text.into())))
        .expect("frame");
    frames.write_to(&mut sealed).expect("seal");
    sealed.write_end().expect("end");
    bytes.extend(sealed.into_parts().0);
    (bytes, auth)
}

/// A send-once flight (`AuthKnown::send_once`) and its note, as a node's
/// send-once dial writes them: delivered; the node writes no admission
/// (its first frame to a pooled dial, 25 bytes a send-once dialler never
/// needed), only its session's end, sealed under the keys (what confirms
/// the flight to the dialler), then closes cleanly: end of stream, not a
/// reset. (A pooled dial's flight gets its admission:
/// `later_dials_go_known_key_and_deliver`, pooled connects online.)
fn a_send_once_flight_gets_no_admission<C: KnownConf>(mk: fn(Identity, Captured) -> C) {
    let (identity, log) = (Identity::generate().unwrap(), Captured::new());
    let node = mydht::start_loop(mk(identity.clone(), log)).expect("node");
    let (bytes, auth) = send_once_bytes(&node, &identity, "quiet");
    let mut stream = TcpStream::connect(node.local_peer().get_address()).expect("dial");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream.write_all(&bytes).expect("send");
    let mut back = Vec::new();
    match stream.read_to_end(&mut back) {
        Ok(_) => {}
        Err(e) => panic!(
            "the node did not close cleanly after {} bytes: {e}",
            back.len()
        ),
    }
    until("the note", || notes(&node), |n| n == &["quiet".to_string()]);
    let reader = SessionShadow::default().reader(&auth.keys).expect("shadow");
    let mut opened = CompR::new(&back[..], reader);
    let first = FrameReader::new(AUTH_FRAME)
        .read_msg::<WireMessage<Note>, _, _>(&ENC, &mut opened)
        .expect("sealed under the session keys");
    assert!(
        first.is_none(),
        "a send-once flight got {first:?} before the session's end ({} bytes back)",
        back.len()
    );
    stop_all([node]).expect("stop");
}

fn handshake_frame(msg: &AuthMessage) -> Vec<u8> {
    let mut out = FrameWriter::new(AUTH_FRAME);
    out.push_msg(&ENC, msg).expect("push");
    let mut bytes = Vec::new();
    out.write_to(&mut bytes).expect("frame");
    bytes
}

/// Sends `bytes` on a new connection to `node`; then reads (and discards)
/// what the node sends until it closes the socket: true if it did within
/// the test timeout.
fn closed_after<C: KnownConf>(node: &NodeHandle<C>, bytes: &[u8]) -> bool {
    let mut stream = TcpStream::connect(node.local_peer().get_address()).expect("dial");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream.write_all(bytes).expect("send");
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(e) => panic!("unexpected read error {e}"),
        }
    }
}

fn dropped_with(log: &Captured, why: &str) -> String {
    log.wait_for(TIMEOUT, |l| {
        l.contains("connection dropped") && l.contains(why)
    })
    .unwrap_or_else(|| panic!("no drop logged with {why:?}: {:#?}", log.lines()))
}

fn a_replayed_flight_is_refused_at_the_socket<C: KnownConf>(mk: fn(Identity, Captured) -> C) {
    let (identity, log) = (Identity::generate().unwrap(), Captured::new());
    let node = mydht::start_loop(mk(identity.clone(), log.clone())).expect("node");
    let bytes = known_key_bytes(&node, &identity, "once");
    // The first time: delivered. Its connection is the client's to close.
    let mut first = TcpStream::connect(node.local_peer().get_address()).expect("dial");
    first.write_all(&bytes).expect("send");
    until("the note", || notes(&node), |n| n == &["once".to_string()]);
    drop(first);
    // The same bytes again: refused, the socket closed, nothing delivered.
    assert!(closed_after(&node, &bytes), "the node kept the replay");
    dropped_with(&log, "replayed known-key flight");
    assert_eq!(notes(&node), vec!["once".to_string()]);
    // A fresh flight from the same client is served.
    let fresh = known_key_bytes(&node, &identity, "twice");
    let mut again = TcpStream::connect(node.local_peer().get_address()).expect("dial");
    again.write_all(&fresh).expect("send");
    until("the fresh note", || notes(&node), |n| n.len() == 2);
    drop(again);
    stop_all([node]).expect("stop");
}

fn garbage_flights_are_refused_at_the_socket<C: KnownConf>(mk: fn(Identity, Captured) -> C) {
    let (identity, log) = (Identity::generate().unwrap(), Captured::new());
    let node = mydht::start_loop(mk(identity.clone(), log.clone())).expect("node");
    let garbage = |responder: Vec<u8>| AuthKnown {
        responder,
        ephemeral_key: vec![0x42; 32],
        timestamp_ms: wall_clock_ms(),
        suite: CipherSuite::default(),
        send_once: true,
        ticket: false,
        sealed: vec![0x17; 200],
        proof: vec![0x99; 32],
    };
    // For this node, but sealed by no one: does not open.
    let mine = garbage(node.local_peer().get_id().as_bytes().to_vec());
    assert!(closed_after(
        &node,
        &handshake_frame(&AuthMessage::Known(mine))
    ));
    dropped_with(&log, "known-key flight does not open");
    // For another peer: refused by its id.
    let other = garbage(vec![0x55; 32]);
    assert!(closed_after(
        &node,
        &handshake_frame(&AuthMessage::Known(other))
    ));
    dropped_with(&log, "not the expected peer");
    // The node still serves a genuine flight.
    let fresh = known_key_bytes(&node, &identity, "still here");
    let mut stream = TcpStream::connect(node.local_peer().get_address()).expect("dial");
    stream.write_all(&fresh).expect("send");
    until("the note", || notes(&node), |n| n.len() == 1);
    drop(stream);
    stop_all([node]).expect("stop");
}

/// Node `a` knows `b` at its address; `b` stops and an impostor (a raw
/// listener with another identity) takes the address: `a`'s known-key
/// flight cannot be opened there (the impostor's typed refusal, nothing
/// delivered); the impostor closes, `a` logs the refusal
/// (`AuthError::KnownKeyRefused`), forgets the peer it expected there and
/// dials signed from then on.
fn another_node_at_a_known_address<C: KnownConf>(mk: fn(Identity, Captured) -> C) {
    let (log_a, log_b) = (Captured::new(), Captured::new());
    let a = mydht::start_loop(mk(Identity::generate().unwrap(), log_a.clone())).expect("a");
    let b = mydht::start_loop(mk(Identity::generate().unwrap(), log_b)).expect("b");
    let to_b: SocketAddr = b.local_peer().get_address().parse().expect("address");
    a.query(Ask::Once(to_b, "first".into()), 1, TIMEOUT)
        .expect("sent");
    until("the note", || notes(&b), |n| n.len() == 1);
    stop_all([b]).expect("stop b");

    let impostor = TcpListener::bind(to_b).expect("the address again");
    let carol = Arc::new(LocalPeer::new(Identity::generate().unwrap(), to_b.to_string()).unwrap());
    let mut memory = ChallengeCache::new(64, 2 * TIMEOUT);
    let (mut first_frames, mut refusals) = (Vec::new(), 0);
    for i in 0..3 {
        a.query(Ask::Once(to_b, format!("lost {i}")), 1, TIMEOUT)
            .expect("sent");
        let (mut stream, _) = impostor.accept().expect("accept");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let first = read_auth(&mut FrameReader::new(AUTH_FRAME), &mut stream);
        if let AuthMessage::Known(flight) = &first {
            let now = Instant::now();
            let refused = Handshake::respond(carol.clone(), TIMEOUT, now)
                .on_known(flight, &mut memory, now, wall_clock_ms())
                .unwrap_err();
            assert_eq!(refused, AuthError::UnexpectedPeer);
            // Closed without a frame: the dialler's typed refusal.
            drop(stream);
            refusals += 1;
            wait_refusals(&log_a, refusals);
        }
        first_frames.push(first.name());
    }
    assert_eq!(
        first_frames,
        ["known-key flight", "ping", "ping"],
        "{:#?}",
        log_a.lines()
    );
    stop_all([a]).expect("stop a");
}

/// Waits until `a` logged its `count`th refused known-key dial.
fn wait_refusals(log_a: &Captured, count: usize) {
    let refused = |l: &str| {
        l.contains("known-key dial refused") && l.contains("known-key flight refused or unanswered")
    };
    assert!(
        log_a.wait_for_count(TIMEOUT, count, refused),
        "not {count} refusals at a: {:#?}",
        log_a.lines()
    );
}

/// Reads one handshake frame from `stream`.
fn read_auth(input: &mut FrameReader, stream: &mut TcpStream) -> AuthMessage {
    input
        .read_msg::<AuthMessage, _, _>(&ENC, stream)
        .expect("a handshake frame")
        .expect("not at end")
}

/// Node `a` dials `bee` (played by the test) signed, and so knows it at
/// its address; `bee` holds back its admission on that connection. Then
/// the next dial there goes known-key, and whoever answers refuses it:
/// `a` forgets the address. The admission read after that, from the
/// older connection, does not teach it again: the next dial is signed.
fn a_late_admission_leaves_a_refusal_standing<C: KnownConf>(mk: fn(Identity, Captured) -> C) {
    let log_a = Captured::new();
    let a = mydht::start_loop(mk(Identity::generate().unwrap(), log_a.clone())).expect("a");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let to_bee = listener.local_addr().expect("address");
    let bee = Arc::new(LocalPeer::new(Identity::generate().unwrap(), to_bee.to_string()).unwrap());
    let mut memory = ChallengeCache::new(64, 2 * TIMEOUT);

    a.query(Ask::Once(to_bee, "first".into()), 1, TIMEOUT)
        .expect("sent");
    let (mut first, _) = listener.accept().expect("accept");
    first.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut input = FrameReader::new(AUTH_FRAME);
    let mut responder = Handshake::respond(bee.clone(), TIMEOUT, Instant::now());
    let ping = read_auth(&mut input, &mut first);
    assert_eq!(ping.name(), "ping", "the first dial there is signed");
    let pong = match responder.handle(&ping, &mut memory, Instant::now()) {
        Ok(Step::Send(pong)) => pong,
        other => panic!("no pong: {other:?}"),
    };
    first.write_all(&handshake_frame(&pong)).expect("pong");
    let fin = read_auth(&mut input, &mut first);
    let auth = match responder.handle(&fin, &mut memory, Instant::now()) {
        Ok(Step::Finish(auth)) => auth,
        other => panic!("not authenticated: {other:?}"),
    };

    // `a` authenticated bee there: its next dial goes known-key; refused.
    a.query(Ask::Once(to_bee, "refused".into()), 1, TIMEOUT)
        .expect("sent");
    let (mut second, _) = listener.accept().expect("accept");
    second.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let flight = read_auth(&mut FrameReader::new(AUTH_FRAME), &mut second);
    assert_eq!(flight.name(), "known-key flight");
    drop(second);
    wait_refusals(&log_a, 1);

    // Now bee's admission on the first connection, and its session's end:
    // `a` reads both, then closes that connection (its end of stream here
    // says `a` has read the admission).
    let writer = SessionShadow::default().writer(&auth.keys).expect("shadow");
    let mut sealed = CompW::new(Vec::new(), writer);
    let mut frames = FrameWriter::new(AUTH_FRAME);
    frames
        .push_msg(&ENC, &WireMessage::<Note>::Admitted)
        .expect("frame");
    frames.write_to(&mut sealed).expect("seal");
    sealed.write_end().expect("end");
    first.write_all(&sealed.into_parts().0).expect("admission");
    let mut rest = Vec::new();
    first
        .read_to_end(&mut rest)
        .expect("a closes the first connection");
    let drops = log_a
        .lines()
        .iter()
        .filter(|l| l.contains("connection dropped"))
        .count();
    assert_eq!(
        drops,
        1,
        "the first connection did not end cleanly: {:#?}",
        log_a.lines()
    );

    a.query(Ask::Once(to_bee, "after".into()), 1, TIMEOUT)
        .expect("sent");
    let (mut third, _) = listener.accept().expect("accept");
    third.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let next = read_auth(&mut FrameReader::new(AUTH_FRAME), &mut third);
    assert_eq!(next.name(), "ping", "{:#?}", log_a.lines());
    drop(third);
    stop_all([a]).expect("stop a");
}
