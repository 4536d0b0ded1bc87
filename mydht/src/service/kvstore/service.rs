//! [`KVStoreService`]: the [`QueryEngine`] as a [`Service`], so that a node
//! runs it under whichever spawner its configuration names.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Instant;

use mydht_base::{KVStore, KeyVal, Peer, Result, Route, Service, ServiceRestartable, SpawnerYield};

use super::conf::KVStoreLimits;
use super::engine::{NearFn, QueryEngine};
use super::message::{KVStoreCommand, KVStoreReply};

/// The key/value store service: takes [`KVStoreCommand`]s and answers each
/// with the [`KVStoreReply`]s the node must carry out (send to peers, answer
/// the api). It never yields, so any spawner runs it, restartable ones
/// included.
///
/// The time of a command is given: [`call_at`](Self::call_at) takes it,
/// and a [`KVStoreCommand::Tick`] carries its own. `Service::call` asks
/// the service's clock ([`ServiceClock`]: the real `Instant::now` unless
/// [`with_clock`](Self::with_clock) gave another, e.g. a simulation's),
/// so the engine's decisions depend only on the commands and the times
/// it is handed.
pub struct KVStoreService<V: KeyVal, P: Peer, S, R> {
    engine: QueryEngine<V, P, S, R>,
    clock: ServiceClock,
}

/// Where [`KVStoreService`] reads the time of a command given through
/// `Service::call`.
pub type ServiceClock = Arc<dyn Fn() -> Instant + Send + Sync>;

impl<V, P, S, R> KVStoreService<V, P, S, R>
where
    V: KeyVal,
    P: Peer,
    S: KVStore<V>,
    R: Route<P, V::Key>,
{
    /// The service of node `me`, with a random query id seed.
    pub fn new(me: P, store: S, route: R, limits: KVStoreLimits) -> Self {
        // std's per-process random keys: unpredictable enough that a peer
        // cannot guess the ids of this node's next queries.
        let seed = RandomState::new().hash_one(0u8);
        Self::from_engine(QueryEngine::new(me, store, route, limits, seed))
    }

    /// The service around an engine built by the caller (a fixed seed).
    pub fn from_engine(engine: QueryEngine<V, P, S, R>) -> Self {
        KVStoreService {
            engine,
            clock: Arc::new(Instant::now),
        }
    }

    /// The same service reading the time of its commands from `clock`.
    pub fn with_clock(mut self, clock: ServiceClock) -> Self {
        self.clock = clock;
        self
    }

    /// Applies `cmd` at `now` (a [`KVStoreCommand::Tick`] at its own
    /// time): what the node must carry out.
    pub fn call_at(&mut self, cmd: KVStoreCommand<V, P>, now: Instant) -> Vec<KVStoreReply<V, P>> {
        let now = match &cmd {
            KVStoreCommand::Tick(at) => *at,
            _ => now,
        };
        let mut out = Vec::new();
        self.engine.handle(cmd, now, &mut out);
        out
    }

    /// How the store answers a find of the values closest to a key (see
    /// [`QueryEngine::with_near`]).
    pub fn with_near(self, near: NearFn<S, V::Key, V>) -> Self {
        KVStoreService {
            engine: self.engine.with_near(near),
            clock: self.clock,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &QueryEngine<V, P, S, R> {
        &self.engine
    }

    /// The engine, mutable (to reach its store or route).
    pub fn engine_mut(&mut self) -> &mut QueryEngine<V, P, S, R> {
        &mut self.engine
    }
}

impl<V, P, S, R> Service for KVStoreService<V, P, S, R>
where
    V: KeyVal,
    P: Peer,
    S: KVStore<V>,
    R: Route<P, V::Key>,
{
    type CommandIn = KVStoreCommand<V, P>;
    type CommandOut = Vec<KVStoreReply<V, P>>;

    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: Self::CommandIn,
        _yld: &mut Y,
    ) -> Result<Self::CommandOut> {
        let now = (self.clock)();
        Ok(self.call_at(cmd, now))
    }
}

/// Never yields: the default resume has nothing to finish.
impl<V, P, S, R> ServiceRestartable for KVStoreService<V, P, S, R>
where
    V: KeyVal,
    P: Peer,
    S: KVStore<V>,
    R: Route<P, V::Key>,
{
}
