//! A tunnel node whose local services record the onions they receive and,
//! if told to, tamper with the onions they relay or hold them at a gate,
//! over a transport that watches the wire (`wire.rs`): the tunnel services
//! of the crate wrapped in a configuration of the test's own.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use mydht::prelude::*;
use mydht::service::PeersView;
use mydht::{Bincode, MyDHTConf, NoShadow, NodeConstants, SessionShadow, Shadow};
use mydht_basetest::harness::nodes::connect;
use mydht_tunnel::{
    Carriage, ReplyRoute, TunnelAnswer, TunnelCmd, TunnelGlobal, TunnelLocal, TunnelMsg, TunnelNode,
};
use tunnel::TunnelConfig;

use super::wire::{SpyTransport, Wire};
use super::{Ping, PingPong, TIMEOUT};

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

/// Holds the onions that reach the nodes sharing it until the test
/// opens it, and tells which node came first.
#[derive(Clone, Default)]
pub struct Gate(Arc<(Mutex<GateState>, Condvar)>);

#[derive(Default)]
struct GateState {
    open: bool,
    first: Option<usize>,
}

impl Gate {
    /// Node `tag` got an onion: waits until the gate opens (at most
    /// [`TIMEOUT`](TIMEOUT)).
    fn pass(&self, tag: usize) {
        let (state, changed) = &*self.0;
        let mut s = state.lock().unwrap();
        s.first.get_or_insert(tag);
        changed.notify_all();
        let deadline = Instant::now() + TIMEOUT;
        while !s.open {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            s = changed.wait_timeout(s, left).unwrap().0;
        }
    }

    /// Waits until a node is held at the gate; its tag.
    pub fn first(&self, timeout: Duration) -> usize {
        let (state, changed) = &*self.0;
        let deadline = Instant::now() + timeout;
        let mut s = state.lock().unwrap();
        loop {
            if let Some(tag) = s.first {
                return tag;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "nobody reached the gate");
            s = changed.wait_timeout(s, left).unwrap().0;
        }
    }

    /// Lets every onion through, now and from now on.
    pub fn open(&self) {
        let (state, changed) = &*self.0;
        state.lock().unwrap().open = true;
        changed.notify_all();
    }
}

/// A spy node: the crate's tunnel services over a watched transport, its
/// sessions under shadow `S` (`SessionShadow`, or `NoShadow` for a node
/// whose wire tampers with cells in clear).
pub struct Spy<S = SessionShadow> {
    node: TunnelNode<PingPong, mydht_tunnel::Threaded>,
    seen: Seen,
    relaying: Relaying,
    wire: Wire,
    gate: Option<(Gate, usize)>,
    shadow: std::marker::PhantomData<fn() -> S>,
}

impl<S> Spy<S> {
    pub fn new(config: TunnelConfig, carriage: Carriage, relaying: Relaying) -> (Self, Seen) {
        let seen = Seen::default();
        let node = TunnelNode::new(PingPong {
            config,
            carriage,
            patient: false,
        });
        (
            Spy {
                node,
                seen: seen.clone(),
                relaying,
                wire: Wire::default(),
                gate: None,
                shadow: std::marker::PhantomData,
            },
            seen,
        )
    }

    /// Watches its transport through `wire`.
    pub fn on_wire(mut self, wire: Wire) -> Self {
        self.wire = wire;
        self
    }

    /// Holds every onion it gets at `gate`, as node `tag`.
    pub fn gated(mut self, gate: Gate, tag: usize) -> Self {
        self.gate = Some((gate, tag));
        self
    }
}

/// The crate's local service, watched.
pub struct SpyLocal<S: SpyShadow> {
    inner: TunnelLocal<Spy<S>, PingPong>,
    seen: Seen,
    relaying: Relaying,
    gate: Option<(Gate, usize)>,
}

/// The shadows a spy runs under.
pub trait SpyShadow: Shadow + Clone + Default + Send + 'static {
    /// Bytes of a session chunk's tag on the wire.
    const TAG: usize;
}
impl SpyShadow for SessionShadow {
    const TAG: usize = mydht::shadow::SESSION_TAG_LEN;
}
impl SpyShadow for NoShadow {
    const TAG: usize = 0;
}

