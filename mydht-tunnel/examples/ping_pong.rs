//! Ping-pong through a tunnel: Alice pings Bob through N relays, Bob's
//! pong comes back along the reply route Alice chose.
//!
//! `cargo run -p mydht-tunnel --example ping_pong -- 3` (the number of
//! relays; 3 by default)
//!
//! The whole application: the message that travels (`Msg`), what the
//! application asks its node (`Ping`) and what the node answers (`Pong`),
//! the inner service that turns a ping into a tunnel send, answers pings
//! as the exit and gives pongs to the api (`Inner`), and the
//! `MyDHTTunnelConf` that names them (`PingPong`). `TunnelNode` builds the
//! node's `MyDHTConf` around it; its second type parameter is the profile
//! (`Threaded`, `Restartable`, `SingleThread`).

use std::time::Duration;

use mydht::prelude::*;
use mydht_tunnel::{
    Destination, InnerCommand, InnerReply, MyDHTTunnelConf, ReplyRoute, Threaded, TunnelNode,
    TunnelSend,
};
use serde::{Deserialize, Serialize};

/// What travels through the tunnel.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Msg {
    Ping(u64),
    Pong(u64),
}

/// What the application asks its node: ping `to` through `hops` relays.
#[derive(Debug, Clone)]
struct Ping {
    to: PeerId,
    hops: usize,
    n: u64,
}

/// The answer: the pong that came back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pong(u64);

/// The application's logic, run by the node's tunnel services.
struct Inner;

impl Service for Inner {
    type CommandIn = InnerCommand<PingPong>;
    type CommandOut = InnerReply<PingPong>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: Self::CommandIn,
        _: &mut Y,
    ) -> Result<Self::CommandOut> {
        Ok(match cmd {
            // Alice's api: send the ping; the pong will answer the query.
            InnerCommand::Api(Ping { to, hops, n }) => InnerReply::Send(TunnelSend {
                to: Destination::Peer(to),
                hops,
                reply: ReplyRoute::SameRoute,
                msg: Msg::Ping(n),
                attachment: None,
            }),
            // Bob, the exit: answer the ping (he does not know who sent it).
            InnerCommand::Exit {
                msg: Msg::Ping(n),
                can_reply: true,
                ..
            } => InnerReply::Reply(Msg::Pong(n)),
            // Alice again: the pong answers her query.
            InnerCommand::Replied(Msg::Pong(n)) => InnerReply::Api(Pong(n)),
            _ => InnerReply::None,
        })
    }
}

/// The application as a tunnel node sees it.
struct PingPong;

impl MyDHTTunnelConf for PingPong {
    type Msg = Msg;
    type Cmd = Ping;
    type Answer = Pong;
    type InnerService = Inner;

    fn init_inner(&mut self, _: &PeerInfo) -> Result<Inner> {
        Ok(Inner)
    }
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let hops: usize = std::env::args().nth(1).map_or(Ok(3), |a| a.parse())?;
    let timeout = Duration::from_secs(10);
    // Alice, the relays and Bob; `Restartable` instead of `Threaded` runs
    // each node on one thread.
    let nodes = (0..hops + 2)
        .map(|_| start_loop(TunnelNode::<PingPong, Threaded>::new(PingPong)))
        .collect::<Result<Vec<_>>>()?;
    let alice = &nodes[0];
    // Alice routes through the peers she knows: connect her to all.
    for node in &nodes[1..] {
        alice.connect(node.local_peer().get_address().parse()?, timeout)?;
    }
    let bob = *nodes[hops + 1].local_peer().get_id();
    let started = std::time::Instant::now();
    // An api command is the application's, wrapped (`TunnelCmd::App`).
    let ping = Ping {
        to: bob,
        hops,
        n: 7,
    };
    let answer = alice.query(ping.into(), 1, timeout)?;
    println!(
        "through {hops} relays and back in {:?}: {answer:?}",
        started.elapsed()
    );
    assert!(matches!(&answer[..], [Ok(Pong(7))]));
    for node in nodes {
        node.stop()?;
    }
    Ok(())
}
