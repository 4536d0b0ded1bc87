//! A send-once message that is lost reaches the global service as
//! `GlobalCommand::SendOnceFailed` with its address and why, once, and the
//! message itself when the node still held it: nothing
//! listens at the address (unreachable), or a `PeerInfo` names a peer at
//! another node's address (its known-key flight refused there,
//! `AuthError::KnownKeyRefused`), or the peer restarted and forgot the
//! ticket the dialler resumes with (refused too; the next dial goes
//! known-key, not signed). A send-once message that is delivered raises
//! none.

use std::marker::PhantomData;
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::time::Instant;

use mydht::service::PeersView;
use mydht::{
    AuthError, GlobalCommand, Identity, LocalCommand, MyDHTConf, NodeError, NodeHandle, PeerInfo,
    Reply,
};
use mydht_base::{Error, ErrorKind, Peer, Result, Service, SpawnerYield};
use mydht_basetest::harness::nodes::{address_of, stop_all, TIMEOUT};
use mydht_basetest::loopback_conf_items;
use serde::{Deserialize, Serialize};

#[derive(Debug)]
enum Ask {
    /// Send this note once to this address.
    Once(SocketAddr, String),
    /// Send this note once to this peer, expecting it at its address.
    OnceTo(PeerInfo, String),
    /// Nothing: answered once what the service was told before is seen.
    Sync,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Note(String);

/// What a node's global service saw.
#[derive(Debug)]
enum Seen {
    /// A lost send-once message: its address, error and text when given
    /// back.
    Lost(SocketAddr, Error, Option<String>),
    /// A note a peer sent.
    Note(String),
}

/// Tells the test the lost send-once messages and the notes it sees.
struct Global<C>(SyncSender<Seen>, PhantomData<fn() -> C>);
mydht_base::sref_as_itself!(impl<C> for Global<C>);

impl Service for Global<Node> {
    type CommandIn = GlobalCommand<Node>;
    type CommandOut = Reply<Node>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: GlobalCommand<Node>,
        _: &mut Y,
    ) -> Result<Reply<Node>> {
        let done = |qid, r| Reply::Many(vec![r, Reply::Api(qid, ())]);
        Ok(match cmd {
            GlobalCommand::Api(qid, Ask::Once(to, text)) => {
                done(qid, Reply::SendOnce(to, Note(text)))
            }
            GlobalCommand::Api(qid, Ask::OnceTo(peer, text)) => {
                done(qid, Reply::SendOnceTo(peer, Note(text)))
            }
            GlobalCommand::Api(qid, Ask::Sync) => Reply::Api(qid, ()),
            GlobalCommand::SendOnceFailed(address, error, msg) => {
                let _ = self
                    .0
                    .try_send(Seen::Lost(address, error, msg.map(|n| n.0)));
                Reply::None
            }
            GlobalCommand::Distant(_, Note(text)) => {
                let _ = self.0.try_send(Seen::Note(text));
                Reply::None
            }
            GlobalCommand::PeerStatus(..) | GlobalCommand::DialFailed(..) => Reply::None,
        })
    }
}

/// Forwards every note to the global service.
struct Local<C>(PhantomData<fn() -> C>);

impl<C: MyDHTConf<ProtoMsg = Note>> Service for Local<C> {
    type CommandIn = LocalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(Reply::Global(cmd.from, cmd.msg))
    }
}

/// A node: where its global service tells what it sees, and its
/// identity (a new one if `None`).
struct Node(SyncSender<Seen>, Option<Identity>);

impl MyDHTConf for Node {
    loopback_conf_items!();
    type ProtoMsg = Note;
    type GlobalCmd = Ask;
    type ApiReply = ();
    type GlobalService = Global<Node>;
    type LocalService = Local<Node>;
    mydht::restartable!();

    fn init_identity(&mut self) -> Result<Identity> {
        match &self.1 {
            Some(identity) => Ok(identity.clone()),
            None => Identity::generate(),
        }
    }
    fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Global<Node>> {
        Ok(Global(self.0.clone(), PhantomData))
    }
    fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<Local<Node>> {
        Ok(Local(PhantomData))
    }
}

