//! The freedom to mix: a node whose services share the main loop's thread
//! and hold peers as `RcRef` (`restartable!`), but whose global service runs
//! on a thread of its own (`ThreadParkRef` + `MpscChannelRef`). Peers reach
//! that thread in their sendable form and are `Rc`s again there; the global
//! service keeps them across commands; its replies cross back to the loop.
//! And a `threaded!` node whose peers are cloned where shared (`CloneRef`)
//! with a one-thread node: the peer reference is each node's own business.

use std::thread;

use mydht::service::PeersView;
use mydht::{GlobalCommand, LocalCommand, MyDHTConf, PeerId, PeerInfo, PeerStatus, QueryId, Reply};
use mydht_base::{Peer, RcRef, Result, Service, SpawnerYield};
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::{connect, start_nodes, stop_all, touch_pair, TIMEOUT};
use mydht_basetest::{loopback_conf_items, touch_conf, touch_conf_items};
use mydht_tcp::TcpTransport;
use serde::{Deserialize, Serialize};

/// Ask a connected peer for a pong.
#[derive(Debug)]
struct Ask(PeerId);

/// What the nodes send each other; `Forwarded` is the local service's
/// hand-over to the global service (never on the wire).
#[derive(Debug, Clone, Serialize, Deserialize)]
enum RelayMsg {
    Ping(QueryId),
    Pong(QueryId),
    Forwarded(QueryId, String),
}

/// The answer to an [`Ask`]: who ponged, where each service ran, whom the
/// global service holds as online.
#[derive(Debug)]
struct Answer {
    from: PeerId,
    local_thread: String,
    global_thread: String,
    online: Vec<PeerId>,
}

fn thread_name() -> String {
    format!("{:?}", thread::current().id())
}

mydht_base::sref_struct! {
    /// The global service: the peers online, as the `Rc`s it was given on
    /// its thread.
    struct RelayGlobal => RelayGlobalSend {
        online: Vec<RcRef<PeerInfo>>,
    }
}

impl Service for RelayGlobal {
    type CommandIn = GlobalCommand<Mixed>;
    type CommandOut = Reply<Mixed>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: GlobalCommand<Mixed>,
        _: &mut Y,
    ) -> Result<Reply<Mixed>> {
        Ok(match cmd {
            GlobalCommand::Api(qid, Ask(to)) => Reply::Send(to, RelayMsg::Ping(qid)),
            GlobalCommand::PeerStatus(peer, PeerStatus::Online) => {
                self.online.push(peer);
                Reply::None
            }
            GlobalCommand::PeerStatus(peer, PeerStatus::Offline) => {
                self.online.retain(|p| p.get_id() != peer.get_id());
                Reply::None
            }
            GlobalCommand::Distant(from, RelayMsg::Forwarded(qid, local_thread)) => {
                let online = self.online.iter().map(|p| *p.get_id()).collect();
                let answer = Answer {
                    from: *from.get_id(),
                    local_thread,
                    global_thread: thread_name(),
                    online,
                };
                Reply::Api(qid, answer)
            }
            GlobalCommand::Distant(..)
            | GlobalCommand::DialFailed(..)
            | GlobalCommand::SendOnceFailed(..) => Reply::None,
        })
    }
}

/// The local service: answers pings, forwards pongs with their sender.
struct RelayLocal;

impl Service for RelayLocal {
    type CommandIn = LocalCommand<Mixed>;
    type CommandOut = Reply<Mixed>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: LocalCommand<Mixed>,
        _: &mut Y,
    ) -> Result<Reply<Mixed>> {
        Ok(match cmd.msg {
            RelayMsg::Ping(qid) => Reply::Send(*cmd.from.get_id(), RelayMsg::Pong(qid)),
            RelayMsg::Pong(qid) => Reply::Global(cmd.from, RelayMsg::Forwarded(qid, thread_name())),
            RelayMsg::Forwarded(..) => Reply::None,
        })
    }
}

/// `restartable!` with the global service on its own thread.
struct Mixed;

impl MyDHTConf for Mixed {
    loopback_conf_items!();
    type ProtoMsg = RelayMsg;
    type GlobalCmd = Ask;
    type ApiReply = Answer;
    type GlobalService = RelayGlobal;
    type LocalService = RelayLocal;
    mydht::restartable!(global: ThreadParkRef, MpscChannelRef;);

    fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<RelayGlobal> {
        Ok(RelayGlobal { online: Vec::new() })
    }
    fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<RelayLocal> {
        Ok(RelayLocal)
    }
}

#[test]
fn restartable_node_with_its_global_service_on_a_thread_serves() {
    let nodes = start_nodes(2, || Mixed).expect("nodes");
    let peer = connect(&nodes[0], &nodes[1]).expect("connect");
    let id = *peer.get_id();
    for _ in 0..3 {
        let answers = nodes[0].query(Ask(id), 1, TIMEOUT).expect("answer");
        let [answer] = answers.as_slice() else {
            panic!("one answer expected: {answers:?}");
        };
        // The peer came from the read service (loop thread) through the
        // local service and the loop to the global service's thread.
        assert_eq!(answer.from, id);
        assert_ne!(answer.local_thread, answer.global_thread);
        // The online event reached the global thread before the query.
        assert_eq!(answer.online, vec![id]);
    }
    stop_all(nodes).expect("stop");
}

/// The touch app under `threaded!`, its peers cloned where shared.
struct ClonedPeers;

impl MyDHTConf for ClonedPeers {
    touch_conf_items!(threaded(peer_ref: CloneRef;), TcpTransport);

    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
}

touch_conf!(OneThread, restartable, TcpTransport, loopback());

#[test]
fn a_threaded_node_cloning_its_peers_and_a_one_thread_node_touch() {
    touch_pair(ClonedPeers, OneThread);
}
