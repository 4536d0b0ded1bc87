//! A tunnel node whose local services record the onions they receive and,
//! if told to, tamper with the onions they relay: the tunnel services of
//! the crate wrapped in a configuration of the test's own.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use mydht::prelude::*;
use mydht::service::PeersView;
use mydht::{MyDHTConf, NodeConstants};
use mydht_tunnel::{
    Carriage, TunnelAnswer, TunnelCmd, TunnelGlobal, TunnelLocal, TunnelMsg, TunnelNode,
};
use tunnel::TunnelConfig;

use super::{Ping, PingPong};

/// What a spy saw: the length of every onion frame that reached it.
#[derive(Clone, Default)]
pub struct Seen(Arc<(Mutex<Vec<usize>>, Condvar)>);

impl Seen {
    fn push(&self, len: usize) {
        self.0 .0.lock().unwrap().push(len);
        self.0 .1.notify_all();
    }

    /// The lengths seen so far.
    pub fn lens(&self) -> Vec<usize> {
        self.0 .0.lock().unwrap().clone()
    }

    /// Waits until `n` onions were seen, at most `timeout`.
    pub fn wait(&self, n: usize, timeout: Duration) -> Vec<usize> {
        let deadline = Instant::now() + timeout;
        let mut seen = self.0 .0.lock().unwrap();
        while seen.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "saw {} onions of {n}", seen.len());
            seen = self.0 .1.wait_timeout(seen, left).unwrap().0;
        }
        seen.clone()
    }
}

/// What a spy does with the onions it relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relaying {
    /// Passes them on.
    Honest,
    /// Changes their last byte.
    Tamper,
    /// Passes nothing on (a relay gone in the middle of a tunnel).
    Drop,
}

pub struct Spy {
    node: TunnelNode<PingPong, mydht_tunnel::Threaded>,
    seen: Seen,
    relaying: Relaying,
}

impl Spy {
    pub fn new(config: TunnelConfig, carriage: Carriage, relaying: Relaying) -> (Self, Seen) {
        let seen = Seen::default();
        let node = TunnelNode::new(PingPong { config, carriage });
        (
            Spy {
                node,
                seen: seen.clone(),
                relaying,
            },
            seen,
        )
    }
}

/// The crate's local service, watched.
pub struct SpyLocal {
    inner: TunnelLocal<Spy, PingPong>,
    seen: Seen,
    relaying: Relaying,
}

impl Service for SpyLocal {
    type CommandIn = LocalCommand<Spy>;
    type CommandOut = Reply<Spy>;
    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<Spy>, yld: &mut Y) -> Result<Reply<Spy>> {
        match &cmd.msg {
            TunnelMsg::Onion { onion, .. } => self.seen.push(onion.len()),
            TunnelMsg::Stream { header, .. } => self.seen.push(header.len()),
            TunnelMsg::Report { .. } => {}
        }
        let reply = self.inner.call(cmd, yld)?;
        Ok(match (reply, self.relaying) {
            // A relay that changes the last byte of what it passes on (in
            // the last cell: the next hop's tag covers it).
            (Reply::SendOnce(to, TunnelMsg::Onion { link, mut onion }), Relaying::Tamper) => {
                if let Some(b) = onion.last_mut() {
                    *b ^= 1;
                }
                Reply::SendOnce(to, TunnelMsg::Onion { link, onion })
            }
            // Streamed: a changed byte of the next header.
            (
                Reply::SendOnceStream(to, TunnelMsg::Stream { link, mut header }, out),
                Relaying::Tamper,
            ) => {
                if let Some(b) = header.last_mut() {
                    *b ^= 1;
                }
                Reply::SendOnceStream(to, TunnelMsg::Stream { link, header }, out)
            }
            (Reply::SendOnce(_, TunnelMsg::Onion { .. }), Relaying::Drop) => Reply::None,
            (Reply::SendOnceStream(_, TunnelMsg::Stream { .. }, _), Relaying::Drop) => Reply::None,
            (other, _) => other,
        })
    }
}

impl MyDHTConf for Spy {
    mydht_basetest::loopback_conf_items!();
    type ProtoMsg = TunnelMsg;
    type GlobalCmd = TunnelCmd<Ping>;
    type ApiReply = TunnelAnswer<PingPong>;
    type GlobalService = TunnelGlobal<Spy, PingPong>;
    type LocalService = SpyLocal;
    mydht::threaded!();

    fn init_identity(&mut self) -> Result<Identity> {
        self.node.init_tunnel_identity()
    }
    fn init_global(&mut self, me: &PeerInfo, _: &PeersView) -> Result<Self::GlobalService> {
        self.node.init_tunnel_global(me)
    }
    fn init_local(&mut self, me: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<SpyLocal> {
        let logger = self.logger();
        Ok(SpyLocal {
            inner: self.node.init_tunnel_local(me, logger)?,
            seen: self.seen.clone(),
            relaying: self.relaying,
        })
    }
    fn constants(&self) -> NodeConstants {
        NodeConstants::default()
    }
    fn global_tick(&self) -> Option<mydht::conf::GlobalTick<Self>> {
        Some((std::time::Duration::from_millis(25), || TunnelCmd::Tick))
    }
}