fn node() -> (NodeHandle<Node>, Receiver<Seen>) {
    node_as(None)
}

fn node_as(identity: Option<Identity>) -> (NodeHandle<Node>, Receiver<Seen>) {
    let (tx, seen) = sync_channel(16);
    (mydht::start_loop(Node(tx, identity)).expect("node"), seen)
}

fn ask(node: &NodeHandle<Node>, what: Ask) {
    node.query(what, 1, TIMEOUT).expect("asked");
}

/// An address on loopback where nothing listens (bound, then closed).
fn closed_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

/// The next thing `seen` tells, within [`TIMEOUT`].
fn next(seen: &Receiver<Seen>) -> Seen {
    seen.recv_timeout(TIMEOUT).expect("an event in time")
}

/// Waits until `a` holds no connection (its send-once connections all
/// closed, each raising what it raises by then), then until its global
/// service answered a query (what it was told before is seen), and checks
/// that it saw nothing more.
fn nothing_more(a: &NodeHandle<Node>, seen: &Receiver<Seen>) {
    let start = Instant::now();
    while a.stats(TIMEOUT).expect("stats").open_connections != 0 {
        assert!(
            start.elapsed() < TIMEOUT,
            "a's connections not closed in time"
        );
    }
    ask(a, Ask::Sync);
    match seen.try_recv() {
        Err(TryRecvError::Empty) => {}
        other => panic!("expected nothing more, got {other:?}"),
    }
}

/// Sends a note once from `a` to `b` and waits until `b` has it.
fn delivered(a: &NodeHandle<Node>, b: &NodeHandle<Node>, seen_b: &Receiver<Seen>, text: &str) {
    let to_b = address_of(b).expect("address");
    ask(a, Ask::Once(to_b, text.into()));
    match next(seen_b) {
        Seen::Note(got) => assert_eq!(got, text),
        other => panic!("expected b to get {text:?}, got {other:?}"),
    }
}

#[test]
fn a_send_once_where_nothing_listens_raises_send_once_failed_unreachable() {
    let ((a, seen_a), (b, seen_b)) = (node(), node());
    let nowhere = closed_address();
    ask(&a, Ask::Once(nowhere, "lost".into()));
    match next(&seen_a) {
        Seen::Lost(address, e, msg) => {
            assert_eq!(address, nowhere);
            assert_eq!(msg.as_deref(), Some("lost"), "the message given back");
            assert!(
                matches!(NodeError::from(e.clone()), NodeError::Unreachable(_)),
                "{e}"
            );
        }
        other => panic!("expected the note to {nowhere} lost, got {other:?}"),
    }
    // Raised once: a delivered one after it, and nothing more.
    delivered(&a, &b, &seen_b, "after");
    nothing_more(&a, &seen_a);
    stop_all([a, b]).expect("stop");
}

#[test]
fn a_send_once_to_a_peer_named_at_another_nodes_address_raises_known_key_refused() {
    let ((a, seen_a), (b, _), (c, seen_c)) = (node(), node(), node());
    let info_b = b.local_peer();
    let at_c = address_of(&c).expect("address");
    let impostor = PeerInfo::new(
        *info_b.identity_key(),
        c.local_peer().get_address().clone(),
        *info_b.tunnel_public_key(),
    )
    .unwrap()
    .with_binding(*info_b.key_binding().expect("bound"));
    ask(&a, Ask::OnceTo(impostor.clone(), "for b".into()));
    match next(&seen_a) {
        Seen::Lost(address, e, msg) => {
            assert_eq!(address, at_c);
            // Sealed behind the refused flight, it never reached an
            // application there: given back as one never sent.
            assert_eq!(
                msg.as_deref(),
                Some("for b"),
                "the message sent behind a refused flight comes back"
            );
            assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
            assert_eq!(AuthError::of(&e), Some(&AuthError::KnownKeyRefused), "{e}");
        }
        other => panic!("expected the note to {at_c} refused, got {other:?}"),
    }
    // The next dial naming b goes signed (as after a refusal for a clock
    // too far off): c answers it as itself, which the dial did not expect,
    // before the message left.
    ask(&a, Ask::OnceTo(impostor, "for b again".into()));
    match next(&seen_a) {
        Seen::Lost(address, e, msg) => {
            assert_eq!(address, at_c);
            assert_eq!(AuthError::of(&e), Some(&AuthError::UnexpectedPeer), "{e}");
            assert_eq!(msg.as_deref(), Some("for b again"));
        }
        other => panic!("expected the signed dial to {at_c} refused, got {other:?}"),
    }
    // Raised once each, and `c` never read either note.
    delivered(&a, &c, &seen_c, "for c");
    nothing_more(&a, &seen_a);
    nothing_more(&c, &seen_c);
    stop_all([a, b, c]).expect("stop");
}

