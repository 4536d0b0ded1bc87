//! First contacts between live nodes on loopback TCP (`restartable!`): a
//! node that never met its peer, given the peer's `PeerInfo` (its key
//! binding in it), dials it known-key (`Reply::SendOnceTo`,
//! `Reply::ConnectTo`); the baseline dials the peer's address
//! (`Reply::SendOnce`, `Reply::Connect`): the signed handshake. Each
//! iteration has a fresh dialler (made and stopped outside the timed part)
//! and a long-lived acceptor that never saw it: both sides pay their
//! first-contact costs (the binding checks, the static-static secrets).
//! The baseline's nodes have `known_key` off: a fresh dialler may get the
//! port of an earlier one, which the acceptor would otherwise dial
//! known-key (and see refused) for its answer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mydht::service::PeersView;
use mydht::{
    GlobalCommand, LocalCommand, MyDHTConf, NodeConstants, NodeHandle, PeerCount, PeerInfo,
    QueryId, Reply,
};
use mydht_base::{Peer, Result, Service, SpawnerYield};
use mydht_basetest::loopback_conf_items;
use serde::{Deserialize, Serialize};

const TIMEOUT: Duration = Duration::from_secs(10);

/// What the bench asks a node.
#[derive(Debug, Clone)]
pub enum Ask {
    /// Ping this peer on a send-once connection, known-key.
    PingTo(PeerInfo),
    /// Ping whoever listens at this address on a send-once connection,
    /// signed.
    PingAt(SocketAddr),
    /// Connect to this peer (pooled), known-key.
    ConnectTo(PeerInfo),
    /// Connect to whoever listens at this address (pooled), signed.
    ConnectAt(SocketAddr),
}

/// Between the nodes: a ping says how to answer (to the sender as the
/// flight made it known, or signed to its address).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Msg {
    /// Answer with a pong to the sender, known-key.
    PingKnown,
    /// Answer with a pong at this address, signed.
    PingSigned(SocketAddr),
    /// The answer.
    Pong,
}

/// A node of the bench; `known_key` as the constant says.
pub struct Node(bool);

/// Holds the pings waiting for their pong.
pub struct Global {
    me: SocketAddr,
    waiting: VecDeque<QueryId>,
}

impl Service for Global {
    type CommandIn = GlobalCommand<Node>;
    type CommandOut = Reply<Node>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: GlobalCommand<Node>,
        _: &mut Y,
    ) -> Result<Reply<Node>> {
        Ok(match cmd {
            GlobalCommand::Api(qid, Ask::PingTo(peer)) => {
                self.waiting.push_back(qid);
                Reply::SendOnceTo(peer, Msg::PingKnown)
            }
            GlobalCommand::Api(qid, Ask::PingAt(to)) => {
                self.waiting.push_back(qid);
                Reply::SendOnce(to, Msg::PingSigned(self.me))
            }
            GlobalCommand::Api(qid, Ask::ConnectTo(peer)) => {
                Reply::Many(vec![Reply::ConnectTo(peer), Reply::Api(qid, ())])
            }
            GlobalCommand::Api(qid, Ask::ConnectAt(to)) => {
                Reply::Many(vec![Reply::Connect(to), Reply::Api(qid, ())])
            }
            GlobalCommand::Distant(from, Msg::PingKnown) => {
                Reply::SendOnceTo((*from).clone(), Msg::Pong)
            }
            GlobalCommand::Distant(_, Msg::PingSigned(to)) => Reply::SendOnce(to, Msg::Pong),
            GlobalCommand::Distant(_, Msg::Pong) => match self.waiting.pop_front() {
                Some(qid) => Reply::Api(qid, ()),
                None => Reply::None,
            },
            _ => Reply::None,
        })
    }
}

/// Forwards every message to the global service.
pub struct Local;

impl Service for Local {
    type CommandIn = LocalCommand<Node>;
    type CommandOut = Reply<Node>;
    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<Node>, _: &mut Y) -> Result<Reply<Node>> {
        Ok(Reply::Global(cmd.from, cmd.msg))
    }
}

impl MyDHTConf for Node {
    loopback_conf_items!();
    type ProtoMsg = Msg;
    type GlobalCmd = Ask;
    type ApiReply = ();
    type GlobalService = Global;
    type LocalService = Local;
    mydht::restartable!();

    fn constants(&self) -> NodeConstants {
        NodeConstants {
            known_key: self.0,
            ..NodeConstants::default()
        }
    }
    fn init_global(&mut self, me: &PeerInfo, _: &PeersView) -> Result<Global> {
        Ok(Global {
            me: me.get_address().parse().expect("a socket address"),
            waiting: VecDeque::new(),
        })
    }
    fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<Local> {
        Ok(Local)
    }
}

/// The long-lived acceptor the fresh diallers contact.
pub struct Acceptor {
    node: NodeHandle<Node>,
    info: PeerInfo,
    address: SocketAddr,
    known_key: bool,
}

impl Acceptor {
    /// A node listening on loopback; it and its diallers dial known-key
    /// when they may if `known_key`.
    pub fn start(known_key: bool) -> Self {
        let node = mydht::start_loop(Node(known_key)).expect("node");
        let info = node.local_peer().clone();
        let address = info.get_address().parse().expect("address");
        Acceptor {
            node,
            info,
            address,
            known_key,
        }
    }

    /// `iters` first contacts, each from a fresh node; the time of `contact`
    /// alone.
    fn time(&self, iters: u64, contact: impl Fn(&NodeHandle<Node>, &Self)) -> Duration {
        let mut spent = Duration::ZERO;
        for _ in 0..iters {
            let dialler = mydht::start_loop(Node(self.known_key)).expect("node");
            let start = Instant::now();
            contact(&dialler, self);
            spent += start.elapsed();
            dialler.stop().expect("stop");
        }
        spent
    }

    /// Send-once ping and pong, two first contacts, known-key.
    pub fn ping_known(&self, iters: u64) -> Duration {
        self.time(iters, |d, to| {
            d.query(Ask::PingTo(to.info.clone()), 1, TIMEOUT)
                .expect("pong");
        })
    }

    /// Send-once ping and pong, two first contacts, signed.
    pub fn ping_signed(&self, iters: u64) -> Duration {
        self.time(iters, |d, to| {
            d.query(Ask::PingAt(to.address), 1, TIMEOUT).expect("pong");
        })
    }

    /// A pooled connection, until the dialler has its peer online,
    /// known-key.
    pub fn connect_known(&self, iters: u64) -> Duration {
        self.time(iters, |d, to| {
            d.query(Ask::ConnectTo(to.info.clone()), 1, TIMEOUT)
                .expect("asked");
            d.wait_peers(PeerCount::AtLeast(1), TIMEOUT)
                .expect("online");
        })
    }

    /// A pooled connection, until the dialler has its peer online,
    /// signed (asked the same way as [`connect_known`](Self::connect_known)).
    pub fn connect_signed(&self, iters: u64) -> Duration {
        self.time(iters, |d, to| {
            d.query(Ask::ConnectAt(to.address), 1, TIMEOUT)
                .expect("asked");
            d.wait_peers(PeerCount::AtLeast(1), TIMEOUT)
                .expect("online");
        })
    }

    /// Stops the acceptor.
    pub fn stop(self) {
        self.node.stop().expect("stop");
    }
}
