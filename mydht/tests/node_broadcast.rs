//! Services see the node's online peers (`PeersView`) and reach them all
//! (`Reply::Broadcast`) or a chosen set (`Reply::SendTo`).

use std::time::Duration;

use mydht::service::PeersView;
use mydht::{GlobalCommand, LocalCommand, MyDHTConf, PeerId, PeerInfo, QueryId, Reply};
use mydht_base::{Peer, Result, Service, SpawnerYield};
use mydht_basetest::harness::nodes::{connect, start_nodes, stop_all, TIMEOUT};
use mydht_basetest::loopback_conf_items;
use serde::{Deserialize, Serialize};

/// What the application asks its node.
#[derive(Debug, Clone)]
enum Ask {
    /// Hello to every online peer; each answers once.
    HelloAll,
    /// Hello to these peers only.
    HelloSome(Vec<PeerId>),
    /// The online peers as the global service sees them.
    Peers,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// Peer `0` answered a hello.
    Hello(PeerId),
    /// The global service's view.
    Peers(Vec<PeerId>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Msg {
    Hello(QueryId),
    Back(QueryId),
}

struct Global(PeersView);

impl Service for Global {
    type CommandIn = GlobalCommand<Fanout>;
    type CommandOut = Reply<Fanout>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: GlobalCommand<Fanout>,
        _: &mut Y,
    ) -> Result<Reply<Fanout>> {
        Ok(match cmd {
            GlobalCommand::Api(qid, Ask::HelloAll) => Reply::Broadcast(Msg::Hello(qid)),
            GlobalCommand::Api(qid, Ask::HelloSome(ids)) => Reply::SendTo(ids, Msg::Hello(qid)),
            GlobalCommand::Api(qid, Ask::Peers) => Reply::Api(qid, Answer::Peers(self.0.ids())),
            _ => Reply::None,
        })
    }
}

struct Local;

impl Service for Local {
    type CommandIn = LocalCommand<Fanout>;
    type CommandOut = Reply<Fanout>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: LocalCommand<Fanout>,
        _: &mut Y,
    ) -> Result<Reply<Fanout>> {
        let from = *cmd.from.get_id();
        Ok(match cmd.msg {
            Msg::Hello(qid) => Reply::Send(from, Msg::Back(qid)),
            Msg::Back(qid) => Reply::Api(qid, Answer::Hello(from)),
        })
    }
}

struct Fanout;

impl MyDHTConf for Fanout {
    loopback_conf_items!();
    type ProtoMsg = Msg;
    type GlobalCmd = Ask;
    type ApiReply = Answer;
    type GlobalService = Global;
    type LocalService = Local;
    mydht::threaded!();

    fn init_global(&mut self, _: &PeerInfo, peers: &PeersView) -> Result<Global> {
        Ok(Global(peers.clone()))
    }
    fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<Local> {
        Ok(Local)
    }
}

fn sorted(mut ids: Vec<PeerId>) -> Vec<PeerId> {
    ids.sort();
    ids
}

/// Hellos answered within a short wait (one more than could come, so a
/// second answer from a peer would show).
fn hellos(node: &mydht::NodeHandle<Fanout>, ask: Ask, most: usize) -> Vec<PeerId> {
    let got = node
        .query_partial(ask, most + 1, Duration::from_secs(1))
        .expect("hellos");
    let ids = got.replies.into_iter().map(|a| match a {
        Answer::Hello(id) => id,
        other => panic!("not a hello: {other:?}"),
    });
    sorted(ids.collect())
}

#[test]
fn a_broadcast_reaches_every_online_peer_once_and_the_view_follows() {
    let nodes = start_nodes(4, || Fanout).expect("nodes");
    let ids: Vec<PeerId> = nodes.iter().map(|n| *n.local_peer().get_id()).collect();
    let view =
        |n: &mydht::NodeHandle<Fanout>| match &n.query(Ask::Peers, 1, TIMEOUT).expect("view")[..] {
            [Answer::Peers(p)] => p.clone(),
            other => panic!("not a view: {other:?}"),
        };
    assert_eq!(view(&nodes[0]), Vec::<PeerId>::new());
    for other in &nodes[1..] {
        connect(&nodes[0], other).expect("connect");
    }
    assert_eq!(view(&nodes[0]), sorted(ids[1..].to_vec()));

    // Every online peer answers once.
    assert_eq!(
        hellos(&nodes[0], Ask::HelloAll, 3),
        sorted(ids[1..].to_vec())
    );
    // A chosen set, one named twice and one not connected: each online one
    // once.
    let stranger = PeerId::from([0x33; 32]);
    let some = Ask::HelloSome(vec![ids[3], ids[1], ids[3], stranger]);
    assert_eq!(hellos(&nodes[0], some, 2), sorted(vec![ids[1], ids[3]]));

    // A peer that leaves leaves the view, and the broadcast.
    nodes[0]
        .disconnect(&ids[2], TIMEOUT)
        .expect("disconnect")
        .expect("was connected");
    assert_eq!(view(&nodes[0]), sorted(vec![ids[1], ids[3]]));
    assert_eq!(
        hellos(&nodes[0], Ask::HelloAll, 2),
        sorted(vec![ids[1], ids[3]])
    );
    stop_all(nodes).expect("stop");
}
