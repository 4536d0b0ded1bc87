//! [`KVStoreService`]: the [`QueryEngine`] as a [`Service`], so that a node
//! runs it under whichever spawner its configuration names.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
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
/// The service reads the clock for the commands that carry none; a
/// [`KVStoreCommand::Tick`] carries its own time.
pub struct KVStoreService<V: KeyVal, P: Peer, S, R> {
    engine: QueryEngine<V, P, S, R>,
}

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
        KVStoreService { engine }
    }

    /// How the store answers a find of the values closest to a key (see
    /// [`QueryEngine::with_near`]).
    pub fn with_near(self, near: NearFn<S, V::Key, V>) -> Self {
        KVStoreService {
            engine: self.engine.with_near(near),
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
        let now = match &cmd {
            KVStoreCommand::Tick(now) => *now,
            _ => Instant::now(),
        };
        let mut out = Vec::new();
        self.engine.handle(cmd, now, &mut out);
        Ok(out)
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
