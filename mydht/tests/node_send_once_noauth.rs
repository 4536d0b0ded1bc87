//! Unauthenticated send-once connections (`NodeConstants::send_once_auth =
//! NoAuth`): a message sent without signatures arrives; a node that does
//! not take them refuses the handshake; a peer in that mode never becomes
//! an online peer, whatever it asks.

mod log_capture;

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::mpsc::{sync_channel, SyncSender};

use log_capture::Captured;
use mydht::auth::AuthMode;
use mydht::service::PeersView;
use mydht::{GlobalCommand, LocalCommand, MyDHTConf, NodeConstants, NodeError, PeerInfo, Reply};
use mydht_base::{Result, Service, SpawnerYield};
use mydht_basetest::harness::nodes::{address_of, TIMEOUT};
use mydht_basetest::loopback_conf_items;
use serde::{Deserialize, Serialize};

#[derive(Debug)]
enum Ask {
    /// Send this note once to this address.
    Once(SocketAddr, String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Note(String);

/// Tells the test each note it gets.
struct Global<C>(SyncSender<String>, PhantomData<fn() -> C>);
mydht_base::sref_as_itself!(impl<C> for Global<C>);

impl<C: MyDHTConf<GlobalCmd = Ask, ProtoMsg = Note, ApiReply = ()>> Service for Global<C> {
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(match cmd {
            GlobalCommand::Api(qid, Ask::Once(to, text)) => match to.to_string().parse() {
                Ok(to) => Reply::Many(vec![Reply::SendOnce(to, Note(text)), Reply::Api(qid, ())]),
                Err(_) => Reply::None,
            },
            GlobalCommand::Distant(_, Note(text)) => {
                let _ = self.0.try_send(text);
                Reply::None
            }
            GlobalCommand::PeerStatus(..)
            | GlobalCommand::DialFailed(..)
            | GlobalCommand::SendOnceFailed(..) => Reply::None,
        })
    }
}

struct Local<C>(PhantomData<fn() -> C>);

impl<C: MyDHTConf<ProtoMsg = Note>> Service for Local<C> {
    type CommandIn = LocalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(Reply::Global(cmd.from, cmd.msg))
    }
}

/// A node in `auth_mode`, whose send-once connections are in `once`; it
/// tells `notes` what it receives and logs into `log`.
struct Node {
    auth_mode: AuthMode,
    once: AuthMode,
    notes: SyncSender<String>,
    log: Captured,
}

impl MyDHTConf for Node {
    loopback_conf_items!();
    type ProtoMsg = Note;
    type GlobalCmd = Ask;
    type ApiReply = ();
    type GlobalService = Global<Node>;
    type LocalService = Local<Node>;
    mydht::threaded!();

    fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Global<Node>> {
        Ok(Global(self.notes.clone(), PhantomData))
    }
    fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<Local<Node>> {
        Ok(Local(PhantomData))
    }
    fn constants(&self) -> NodeConstants {
        NodeConstants {
            auth_mode: self.auth_mode,
            send_once_auth: self.once,
            ..NodeConstants::default()
        }
    }
    fn logger(&self) -> slog::Logger {
        self.log.logger()
    }
}

/// A started node and what it receives and logs.
fn node(
    auth_mode: AuthMode,
    once: AuthMode,
) -> (
    mydht::NodeHandle<Node>,
    std::sync::mpsc::Receiver<String>,
    Captured,
) {
    let (notes, received) = sync_channel(16);
    let log = Captured::new();
    let conf = Node {
        auth_mode,
        once,
        notes,
        log: log.clone(),
    };
    (mydht::start_loop(conf).expect("node"), received, log)
}

#[test]
fn an_unauthenticated_send_once_message_arrives_and_no_peer_goes_online() {
    let (a, _, _) = node(AuthMode::Signed, AuthMode::NoAuth);
    let (b, b_notes, _) = node(AuthMode::Signed, AuthMode::NoAuth);
    let to_b = address_of(&b).expect("address");
    a.query(Ask::Once(to_b, "unsigned".into()), 1, TIMEOUT)
        .expect("sent");
    assert_eq!(b_notes.recv_timeout(TIMEOUT).expect("note"), "unsigned");
    assert!(a.connected_peers(TIMEOUT).expect("peers").is_empty());
    assert!(b.connected_peers(TIMEOUT).expect("peers").is_empty());
    a.stop().expect("stop");
    b.stop().expect("stop");
}

#[test]
fn a_node_that_takes_only_signed_connections_refuses_an_unsigned_send_once() {
    let (a, _, _) = node(AuthMode::Signed, AuthMode::NoAuth);
    let (c, c_notes, c_log) = node(AuthMode::Signed, AuthMode::Signed);
    let to_c = address_of(&c).expect("address");
    a.query(Ask::Once(to_c, "refused".into()), 1, TIMEOUT)
        .expect("sent");
    // The refusal itself: c drops the connection for its mode.
    let refused = c_log.wait_for(TIMEOUT, |l| {
        l.contains("connection dropped") && l.contains("another authentication mode")
    });
    assert!(refused.is_some(), "no refusal logged: {:?}", c_log.lines());
    assert!(c_notes.try_recv().is_err(), "the unsigned note was taken");
    a.stop().expect("stop");
    c.stop().expect("stop");
}

#[test]
fn a_peer_in_the_unsigned_mode_never_goes_online() {
    // e's every connection is unsigned; b takes unsigned connections for
    // send-once messages only.
    let (e, _, _) = node(AuthMode::NoAuth, AuthMode::NoAuth);
    let (b, _, _) = node(AuthMode::Signed, AuthMode::NoAuth);
    let to_b = address_of(&b).expect("address");
    match e.connect(to_b, TIMEOUT) {
        Err(NodeError::Timeout(_)) | Err(NodeError::Rejected(_)) => {}
        other => panic!("an unsigned peer was admitted: {other:?}"),
    }
    assert!(b.connected_peers(TIMEOUT).expect("peers").is_empty());
    e.stop().expect("stop");
    b.stop().expect("stop");
}