#[test]
fn a_delivered_send_once_raises_nothing() {
    let ((a, seen_a), (b, seen_b)) = (node(), node());
    delivered(&a, &b, &seen_b, "one");
    delivered(&a, &b, &seen_b, "two");
    nothing_more(&a, &seen_a);
    stop_all([a, b]).expect("stop");
}

/// Sends a note once from `a` to peer `b` (by its `PeerInfo`), waits until
/// `b` has it and `a` holds no connection (the flight confirmed, so a
/// ticket it gave is kept), and says how many resumed flights `b` took so
/// far.
fn delivered_to(
    a: &NodeHandle<Node>,
    b: &NodeHandle<Node>,
    seen_b: &Receiver<Seen>,
    text: &str,
) -> u64 {
    ask(a, Ask::OnceTo(b.local_peer().clone(), text.into()));
    match next(seen_b) {
        Seen::Note(got) => assert_eq!(got, text),
        other => panic!("expected b to get {text:?}, got {other:?}"),
    }
    let start = Instant::now();
    while a.stats(TIMEOUT).expect("stats").open_connections != 0 {
        assert!(
            start.elapsed() < TIMEOUT,
            "a's connection not closed in time"
        );
    }
    b.stats(TIMEOUT).expect("stats").resumed_flights
}

#[test]
fn a_resumed_flight_to_a_restarted_peer_is_refused_then_the_next_dials_go_known_key() {
    let identity = Identity::generate().expect("identity");
    let ((a, seen_a), (b, seen_b)) = (node(), node_as(Some(identity.clone())));
    // A known-key flight that gives a ticket, then a flight resumed with it
    // (which gives the next ticket, kept at `a`).
    assert_eq!(delivered_to(&a, &b, &seen_b, "first"), 0);
    assert_eq!(delivered_to(&a, &b, &seen_b, "resumed"), 1);
    stop_all([b]).expect("stop b");
    // The same identity restarted (another port): it holds no ticket.
    let (b, seen_b) = node_as(Some(identity));
    let at_b = address_of(&b).expect("address");
    ask(
        &a,
        Ask::OnceTo(b.local_peer().clone(), "after the restart".into()),
    );
    match next(&seen_a) {
        Seen::Lost(address, e, msg) => {
            assert_eq!(address, at_b);
            assert_eq!(AuthError::of(&e), Some(&AuthError::KnownKeyRefused), "{e}");
            assert_eq!(msg.as_deref(), Some("after the restart"), "given back");
        }
        other => panic!("expected the resumed flight to {at_b} refused, got {other:?}"),
    }
    // The next dial is known-key (a signed one gives no ticket) and asks
    // for a ticket, so the one after it resumes.
    assert_eq!(delivered_to(&a, &b, &seen_b, "known-key again"), 0);
    assert_eq!(delivered_to(&a, &b, &seen_b, "resumed again"), 1);
    nothing_more(&a, &seen_a);
    nothing_more(&b, &seen_b);
    stop_all([a, b]).expect("stop");
}
