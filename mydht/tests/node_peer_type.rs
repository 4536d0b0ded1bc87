//! A configuration's own peer type (`MyDHTConf::Peer`): made once per
//! authenticated peer from its `PeerInfo`, then shared by every service
//! through the peer reference (`ArcRef` under `threaded!`): the global
//! service is told about the same peer, the same allocation, as the
//! connection's read and local services.

use std::borrow::Borrow;
use std::sync::atomic::{AtomicUsize, Ordering};

use mydht::service::PeersView;
use mydht::{GlobalCommand, LocalCommand, MyDHTConf, PeerId, PeerInfo, PeerStatus, QueryId, Reply};
use mydht_base::peer::X25519_PUBLIC_KEY_LEN;
use mydht_base::{ArcRef, Peer, Result, Service, SpawnerYield};
use mydht_basetest::harness::nodes::{connect, start_nodes, stop_all, TIMEOUT};
use mydht_basetest::loopback_conf_items;
use serde::{Deserialize, Serialize};

/// How many `CountedPeer`s were made (this file's only test reads it).
static MADE: AtomicUsize = AtomicUsize::new(0);

/// A peer with what the application derives once per peer: here, the
/// order in which it was made.
#[derive(Debug, Clone)]
struct CountedPeer {
    info: PeerInfo,
    nth: usize,
}

impl From<PeerInfo> for CountedPeer {
    fn from(info: PeerInfo) -> Self {
        let nth = MADE.fetch_add(1, Ordering::SeqCst);
        CountedPeer { info, nth }
    }
}

impl Borrow<PeerInfo> for CountedPeer {
    fn borrow(&self) -> &PeerInfo {
        &self.info
    }
}

impl Peer for CountedPeer {
    type Id = PeerId;
    type Address = String;
    fn get_id(&self) -> &PeerId {
        self.info.get_id()
    }
    fn get_address(&self) -> &String {
        self.info.get_address()
    }
    fn tunnel_public_key(&self) -> &[u8; X25519_PUBLIC_KEY_LEN] {
        self.info.tunnel_public_key()
    }
}

#[derive(Debug)]
struct Ask(PeerId);

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Msg {
    Ping(QueryId),
    Pong(QueryId),
}

/// Which peer ponged, and whether the global service holds that very peer
/// from its online event.
#[derive(Debug)]
struct Answer {
    nth: usize,
    same_as_online: bool,
}

struct Global {
    online: Vec<ArcRef<CountedPeer>>,
}

impl Service for Global {
    type CommandIn = GlobalCommand<Counted>;
    type CommandOut = Reply<Counted>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: GlobalCommand<Counted>,
        _: &mut Y,
    ) -> Result<Reply<Counted>> {
        Ok(match cmd {
            GlobalCommand::Api(qid, Ask(to)) => Reply::Send(to, Msg::Ping(qid)),
            GlobalCommand::PeerStatus(peer, PeerStatus::Online) => {
                self.online.push(peer);
                Reply::None
            }
            GlobalCommand::PeerStatus(..) => Reply::None,
            GlobalCommand::Distant(from, Msg::Pong(qid)) => {
                let same_as_online = self.online.iter().any(|p| ArcRef::ptr_eq(p, &from));
                let nth = from.nth;
                Reply::Api(
                    qid,
                    Answer {
                        nth,
                        same_as_online,
                    },
                )
            }
            GlobalCommand::Distant(..)
            | GlobalCommand::DialFailed(..)
            | GlobalCommand::SendOnceFailed(..) => Reply::None,
        })
    }
}

struct Local;

impl Service for Local {
    type CommandIn = LocalCommand<Counted>;
    type CommandOut = Reply<Counted>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: LocalCommand<Counted>,
        _: &mut Y,
    ) -> Result<Reply<Counted>> {
        Ok(match cmd.msg {
            Msg::Ping(qid) => Reply::Send(*cmd.from.get_id(), Msg::Pong(qid)),
            pong => Reply::Global(cmd.from, pong),
        })
    }
}

struct Counted;

impl MyDHTConf for Counted {
    loopback_conf_items!();
    type ProtoMsg = Msg;
    type GlobalCmd = Ask;
    type ApiReply = Answer;
    type GlobalService = Global;
    type LocalService = Local;
    mydht::threaded!(peer: CountedPeer;);

    fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Global> {
        Ok(Global { online: Vec::new() })
    }
    fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<Local> {
        Ok(Local)
    }
}

#[test]
fn a_configured_peer_type_is_made_once_per_peer_and_shared_by_the_services() {
    let nodes = start_nodes(2, || Counted).expect("nodes");
    let peer = connect(&nodes[0], &nodes[1]).expect("connect");
    for _ in 0..3 {
        let answers = nodes[0]
            .query(Ask(*peer.get_id()), 1, TIMEOUT)
            .expect("answer");
        let [answer] = answers.as_slice() else {
            panic!("one answer expected: {answers:?}");
        };
        assert!(answer.same_as_online, "{answer:?}");
        assert!(answer.nth < 2, "{answer:?}");
    }
    // One per node for its one peer, however many messages went by.
    assert_eq!(MADE.load(Ordering::SeqCst), 2);
    stop_all(nodes).expect("stop");
}
