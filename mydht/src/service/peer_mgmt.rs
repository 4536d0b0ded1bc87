//! [`PeerMgmtService`]: peer management as a service. The main loop asks it
//! for a [`PeerVerdict`] on every authenticated peer and does not wait for
//! the answer: the connection stays awaiting its verdict (until
//! [`NodeConstants::verdict_timeout`](crate::NodeConstants::verdict_timeout),
//! then it is rejected) and the verdict is applied when it comes back. A
//! [`PeerManager::fixed_verdict`] is applied by the main loop itself.

use std::marker::PhantomData;
use std::ops::Deref;

use mydht_base::{Result, SRef, SToRef, Service, SpawnerYield};

use crate::command::{ConnRef, MainLoopCommand, ToMainLoop};
use crate::conf::{MyDHTConf, PeerVerdict};
use crate::identity::PeerInfo;
use crate::node_peer::{info_of, NodePeer};

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

/// What the main loop tells peer management; `P` is the configuration's
/// peer reference ([`MyDHTConf::PeerRef`]).
#[derive(Debug)]
pub enum PeerMgmtCommand<P> {
    /// Decide on `peer`, authenticated on `conn`: answered with a
    /// [`PeerMgmtReply::Verdict`] for `conn`.
    Accept {
        /// The connection awaiting the verdict.
        conn: ConnRef,
        /// The authenticated peer.
        peer: P,
    },
    /// An accepted peer is online.
    PeerOnline(P),
    /// A peer went offline.
    PeerOffline(P),
}

/// The sendable form of a [`PeerMgmtCommand`], for peer management on
/// another thread than the main loop with a peer reference that is not
/// `Send` (`ThreadParkRef` and `MpscChannelRef`).
#[derive(Debug)]
pub enum PeerMgmtCommandSend<P: SRef> {
    /// [`PeerMgmtCommand::Accept`], sendable.
    Accept {
        /// The connection awaiting the verdict.
        conn: ConnRef,
        /// The authenticated peer, sendable.
        peer: P::Send,
    },
    /// [`PeerMgmtCommand::PeerOnline`], sendable.
    PeerOnline(P::Send),
    /// [`PeerMgmtCommand::PeerOffline`], sendable.
    PeerOffline(P::Send),
}

impl<P: SRef> SRef for PeerMgmtCommand<P> {
    type Send = PeerMgmtCommandSend<P>;
    fn get_sendable(self) -> PeerMgmtCommandSend<P> {
        match self {
            PeerMgmtCommand::Accept { conn, peer } => PeerMgmtCommandSend::Accept {
                conn,
                peer: peer.get_sendable(),
            },
            PeerMgmtCommand::PeerOnline(p) => PeerMgmtCommandSend::PeerOnline(p.get_sendable()),
            PeerMgmtCommand::PeerOffline(p) => PeerMgmtCommandSend::PeerOffline(p.get_sendable()),
        }
    }
}

impl<P: SRef> SToRef<PeerMgmtCommand<P>> for PeerMgmtCommandSend<P> {
    fn to_ref(self) -> PeerMgmtCommand<P> {
        match self {
            PeerMgmtCommandSend::Accept { conn, peer } => PeerMgmtCommand::Accept {
                conn,
                peer: peer.to_ref(),
            },
            PeerMgmtCommandSend::PeerOnline(p) => PeerMgmtCommand::PeerOnline(p.to_ref()),
            PeerMgmtCommandSend::PeerOffline(p) => PeerMgmtCommand::PeerOffline(p.to_ref()),
        }
    }
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
/// ([`MyDHTConf::PeerMgmtSpawn`](crate::MyDHTConf::PeerMgmtSpawn)), told
/// about peers as `P`, the configuration's peer reference.
pub struct PeerMgmtService<P> {
    me: PeerInfo,
    manager: Box<dyn PeerManager>,
    // `fn(P)`: the service takes `P`s but holds none, so it is `Send`
    // whatever `P` is.
    _peer: PhantomData<fn(P)>,
}

impl<P> PeerMgmtService<P> {
    /// Peer management of the node `me`, decided by `manager`.
    pub fn new(me: PeerInfo, manager: Box<dyn PeerManager>) -> Self {
        PeerMgmtService {
            me,
            manager,
            _peer: PhantomData,
        }
    }
}

impl<P: Deref<Target: NodePeer>> Service for PeerMgmtService<P> {
    type CommandIn = PeerMgmtCommand<P>;
    type CommandOut = PeerMgmtReply;

    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: PeerMgmtCommand<P>,
        _: &mut Y,
    ) -> Result<PeerMgmtReply> {
        Ok(match cmd {
            PeerMgmtCommand::Accept { conn, peer } => PeerMgmtReply::Verdict {
                conn,
                verdict: self.manager.accept(&self.me, info_of(&*peer)),
            },
            PeerMgmtCommand::PeerOnline(p) => {
                self.manager.online(info_of(&*p));
                PeerMgmtReply::None
            }
            PeerMgmtCommand::PeerOffline(p) => {
                self.manager.offline(info_of(&*p));
                PeerMgmtReply::None
            }
        })
    }
}

// Holds no peer reference: crosses threads as itself (for `ThreadParkRef`).
impl<P: 'static> SRef for PeerMgmtService<P> {
    type Send = Self;
    fn get_sendable(self) -> Self {
        self
    }
}

impl<P: 'static> SToRef<PeerMgmtService<P>> for PeerMgmtService<P> {
    fn to_ref(self) -> Self {
        self
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
