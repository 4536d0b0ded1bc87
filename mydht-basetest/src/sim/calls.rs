//! Api calls in a simulation: what was asked of which node, and how each
//! call ended ([`CallRecord`]).

use std::time::Duration;

use mydht::command::ApiAction;
use mydht::service::{ApiResult, ReplySlot};
use mydht::{PeerCount, PeerId};
use mydht_base::{Error, Peer};

use super::node::SimConf;
use crate::transport::MemAddress;

/// Names a call in [`Sim::calls`](super::Sim::calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub usize);

/// What a call asks a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// Connect to node `n`.
    Connect(usize),
    /// Wait for a number of connected peers.
    WaitPeers(PeerCount),
    /// Find the peer with this id.
    FindPeer(PeerId),
    /// The connected peers.
    ConnectedPeers,
}

impl CallKind {
    /// The api action.
    pub(super) fn action(self) -> ApiAction<SimConf> {
        match self {
            CallKind::Connect(n) => ApiAction::Connect(MemAddress(n as u64)),
            CallKind::WaitPeers(c) => ApiAction::WaitPeers(c),
            CallKind::FindPeer(id) => ApiAction::FindPeer(id),
            CallKind::ConnectedPeers => ApiAction::ConnectedPeers,
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// A peer (a connect's, or what a find found, if anything).
    Peer(Option<PeerId>),
    /// Peers (connected, or the peers once a wait was over).
    Peers(Vec<PeerId>),
    /// Any other reply.
    Other,
    /// The call failed: its typed error.
    Failed(Error),
}

impl CallOutcome {
    /// What the node's reply slot gave.
    pub(super) fn of(result: mydht_base::Result<Vec<ApiResult<SimConf>>>) -> Self {
        match result {
            Err(e) => CallOutcome::Failed(e),
            Ok(mut replies) => match replies.pop() {
                Some(ApiResult::Peer(p)) => CallOutcome::Peer(p.map(|p| *p.get_id())),
                Some(ApiResult::Peers(ps)) => {
                    CallOutcome::Peers(ps.iter().map(|p| *p.get_id()).collect())
                }
                _ => CallOutcome::Other,
            },
        }
    }
}

/// One call: asked of `node` at `issued`, due by `deadline`.
#[derive(Debug)]
pub struct CallRecord {
    /// The node asked.
    pub node: usize,
    /// What it was asked.
    pub kind: CallKind,
    /// When (simulated time since the start).
    pub issued: Duration,
    /// When it must have ended.
    pub deadline: Duration,
    /// When it ended, and how.
    pub ended: Option<(Duration, CallOutcome)>,
    /// Where the node answers.
    pub(super) slot: ReplySlot<ApiResult<SimConf>>,
}
