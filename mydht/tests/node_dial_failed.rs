//! A pooled dial that fails reaches the global service as
//! `GlobalCommand::DialFailed` with its address and an unreachable error,
//! so a service holding the address as a contact can forget it at once;
//! a send-once dial that fails raises no such event, and neither does a
//! dial that opens.

use std::marker::PhantomData;
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use mydht::service::PeersView;
use mydht::{
    GlobalCommand, LocalCommand, MyDHTConf, NodeError, NodeHandle, PeerInfo, PeerStatus, Reply,
};
use mydht_base::{Result, Service, SpawnerYield};
use mydht_basetest::harness::nodes::{address_of, TIMEOUT};
use mydht_basetest::loopback_conf_items;
use serde::{Deserialize, Serialize};

#[derive(Debug)]
enum Ask {
    /// Open a pooled connection to this address.
    Connect(SocketAddr),
    /// Send one note on a send-once connection to this address.
    Once(SocketAddr),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Note;

/// What the global service saw about dials.
#[derive(Debug)]
enum Seen {
    Failed(SocketAddr, NodeError),
    Online,
}

/// Tells the test the dial failures and peers online it sees.
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
        Ok(match cmd {
            GlobalCommand::Api(qid, Ask::Connect(to)) => {
                Reply::Many(vec![Reply::Connect(to), Reply::Api(qid, ())])
            }
            GlobalCommand::Api(qid, Ask::Once(to)) => {
                Reply::Many(vec![Reply::SendOnce(to, Note), Reply::Api(qid, ())])
            }
            GlobalCommand::DialFailed(address, error) => {
                let _ = self.0.try_send(Seen::Failed(address, error.into()));
                Reply::None
            }
            GlobalCommand::PeerStatus(_, PeerStatus::Online) => {
                let _ = self.0.try_send(Seen::Online);
                Reply::None
            }
            GlobalCommand::PeerStatus(..)
            | GlobalCommand::Distant(..)
            | GlobalCommand::SendOnceFailed(..) => Reply::None,
        })
    }
}

struct Local<C>(PhantomData<fn() -> C>);

impl<C: MyDHTConf<ProtoMsg = Note>> Service for Local<C> {
    type CommandIn = LocalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, _: LocalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(Reply::None)
    }
}

struct Node(SyncSender<Seen>);

impl MyDHTConf for Node {
    loopback_conf_items!();
    type ProtoMsg = Note;
    type GlobalCmd = Ask;
    type ApiReply = ();
    type GlobalService = Global<Node>;
    type LocalService = Local<Node>;
    mydht::restartable!();

    fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Global<Node>> {
        Ok(Global(self.0.clone(), PhantomData))
    }
    fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<Local<Node>> {
        Ok(Local(PhantomData))
    }
}

fn node() -> (NodeHandle<Node>, Receiver<Seen>) {
    let (tx, seen) = sync_channel(16);
    (mydht::start_loop(Node(tx)).expect("node"), seen)
}

/// An address on loopback where nothing listens (bound, then closed).
fn closed_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

#[test]
fn a_failed_pooled_dial_reaches_the_global_service_with_its_address() {
    let (a, seen) = node();
    let nowhere = closed_address();
    a.query(Ask::Connect(nowhere), 1, TIMEOUT).expect("asked");
    match seen.recv_timeout(TIMEOUT).expect("an event") {
        Seen::Failed(address, NodeError::Unreachable(_)) => assert_eq!(address, nowhere),
        other => panic!("expected the dial to {nowhere} failed unreachable, got {other:?}"),
    }
    a.stop().expect("stop");
}

#[test]
fn a_failed_send_once_dial_and_a_dial_that_opens_raise_no_dial_failure() {
    let (a, seen) = node();
    let (b, _) = node();
    // The send-once dial fails first, then the pooled dial to b opens: the
    // first event the service sees is b online, not a failure.
    a.query(Ask::Once(closed_address()), 1, TIMEOUT)
        .expect("asked");
    let to_b = address_of(&b).expect("address");
    a.query(Ask::Connect(to_b), 1, TIMEOUT).expect("asked");
    match seen.recv_timeout(TIMEOUT).expect("an event") {
        Seen::Online => {}
        other => panic!("expected b online and no dial failure, got {other:?}"),
    }
    a.stop().expect("stop");
    b.stop().expect("stop");
}