impl<S: SpyShadow> Service for SpyLocal<S> {
    type CommandIn = LocalCommand<Spy<S>>;
    type CommandOut = Reply<Spy<S>>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: LocalCommand<Spy<S>>,
        yld: &mut Y,
    ) -> Result<Reply<Spy<S>>> {
        match &cmd.msg {
            TunnelMsg::Onion { onion, .. } => self.seen.push(onion.len()),
            TunnelMsg::Stream { header, .. } => self.seen.push(header.len()),
            TunnelMsg::Report { .. } => {}
        }
        if let (Some((gate, tag)), TunnelMsg::Onion { .. } | TunnelMsg::Stream { .. }) =
            (&self.gate, &cmd.msg)
        {
            gate.pass(*tag);
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

impl<S: SpyShadow> MyDHTConf for Spy<S> {
    type Transport = SpyTransport;
    type MsgEnc = Bincode;
    type Shadow = S;
    type ProtoMsg = TunnelMsg;
    type GlobalCmd = TunnelCmd<Ping>;
    type ApiReply = TunnelAnswer<PingPong>;
    type GlobalService = TunnelGlobal<Spy<S>, PingPong>;
    type LocalService = SpyLocal<S>;
    mydht::threaded!();

    fn init_transport(&mut self) -> Result<SpyTransport> {
        self.wire.set_tag(S::TAG);
        SpyTransport::bind(self.wire.clone())
    }
    fn init_msg_enc(&mut self) -> Bincode {
        Bincode
    }
    fn init_shadow(&mut self) -> S {
        S::default()
    }
    fn init_identity(&mut self) -> Result<Identity> {
        self.node.init_tunnel_identity()
    }
    fn init_global(&mut self, me: &PeerInfo, _: &PeersView) -> Result<Self::GlobalService> {
        let logger = self.logger();
        self.node.init_tunnel_global(me, logger)
    }
    fn init_local(&mut self, me: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<SpyLocal<S>> {
        let logger = self.logger();
        Ok(SpyLocal {
            inner: self.node.init_tunnel_local(me, logger)?,
            seen: self.seen.clone(),
            relaying: self.relaying,
            gate: self.gate.clone(),
        })
    }
    fn constants(&self) -> NodeConstants {
        mydht_tunnel::tunnel_constants()
    }
    fn global_tick(&self) -> Option<mydht::conf::GlobalTick<Self>> {
        Some(mydht::conf::GlobalTick::every(
            std::time::Duration::from_millis(25),
            || TunnelCmd::Tick,
        ))
    }
}

/// Starts `confs`, node 0 (Alice) connected to every other.
pub fn start_spies<S: SpyShadow>(confs: Vec<Spy<S>>) -> Vec<NodeHandle<Spy<S>>> {
    let nodes: Vec<_> = confs
        .into_iter()
        .map(|c| start_loop(c).expect("start"))
        .collect();
    for node in &nodes[1..] {
        connect(&nodes[0], node).expect("connect");
    }
    nodes
}

/// Spies relaying as `relaying` says, node 0 (Alice) connected to every
/// other, and what each saw.
pub fn spies<S: SpyShadow>(
    carriage: Carriage,
    relaying: &[Relaying],
) -> (Vec<NodeHandle<Spy<S>>>, Vec<Seen>) {
    let (confs, seen) = relaying
        .iter()
        .map(|&t| Spy::new(TunnelConfig::default(), carriage, t))
        .unzip();
    (start_spies(confs), seen)
}

/// Alice (node 0) pings node `to` through `hops` relays and waits for the
/// answer.
pub fn ping<S: SpyShadow>(
    nodes: &[NodeHandle<Spy<S>>],
    to: usize,
    hops: usize,
    reply: ReplyRoute,
    n: u64,
    body: usize,
) -> TunnelAnswer<PingPong> {
    let ping = Ping {
        to: *nodes[to].local_peer().get_id(),
        hops,
        reply,
        n,
        body,
    };
    let mut got = nodes[0].query(ping.into(), 1, TIMEOUT).expect("query");
    got.pop().expect("an answer")
}
