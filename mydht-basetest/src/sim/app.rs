//! [`SimApp`]: what a configuration must be to run in a simulation, and
//! how the simulation calls its application's services.

use std::time::{Duration, Instant};

use mydht::{GlobalCommand, Identity, LocalCommand, MyDHTConf, Reply};
use mydht_base::{Result, Service, SpawnerYield, YieldReturn};

use super::node::SimConf;
use crate::transport::MemTransport;

/// A configuration a simulation runs: its nodes are at `MemAddress`es, and
/// its application's services ([`MyDHTConf::GlobalService`],
/// [`MyDHTConf::LocalService`]), made through `init_global` and
/// `init_local`, are called inline on the simulation's thread.
///
/// The default methods call [`Service::call`]. A service that reads the
/// clock itself would see the wall clock: override them to hand it the
/// simulated time `now` instead, so that a run depends on its seed alone.
pub trait SimApp: MyDHTConf<Transport = MemTransport> {
    /// Gives `cmd` to the global service at the simulated time `now`.
    fn global_at(
        service: &mut Self::GlobalService,
        cmd: GlobalCommand<Self>,
        now: Instant,
    ) -> Result<Reply<Self>> {
        let _ = now;
        service.call(cmd, &mut Inline)
    }

    /// Gives `cmd` to a connection's local service at the simulated time
    /// `now`.
    fn local_at(
        service: &mut Self::LocalService,
        cmd: LocalCommand<Self>,
        now: Instant,
    ) -> Result<Reply<Self>> {
        let _ = now;
        service.call(cmd, &mut Inline)
    }
}

/// What a simulation tells the maker of a node's configuration
/// ([`Sim::with_app`](super::Sim::with_app)) each time the node starts.
#[derive(Debug, Clone, Copy)]
pub struct NodeStart<'a> {
    /// The node's index (it listens at `MemAddress(index)`).
    pub index: usize,
    /// Its identity (seeded).
    pub identity: &'a Identity,
    /// The simulated time, as its core sees it.
    pub now: Instant,
    /// The simulated time since the simulation started.
    pub elapsed: Duration,
    /// A seed for the application's own random choices, drawn from the
    /// simulation's seed (the same for every start of this node).
    pub seed: u64,
}

/// The touch application runs as it is.
impl SimApp for SimConf {}

/// The yield of a service called inline: a service that would wait returns
/// `Error::yielded` at once (the simulation cannot wait), which the
/// simulation reports as the service's failure.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inline;

impl SpawnerYield for Inline {
    fn spawn_yield(&mut self) -> YieldReturn {
        YieldReturn::Return
    }
}
