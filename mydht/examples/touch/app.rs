//! The touch application: a query touches a peer, which answers; the node
//! that asked answers too. Two replies per query: one local, one that went
//! to the other peer and back.

use std::marker::PhantomData;

use mydht::{GlobalCommand, LocalCommand, MyDHTConf, PeerId, QueryId, Reply};
use mydht_base::{Peer, Result, Service, SpawnerYield};
use serde::{Deserialize, Serialize};

/// What the application asks its node: touch this peer.
#[derive(Debug, Clone)]
pub struct Touch(pub PeerId);

/// What peers send each other.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum TouchMsg {
    /// Please answer query `qid` of the sender.
    Touch(QueryId),
    /// Answer to query `qid`, from the peer with this id.
    Touched(QueryId, [u8; 32]),
}

/// One reply: which peer answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touched(pub PeerId);

/// The application's global service: answers for this node and forwards.
pub struct TouchGlobal<C>(pub PeerId, pub PhantomData<fn() -> C>);

// Holds no peer reference: may run on a thread of its own in any profile
// (`ThreadParkRef`), which moves it there as it is.
mydht_base::sref_as_itself!(impl<C> for TouchGlobal<C>);

/// The application's per-connection service: answers touches, hands
/// answers to the api.
pub struct TouchLocal<C>(pub PeerId, pub PhantomData<fn() -> C>);

impl<C: MyDHTConf<GlobalCmd = Touch, ProtoMsg = TouchMsg, ApiReply = Touched>> Service
    for TouchGlobal<C>
{
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(match cmd {
            GlobalCommand::Api(qid, Touch(to)) => Reply::Many(vec![
                Reply::Api(qid, Touched(self.0)),
                Reply::Send(to, TouchMsg::Touch(qid)),
            ]),
            _ => Reply::None,
        })
    }
}

impl<C: MyDHTConf<GlobalCmd = Touch, ProtoMsg = TouchMsg, ApiReply = Touched>> Service
    for TouchLocal<C>
{
    type CommandIn = LocalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(match cmd.msg {
            TouchMsg::Touch(qid) => Reply::Send(
                *cmd.from.get_id(),
                TouchMsg::Touched(qid, *self.0.as_bytes()),
            ),
            TouchMsg::Touched(qid, by) => Reply::Api(qid, Touched(PeerId::from(by))),
        })
    }
}
