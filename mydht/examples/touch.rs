//! Two nodes on loopback: node 1 connects to node 2 and touches it.
//!
//! `cargo run -p mydht --example touch`
//!
//! The whole application: what a query asks (`Touch`), what peers send each
//! other (`TouchMsg`), what a query answers (`Touched`), the node's shared
//! service (`Global`), the service of each connection (`Local`), and the
//! configuration that names them (`TouchNode`).

use std::time::Duration;

use mydht::prelude::*;
use serde::{Deserialize, Serialize};

/// What the application asks its node: touch this peer.
#[derive(Debug, Clone)]
struct Touch(PeerId);

/// What peers send each other.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum TouchMsg {
    /// Please answer query `qid` of the sender.
    Touch(QueryId),
    /// The answer to query `qid`.
    Touched(QueryId),
}

/// One reply of a query: which peer answered.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Touched(PeerId);

/// The node's shared service: answers for this node, and asks the peer.
struct Global(PeerId);

impl Service for Global {
    type CommandIn = GlobalCommand<TouchNode>;
    type CommandOut = Reply<TouchNode>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: Self::CommandIn,
        _: &mut Y,
    ) -> Result<Self::CommandOut> {
        Ok(match cmd {
            GlobalCommand::Api(qid, Touch(to)) => Reply::Many(vec![
                Reply::Api(qid, Touched(self.0)),
                Reply::Send(to, TouchMsg::Touch(qid)),
            ]),
            _ => Reply::None,
        })
    }
}

/// The service of one connection: answers the peer's touches, gives the
/// peer's answers to the query.
struct Local;

impl Service for Local {
    type CommandIn = LocalCommand<TouchNode>;
    type CommandOut = Reply<TouchNode>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: Self::CommandIn,
        _: &mut Y,
    ) -> Result<Self::CommandOut> {
        let from = *cmd.from.get_id();
        Ok(match cmd.msg {
            TouchMsg::Touch(qid) => Reply::Send(from, TouchMsg::Touched(qid)),
            TouchMsg::Touched(qid) => Reply::Api(qid, Touched(from)),
        })
    }
}

/// The node: TCP on loopback, Bincode, the session shadow
/// (`default_components!`), every service on its own thread
/// (`threaded!`). The profile line is the whole switch: `restartable!()`
/// runs the same node on one thread.
struct TouchNode;

impl MyDHTConf for TouchNode {
    mydht::default_components!(loopback);
    type ProtoMsg = TouchMsg;
    type GlobalCmd = Touch;
    type ApiReply = Touched;
    type GlobalService = Global;
    type LocalService = Local;
    mydht::threaded!();

    fn init_global(&mut self, me: &PeerInfo, _: &PeersView) -> Result<Global> {
        Ok(Global(*me.get_id()))
    }
    fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<Local> {
        Ok(Local)
    }
}

fn main() -> Result<()> {
    let timeout = Duration::from_secs(5);
    let n1 = start_loop(TouchNode)?;
    let n2 = start_loop(TouchNode)?;
    let address = n2.local_peer().get_address().parse().expect("node address");
    let peer2 = n1.connect(address, timeout)?;
    let replies = n1.query(Touch(*peer2.get_id()), 2, timeout)?;
    println!("touch replies: {replies:?}");
    n1.stop()?;
    n2.stop()
}
