//! [`PeerMgmtService`]: peer management as a service. The main loop asks it
//! for a [`PeerVerdict`] on every authenticated peer and does not wait for
//! the answer: the connection stays awaiting its verdict (until
//! [`NodeConstants::verdict_timeout`](crate::NodeConstants::verdict_timeout),
//! then it is rejected) and the verdict is applied when it comes back. A
//! [`PeerManager::fixed_verdict`] is applied by the main loop itself.

use mydht_base::{Result, Service, SpawnerYield};

use crate::conf::{MyDHTConf, PeerVerdict};
use crate::identity::PeerInfo;
use crate::mainloop::{ConnRef, MainLoopCommand, ToMainLoop};

/// The application's peer management: what [`PeerMgmtService`] runs.
/// A closure `FnMut(&PeerInfo, &PeerInfo) -> PeerVerdict` (the node, the
/// peer) is one.
pub trait PeerManager: Send + 'static {
    /// The verdict on `peer`, just authenticated by the node `me`.
    fn accept(&mut self, me: &PeerInfo, peer: &PeerInfo) -> PeerVerdict;
    /// The verdict on every peer, when it does not depend on the peer: the
    /// main loop then applies it at once, without a round trip to the
    /// service (`accept` is not called; `online` and `offline` still are).
    fn fixed_verdict(&self) -> Option<PeerVerdict> {
        None
    }
    /// An accepted peer's services run.
    fn online(&mut self, peer: &PeerInfo) {
        let _ = peer;
    }
    /// An accepted peer's last connection ended.
    fn offline(&mut self, peer: &PeerInfo) {
        let _ = peer;
    }
}

impl<F> PeerManager for F
where
    F: FnMut(&PeerInfo, &PeerInfo) -> PeerVerdict + Send + 'static,
{
    fn accept(&mut self, me: &PeerInfo, peer: &PeerInfo) -> PeerVerdict {
        self(me, peer)
    }
}

/// The default peer management: every peer is accepted, priority 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptAll;

impl PeerManager for AcceptAll {
    fn accept(&mut self, _: &PeerInfo, _: &PeerInfo) -> PeerVerdict {
        PeerVerdict::Accept
    }

    fn fixed_verdict(&self) -> Option<PeerVerdict> {
        Some(PeerVerdict::Accept)
    }
}

/// What the main loop tells peer management.
#[derive(Debug)]
pub enum PeerMgmtCommand {
    /// Decide on `peer`, authenticated on `conn`: answered with a
    /// [`PeerMgmtReply::Verdict`] for `conn`.
    Accept {
        /// The connection awaiting the verdict.
        conn: ConnRef,
        /// The authenticated peer.
        peer: PeerInfo,
    },
    /// An accepted peer is online.
    PeerOnline(PeerInfo),
    /// A peer went offline.
    PeerOffline(PeerInfo),
}

/// What peer management answers.
#[derive(Debug)]
pub enum PeerMgmtReply {
    /// Nothing (status commands).
    None,
    /// The verdict for the connection awaiting it.
    Verdict {
        /// The connection of the [`PeerMgmtCommand::Accept`].
        conn: ConnRef,
        /// What to do with it.
        verdict: PeerVerdict,
    },
}

impl<C: MyDHTConf> ToMainLoop<C> for PeerMgmtReply {
    fn to_main_loop(self) -> Option<MainLoopCommand<C>> {
        match self {
            PeerMgmtReply::None => None,
            PeerMgmtReply::Verdict { conn, verdict } => {
                Some(MainLoopCommand::Verdict { conn, verdict })
            }
        }
    }
    fn back(cmd: MainLoopCommand<C>) -> Self {
        match cmd {
            MainLoopCommand::Verdict { conn, verdict } => PeerMgmtReply::Verdict { conn, verdict },
            _ => PeerMgmtReply::None,
        }
    }
}

/// Peer management run by the spawner of the configuration
/// ([`MyDHTConf::PeerMgmtSpawn`](crate::MyDHTConf::PeerMgmtSpawn)).
pub struct PeerMgmtService {
    me: PeerInfo,
    manager: Box<dyn PeerManager>,
}

impl PeerMgmtService {
    /// Peer management of the node `me`, decided by `manager`.
    pub fn new(me: PeerInfo, manager: Box<dyn PeerManager>) -> Self {
        PeerMgmtService { me, manager }
    }
}

impl Service for PeerMgmtService {
    type CommandIn = PeerMgmtCommand;
    type CommandOut = PeerMgmtReply;

    fn call<Y: SpawnerYield>(&mut self, cmd: PeerMgmtCommand, _: &mut Y) -> Result<PeerMgmtReply> {
        Ok(match cmd {
            PeerMgmtCommand::Accept { conn, peer } => PeerMgmtReply::Verdict {
                conn,
                verdict: self.manager.accept(&self.me, &peer),
            },
            PeerMgmtCommand::PeerOnline(p) => {
                self.manager.online(&p);
                PeerMgmtReply::None
            }
            PeerMgmtCommand::PeerOffline(p) => {
                self.manager.offline(&p);
                PeerMgmtReply::None
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `AcceptAll` skips the round trip; a closure, which may judge each
    /// peer, is always asked.
    #[test]
    fn only_peer_independent_managers_have_a_fixed_verdict() {
        assert_eq!(AcceptAll.fixed_verdict(), Some(PeerVerdict::Accept));
        let closure = |_: &PeerInfo, _: &PeerInfo| PeerVerdict::Reject;
        assert_eq!(PeerManager::fixed_verdict(&closure), None);
    }
}
