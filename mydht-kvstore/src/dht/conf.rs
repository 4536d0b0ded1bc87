//! [`DhtConf`]: a ready node configuration for the DHT.

use std::net::{Ipv4Addr, SocketAddr};

use mydht::conf::GlobalTick;

use mydht::prelude::*;

use crate::dht::global::DhtGlobal;
use crate::dht::local::DhtLocal;
use crate::dht::msg::{DhtCmd, DhtMsg, DhtReply};
use crate::dht::settings::DhtSettings;

/// A DHT node: TCP, Bincode and the session shadow
/// (`default_components!`), the whole node on one thread
/// (`restartable!`), [`DhtGlobal`] and [`DhtLocal`] as its services, and
/// the identity it signs its values with.
///
/// Another profile is one line: a configuration of its own naming the
/// same types and calling [`DhtGlobal::new`] in `init_global`.
///
/// The node's main loop runs on a thread of its own by default
/// ([`Dht::start`](crate::dht::Dht::start)); with
/// [`main_loop`](Self::main_loop) set to [`MainLoopSpawn::Caller`] it runs
/// on a thread the application owns ([`mydht::start_driven`]), which may
/// turn many nodes. Either way the loop ticks the node's engine itself
/// every [`DhtSettings::tick`] ([`MyDHTConf::global_tick`]).
pub struct DhtConf {
    /// Store, route, bounds and query defaults.
    pub settings: DhtSettings,
    /// Where the node listens; `127.0.0.1:0` by default.
    pub listen: SocketAddr,
    /// Where the node logs; `None`: warnings and errors to standard error.
    pub logger: Option<slog::Logger>,
    /// The node's sizes and timeouts.
    pub constants: NodeConstants,
    /// Where the main loop runs: a thread of its own
    /// ([`MainLoopSpawn::Thread`], the default) or the caller's.
    pub main_loop: MainLoopSpawn,
    identity: Identity,
}

impl DhtConf {
    /// A node of this identity, default settings, on loopback.
    pub fn new(identity: Identity) -> Self {
        DhtConf {
            settings: DhtSettings::default(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            logger: None,
            constants: NodeConstants::default(),
            main_loop: MainLoopSpawn::Thread,
            identity,
        }
    }

    /// A node of a new identity.
    pub fn generate() -> Result<Self> {
        Ok(Self::new(Identity::generate()?))
    }

    /// The identity the node signs with.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }
}

impl MyDHTConf for DhtConf {
    mydht::default_components!();
    type ProtoMsg = DhtMsg;
    type GlobalCmd = DhtCmd;
    type ApiReply = DhtReply;
    type GlobalService = DhtGlobal<Self>;
    type LocalService = DhtLocal<Self>;
    mydht::restartable!();

    fn init_transport(&mut self) -> Result<TcpTransport> {
        TcpTransport::bind(self.listen)
    }
    fn init_identity(&mut self) -> Result<Identity> {
        Ok(self.identity.clone())
    }
    fn init_global(&mut self, me: &PeerInfo, peers: &PeersView) -> Result<DhtGlobal<Self>> {
        DhtGlobal::new(
            me,
            peers,
            self.identity.clone(),
            &self.settings,
            self.logger(),
        )
    }
    fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<DhtLocal<Self>> {
        Ok(DhtLocal::new())
    }
    fn main_loop_spawn(&self) -> MainLoopSpawn {
        self.main_loop
    }
    /// [`DhtCmd::Tick`] every [`DhtSettings::tick`] (none when zero).
    fn global_tick(&self) -> Option<GlobalTick<Self>> {
        (!self.settings.tick.is_zero())
            .then(|| GlobalTick::every(self.settings.tick, || DhtCmd::Tick))
    }
    fn constants(&self) -> NodeConstants {
        self.constants.clone()
    }
    fn logger(&self) -> slog::Logger {
        self.logger
            .clone()
            .unwrap_or_else(mydht::log::default_logger)
    }
}
