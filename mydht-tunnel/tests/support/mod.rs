//! A ping-pong application for the tests, and nodes running it.

#![allow(dead_code)]

pub mod records;
pub mod spy;
pub mod wire;
pub mod work;

use std::time::Duration;

use mydht::prelude::*;
use mydht_basetest::harness::nodes::{address_of, stop_all};
use mydht_tunnel::{
    Carriage, Destination, InnerCommand, InnerReply, MyDHTTunnelConf, ReplyRoute, TunnelAnswer,
    TunnelConfOf, TunnelNode, TunnelSend,
};
use serde::{Deserialize, Serialize};
use tunnel::TunnelConfig;

/// Every wait of these tests ends by this at the latest: in wall time
/// for the spies' nodes, on the [`work::WorkClock`] (the time the process
/// was not kept waiting for a CPU) for the patient nodes of [`star`].
pub const TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Msg {
    Ping(u64, Vec<u8>),
    Pong(u64, Vec<u8>),
}

/// Ping `to` through `hops` relays, the reply coming back by `reply`,
/// with `body` bytes of padding.
#[derive(Debug, Clone)]
pub struct Ping {
    pub to: PeerId,
    pub hops: usize,
    pub reply: ReplyRoute,
    pub n: u64,
    pub body: usize,
}

/// The pong: its number and the body Bob sent back (the ping's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong(pub u64, pub Vec<u8>);

/// The answer to a ping that asked for no pong, once sent.
pub const SENT: Pong = Pong(u64::MAX, Vec::new());

pub struct Inner;

impl Service for Inner {
    type CommandIn = InnerCommand<PingPong>;
    type CommandOut = InnerReply<PingPong>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: Self::CommandIn,
        _: &mut Y,
    ) -> Result<Self::CommandOut> {
        Ok(match cmd {
            InnerCommand::Api(p) => {
                let send = InnerReply::Send(TunnelSend {
                    to: Destination::Peer(p.to),
                    hops: p.hops,
                    reply: p.reply,
                    msg: Msg::Ping(p.n, body(p.n, p.body)),
                    attachment: None,
                });
                match p.reply {
                    // No pong will come: the query is answered once sent.
                    ReplyRoute::None => InnerReply::Many(vec![send, InnerReply::Api(SENT)]),
                    _ => send,
                }
            }
            InnerCommand::Exit {
                msg: Msg::Ping(n, b),
                can_reply: true,
                attached: false,
            } => InnerReply::Reply(Msg::Pong(n, b)),
            InnerCommand::Replied(Msg::Pong(n, b)) => InnerReply::Api(Pong(n, b)),
            _ => InnerReply::None,
        })
    }
}

/// The body of ping `n`: `len` bytes that depend on `n`.
pub fn body(n: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64).wrapping_mul(31).wrapping_add(n) as u8)
        .collect()
}

/// The ping-pong application with its tunnel sizes and carriage.
pub struct PingPong {
    pub config: TunnelConfig,
    pub carriage: Carriage,
    /// The node's own timeouts (the tunnel's, the handshakes', the
    /// verdicts', the api queries') are [`work::HANG_GUARD`]: the test's
    /// waits, on the work clock, bound it instead (a starved process does
    /// not fail by the wall clock). `false`: the defaults, for the tests
    /// that time a failure.
    pub patient: bool,
}

impl MyDHTTunnelConf for PingPong {
    type Msg = Msg;
    type Cmd = Ping;
    type Answer = Pong;
    type InnerService = Inner;

    fn init_inner(&mut self, _: &PeerInfo) -> Result<Inner> {
        Ok(Inner)
    }
    fn tunnel_config(&self) -> TunnelConfig {
        self.config
    }
    fn carriage(&self) -> Carriage {
        self.carriage
    }
    fn tunnel_timeout(&self) -> Duration {
        if self.patient {
            work::HANG_GUARD
        } else {
            Duration::from_secs(10)
        }
    }
    fn constants(&self) -> NodeConstants {
        let mut c = mydht_tunnel::tunnel_constants();
        if self.patient {
            c.auth_timeout = work::HANG_GUARD;
            c.verdict_timeout = work::HANG_GUARD;
            c.query_timeout = work::HANG_GUARD;
            c.send_once_timeout = work::HANG_GUARD;
        }
        c
    }
}

/// `n` patient nodes (`PingPong::patient`) under profile `P`, every one
/// connected to node 0 (Alice).
pub fn star<P>(n: usize, config: TunnelConfig) -> Vec<NodeHandle<TunnelNode<PingPong, P>>>
where
    TunnelNode<PingPong, P>: TunnelConfOf<PingPong>,
{
    star_carried::<P>(n, config, Carriage::Streamed)
}

/// [`star`] with onions carried as `carriage` says.
pub fn star_carried<P>(
    n: usize,
    config: TunnelConfig,
    carriage: Carriage,
) -> Vec<NodeHandle<TunnelNode<PingPong, P>>>
where
    TunnelNode<PingPong, P>: TunnelConfOf<PingPong>,
{
    let nodes: Vec<_> = (0..n)
        .map(|_| {
            start_loop(TunnelNode::<PingPong, P>::new(PingPong {
                config,
                carriage,
                patient: true,
            }))
            .expect("start")
        })
        .collect();
    for node in &nodes[1..] {
        let address = address_of(node).expect("address");
        let connecting = nodes[0]
            .connect_future(address, work::HANG_GUARD)
            .expect("connect");
        let reached = work::wait_working(connecting, TIMEOUT)
            .expect("connected within TIMEOUT of work")
            .expect("connect");
        assert_eq!(reached.get_id(), node.local_peer().get_id());
    }
    nodes
}

/// Alice (node 0) asks `cmd` and waits for its one answer, at most
/// [`TIMEOUT`] on the work clock.
pub fn query<P>(nodes: &[NodeHandle<TunnelNode<PingPong, P>>], cmd: Ping) -> TunnelAnswer<PingPong>
where
    TunnelNode<PingPong, P>: TunnelConfOf<PingPong>,
{
    let asked = nodes[0]
        .query_future(cmd.into(), 1, work::HANG_GUARD)
        .expect("query");
    let mut got = work::wait_working(asked, TIMEOUT)
        .expect("answered within TIMEOUT of work")
        .expect("query");
    assert_eq!(got.len(), 1);
    got.pop().expect("one answer")
}

/// Alice (node 0) pings node `to` and waits for the answer.
pub fn ping<P>(
    nodes: &[NodeHandle<TunnelNode<PingPong, P>>],
    to: usize,
    hops: usize,
    reply: ReplyRoute,
    n: u64,
    body_len: usize,
) -> TunnelAnswer<PingPong>
where
    TunnelNode<PingPong, P>: TunnelConfOf<PingPong>,
{
    let to = *nodes[to].local_peer().get_id();
    let ping = Ping {
        to,
        hops,
        reply,
        n,
        body: body_len,
    };
    query(nodes, ping)
}

/// Stops every node.
pub fn stop<P>(nodes: Vec<NodeHandle<TunnelNode<PingPong, P>>>)
where
    TunnelNode<PingPong, P>: TunnelConfOf<PingPong>,
{
    stop_all(nodes).expect("stop");
}
