//! Api calls in a simulation: what was asked of which node, and how each
//! call ended ([`CallRecord`]).

use std::time::Duration;

use mydht::command::ApiAction;
use mydht::service::{ApiResult, ReplySlot};
use mydht::{MyDHTConf, PeerCount, PeerId};
use mydht_base::{Error, Peer};

use super::app::SimApp;
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
    /// A command for the application's global service
    /// ([`Sim::app_call_at`](super::Sim::app_call_at)), waiting for this
    /// many replies.
    App(usize),
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// A peer (a connect's, or what a find found, if anything).
    Peer(Option<PeerId>),
    /// Peers (connected, or the peers once a wait was over).
    Peers(Vec<PeerId>),
    /// The application's replies, this many of them, in
    /// [`CallRecord::replies`].
    App(usize),
    /// Any other reply.
    Other,
    /// The call failed: its typed error.
    Failed(Error),
}

/// One call: asked of `node` at `issued`, due by `deadline`.
pub struct CallRecord<C: MyDHTConf = SimConf> {
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
    /// The application's replies of an [`CallKind::App`] call, in the
    /// order they came.
    pub replies: Vec<C::ApiReply>,
    /// The command of an [`CallKind::App`] call, until it is issued.
    pub(super) command: Option<C::GlobalCmd>,
    /// Where the node answers.
    pub(super) slot: ReplySlot<ApiResult<C>>,
}

impl<C: MyDHTConf> std::fmt::Debug for CallRecord<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallRecord")
            .field("node", &self.node)
            .field("kind", &self.kind)
            .field("issued", &self.issued)
            .field("deadline", &self.deadline)
            .field("ended", &self.ended)
            .field("replies", &self.replies)
            .finish()
    }
}

impl<C: SimApp> CallRecord<C> {
    /// A call not issued yet.
    pub(super) fn new(
        node: usize,
        kind: CallKind,
        issued: Duration,
        timeout: Duration,
        command: Option<C::GlobalCmd>,
    ) -> Self {
        let expected = match kind {
            CallKind::App(n) => n,
            _ => 1,
        };
        CallRecord {
            node,
            kind,
            issued,
            deadline: issued + timeout,
            ended: None,
            replies: Vec::new(),
            command,
            slot: ReplySlot::new(expected),
        }
    }

    /// The api action; `None` for an application call whose command was
    /// taken already.
    pub(super) fn action(&mut self) -> Option<ApiAction<C>> {
        Some(match self.kind {
            CallKind::Connect(n) => ApiAction::Connect(MemAddress(n as u64)),
            CallKind::WaitPeers(c) => ApiAction::WaitPeers(c),
            CallKind::FindPeer(id) => ApiAction::FindPeer(id),
            CallKind::ConnectedPeers => ApiAction::ConnectedPeers,
            CallKind::App(_) => ApiAction::Global(self.command.take()?),
        })
    }

    /// Notes what the node's reply slot gave.
    pub(super) fn end(&mut self, at: Duration) {
        let outcome = match self.slot.wait(Duration::ZERO) {
            Err(e) => CallOutcome::Failed(e),
            Ok(replies) if matches!(self.kind, CallKind::App(_)) => {
                self.replies = replies
                    .into_iter()
                    .filter_map(|r| match r {
                        ApiResult::App(r) => Some(r),
                        _ => None,
                    })
                    .collect();
                CallOutcome::App(self.replies.len())
            }
            Ok(mut replies) => match replies.pop() {
                Some(ApiResult::Peer(p)) => CallOutcome::Peer(p.map(|p| *p.get_id())),
                Some(ApiResult::Peers(ps)) => {
                    CallOutcome::Peers(ps.iter().map(|p| *p.get_id()).collect())
                }
                _ => CallOutcome::Other,
            },
        };
        self.ended = Some((at, outcome));
    }
}
