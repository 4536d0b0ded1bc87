//! One simulated node: its [`NodeCore`], the services a driver would run
//! for it (a peer store, an api book, the application's global service)
//! run inline, and its ends of the simulated connections (each with its
//! local service, in `conn`).

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use mydht::command::MainLoopCommand;
use mydht::service::api::ApiBook;
use mydht::service::kvstore::{KVStoreLimits, MemoryStore, QueryEngine};
use mydht::service::peer_store::{closest_in_store, PeerStoreCommand, PeerStoreReply};
use mydht::{
    ConnectedRoute, Identity, LocalPeer, MyDHTConf, NodeConstants, NodeCore, PeerInfo,
    PeerStoreService, PeerVerdict, Reply,
};
use mydht_base::{Error, ErrorKind, ErrorLevel, Result};

use super::app::SimApp;
use super::calls::CallId;
use crate::transport::{MemAddress, MemTransport};

crate::touch_conf!(SimConf, restartable, MemTransport, Err(no_transport()));

/// A simulated node's connected peer, as its core hands it over.
pub(super) type PeerRef<C> = <C as MyDHTConf>::PeerRef;

/// The message a simulated connection carries once open.
pub(super) type Msg<C> = mydht::frame::WireMessage<<C as MyDHTConf>::ProtoMsg>;

fn no_transport() -> Error {
    Error::new(
        ErrorKind::Config,
        ErrorLevel::Fatal,
        "a simulated node has no transport: the simulation carries its actions out",
    )
}

/// The [`PeerInfo`] a peer of configuration `C` lends.
pub(super) fn info_of<C: MyDHTConf>(peer: &PeerRef<C>) -> &PeerInfo {
    <C::Peer as Borrow<PeerInfo>>::borrow(peer)
}

/// A node of the simulation.
pub(super) struct SimNode<C: SimApp> {
    pub(super) core: NodeCore<C>,
    /// Its configuration (it makes the application's services).
    pub(super) conf: C,
    /// Its encoder (the simulation logs each message's encoded size).
    pub(super) enc: C::MsgEnc,
    /// Its peer store, whose engine is given the simulated time (the
    /// service's `call` would read the real clock).
    pub(super) store: PeerStoreService<ConnectedRoute>,
    pub(super) api: ApiBook<C>,
    /// The application's global service.
    pub(super) global: C::GlobalService,
    /// The time its timer event is scheduled for, if any.
    pub(super) timer: Option<Instant>,
    /// Its ends of connections: the core's key to the simulation's id.
    pub(super) ends: BTreeMap<usize, u64>,
    next_key: usize,
    /// What its peer store answered, for its core.
    pub(super) store_replies: Vec<PeerStoreReply>,
    /// What its application's services answered, for its core.
    pub(super) app_replies: Vec<Reply<C>>,
    /// Api calls asked of it and not ended.
    pub(super) calls: Vec<CallId>,
    next_qid: u64,
}

impl<C: SimApp> SimNode<C> {
    /// Node `index` of configuration `conf` with identity `identity`,
    /// started at `now`.
    pub(super) fn new(
        index: usize,
        mut conf: C,
        identity: Identity,
        constants: NodeConstants,
        now: Instant,
        core_seed: u64,
        store_seed: u64,
    ) -> Result<Self> {
        let me = Arc::new(LocalPeer::new(
            identity,
            MemAddress(index as u64).to_string(),
        )?);
        let route = ConnectedRoute::new(conf.peer_route()?);
        let engine = QueryEngine::new(
            me.info().clone(),
            MemoryStore::new(constants.peer_store_capacity),
            route.clone(),
            KVStoreLimits::default(),
            store_seed,
        );
        let store = PeerStoreService::from_engine(engine).with_near(closest_in_store);
        let api = ApiBook::new(constants.max_pending_queries);
        let core = NodeCore::new(
            me.clone(),
            constants,
            conf.init_msg_enc(),
            slog::Logger::root(slog::Discard, slog::o!()),
            Some(PeerVerdict::Accept),
            route,
            now,
            core_seed,
        );
        let global = conf.init_global(me.info(), core.peers_view())?;
        let enc = conf.init_msg_enc();
        Ok(SimNode {
            core,
            conf,
            enc,
            store,
            api,
            global,
            timer: None,
            ends: BTreeMap::new(),
            next_key: 0,
            store_replies: Vec::new(),
            app_replies: Vec::new(),
            calls: Vec::new(),
            next_qid: 0,
        })
    }

    /// A fresh key for a connection end (never reused).
    pub(super) fn new_key(&mut self, conn: u64) -> usize {
        let key = self.next_key;
        self.next_key += 1;
        self.ends.insert(key, conn);
        key
    }

    /// A fresh api query id (from 1, as the node handle's).
    pub(super) fn new_qid(&mut self) -> u64 {
        self.next_qid += 1;
        self.next_qid
    }

    /// Gives a command to the peer store at `now`: its replies wait for
    /// the core in `store_replies`. The count of replies.
    pub(super) fn peer_store(&mut self, cmd: PeerStoreCommand, now: Instant) -> usize {
        let before = self.store_replies.len();
        self.store
            .engine_mut()
            .handle(cmd, now, &mut self.store_replies);
        self.store_replies.len() - before
    }

    /// Keeps a service's reply for the core (a `None` is nothing to do).
    pub(super) fn app_reply(&mut self, reply: Reply<C>) {
        if !matches!(reply, Reply::None) {
            self.app_replies.push(reply);
        }
    }

    /// Hands the peer store's and the services' replies to the core, as
    /// the main loop takes them from its channel; false if there were
    /// none.
    pub(super) fn feed_replies(&mut self, now: Instant) -> bool {
        let replies = std::mem::take(&mut self.store_replies);
        let app = std::mem::take(&mut self.app_replies);
        let any = !replies.is_empty() || !app.is_empty();
        if !replies.is_empty() {
            self.core.command(MainLoopCommand::PeerStore(replies), now);
        }
        for reply in app {
            self.core.command(MainLoopCommand::Reply(reply), now);
        }
        any
    }
}
