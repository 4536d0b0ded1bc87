//! The DHT node under each profile the demo and the benchmarks offer:
//! the configuration of `mydht_kvstore::dht::DhtConf` with another
//! profile line, and [`Running`], a started node with its engine ticker.

use std::net::SocketAddr;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use mydht::prelude::*;
use mydht_kvstore::dht::{Dht, DhtCmd, DhtGlobal, DhtLocal, DhtMsg, DhtReply, DhtSettings};
use slog::Logger;

/// What every node of these profiles is made of.
pub struct NodeSetup {
    /// Who the node is (it signs its values with it).
    pub identity: Identity,
    /// Where it listens.
    pub listen: SocketAddr,
    /// Store, route and query defaults.
    pub settings: DhtSettings,
    /// Sizes and timeouts.
    pub constants: NodeConstants,
    /// Where it logs.
    pub logger: Logger,
}

/// A DHT node configuration made from a [`NodeSetup`].
pub trait ProfileConf:
    MyDHTConf<GlobalCmd = DhtCmd, ApiReply = DhtReply, Transport = TcpTransport>
    + Send
    + Sized
    + 'static
{
    /// The configuration of this setup.
    fn new(setup: NodeSetup) -> Self;
}

macro_rules! profile_conf {
    ($(#[$doc:meta])* $name:ident, $profile:ident $(, $($mix:tt)*)?) => {
        $(#[$doc])*
        pub struct $name(NodeSetup);

        impl MyDHTConf for $name {
            mydht::default_components!();
            type ProtoMsg = DhtMsg;
            type GlobalCmd = DhtCmd;
            type ApiReply = DhtReply;
            type GlobalService = DhtGlobal<Self>;
            type LocalService = DhtLocal<Self>;
            mydht::$profile!($($($mix)*)?);

            fn init_transport(&mut self) -> Result<TcpTransport> {
                TcpTransport::bind(self.0.listen)
            }
            fn init_identity(&mut self) -> Result<Identity> {
                Ok(self.0.identity.clone())
            }
            fn init_global(&mut self, me: &PeerInfo, peers: &PeersView) -> Result<DhtGlobal<Self>> {
                let s = &self.0;
                DhtGlobal::new(me, peers, s.identity.clone(), &s.settings, s.logger.clone())
            }
            fn init_local(
                &mut self,
                _: &PeerInfo,
                _: &PeerInfo,
                _: &PeersView,
            ) -> Result<DhtLocal<Self>> {
                Ok(DhtLocal::new())
            }
            fn constants(&self) -> NodeConstants {
                self.0.constants.clone()
            }
            fn logger(&self) -> Logger {
                self.0.logger.clone()
            }
        }

        impl ProfileConf for $name {
            fn new(setup: NodeSetup) -> Self {
                $name(setup)
            }
        }
    };
}

profile_conf!(
    /// Every service on its own thread (`threaded!`).
    ThreadedNode,
    threaded
);
profile_conf!(
    /// The node on one thread, services restarted (`restartable!`).
    RestartableNode,
    restartable
);
profile_conf!(
    /// The node on one thread, connections as coroutines
    /// (`single_thread!`), each with a stack of [`COROUTINE_STACK`].
    SingleThreadNode,
    single_thread,
    stack: COROUTINE_STACK;
);

/// The stack of a `single_thread!` DHT node's read and write coroutines:
/// the profile's default (64 KiB) overflowed in debug builds decoding the
/// DHT's messages (the demo under this profile found no value, its
/// coroutines dying with "coroutine has overflowed its stack").
pub const COROUTINE_STACK: usize = 256 << 10;

/// A started DHT node and the thread that ticks its engine (so that the
/// queries it proxies for peers end on time).
pub struct Running<C: ProfileConf> {
    /// The node's DHT handle.
    pub dht: Dht<C>,
    ticker: Option<(Sender<()>, JoinHandle<()>)>,
}

impl<C: ProfileConf> Running<C> {
    /// Starts a node of `setup`.
    pub fn start(setup: NodeSetup) -> Result<Self> {
        let (query, ttl, tick) = (
            setup.settings.query,
            setup.settings.ttl,
            setup.settings.tick,
        );
        let node = mydht::start_loop(C::new(setup))?;
        let ticker = if tick.is_zero() {
            None
        } else {
            let (stop, stopped) = mpsc::channel::<()>();
            let handle = node.clone();
            let join = std::thread::Builder::new()
                .name("mydht-cli-tick".into())
                .spawn(move || loop {
                    match stopped.recv_timeout(tick) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                    let wait = tick.max(Duration::from_secs(1));
                    if let Err(NodeError::Stopped(_)) = handle.query(DhtCmd::Tick, 1, wait) {
                        return;
                    }
                })?;
            Some((stop, join))
        };
        Ok(Running {
            dht: Dht::from_node(node, query, ttl),
            ticker,
        })
    }

    /// Stops the ticker, then the node.
    pub fn stop(mut self) -> Result<()> {
        if let Some((stop, join)) = self.ticker.take() {
            drop(stop);
            let _ = join.join();
        }
        self.dht.node().clone().stop()
    }
}
