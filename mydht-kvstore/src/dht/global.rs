//! [`DhtGlobal`]: the node's DHT service. It runs the query engine over
//! the node's store and route, checks every value and key a peer sends
//! before the engine sees it, and turns the engine's replies into the
//! node's sends and api answers.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::time::Instant;

use mydht::conf::MyDHTConf;
use mydht::service::kvstore::{
    KVStoreCommand, KVStoreProtoMsg, KVStoreReply, QueryEngine, QueryID,
};
use mydht::service::{GlobalCommand, PeerStatus, PeersView, QueryId, Reply};
use mydht::{Identity, PeerId, PeerInfo};
use mydht_base::{KVStore, Peer, Result, Service, ServiceRestartable, SpawnerYield};
use slog::{warn, Logger};

use crate::dht::bounded::Fifo;
use crate::dht::iterative::Active;
use crate::dht::lookup::LookupConf;
use crate::dht::msg::{DhtCmd, DhtMsg, DhtReply, KvMsg, Refusal};
use crate::dht::replicate::{Placing, Round};
use crate::dht::republish::Republisher;
use crate::dht::route::DhtRoute;
use crate::dht::settings::{DhtSettings, KeyCheck, LookupMode};
use crate::dht::stats::DhtStats;
use crate::dht::store::DhtStore;
use crate::dht::time::{DhtStart, TimeBase};
use crate::value::{SignedValue, ValueLimits};

/// The query engine of a DHT node.
pub type DhtEngine = QueryEngine<SignedValue, PeerInfo, DhtStore, DhtRoute>;

/// An api query the engine (or a lookup) is answering.
pub(super) struct Pending {
    /// A get (else a put).
    pub(super) get: bool,
    /// Why a peer refused it, if one did.
    pub(super) refused: Option<Refusal>,
}

/// The DHT service of a node (its `GlobalService`), for any configuration
/// whose messages, commands and replies are this crate's and whose peers
/// are `PeerInfo`s.
///
/// A peer's `Find` or `Store` is checked before the engine sees it: a
/// malformed key ([`DhtSettings::key_check`]) or a value that does not
/// pass [`admit`](crate::store::admit) against what the store holds (bad signature, oversize,
/// expired, older than the held version, another publisher's key) is
/// answered with [`DhtMsg::Refused`] and logged as a warning; the node
/// goes on serving. Values found at peers are verified before they reach
/// the api; those that fail are dropped (and logged).
///
/// Every command first ticks the engine with the time: queries past their
/// deadline end with what they have. [`DhtCmd::Tick`] also runs the
/// node's timers: iterative lookups and placements whose peers did not
/// answer in time, republishing of the values due, bucket refreshes.
///
/// The service reads no clock: [`handle`](Self::handle) is given the
/// time, from which value times follow ([`DhtStart`]); only the
/// `Service::call` of a live node passes `Instant::now()`.
pub struct DhtGlobal<C> {
    pub(super) me: PeerInfo,
    pub(super) identity: Identity,
    pub(super) engine: DhtEngine,
    pub(super) peers: PeersView,
    pub(super) log: Logger,
    pub(super) limits: ValueLimits,
    pub(super) replicas: usize,
    pub(super) key_check: KeyCheck,
    /// The api queries under way.
    pub(super) pending: Fifo<QueryId, Pending>,
    /// The engine's query id of each api query that went to peers.
    pub(super) by_qid: Fifo<QueryID, QueryId>,
    /// Who sent each query id this node received first: loop detection,
    /// and the way back for relayed replies.
    pub(super) back: Fifo<QueryID, PeerId>,
    pub(super) stats: DhtStats,
    pub(super) time: TimeBase,
    /// The time of the command being handled, and its Unix time.
    pub(super) now: Instant,
    pub(super) now_ms: u64,
    pub(super) lookup: LookupMode,
    /// Iterative lookups under way (at most `LookupConf::max_lookups`).
    pub(super) lookups: BTreeMap<QueryID, Active>,
    /// The lookups waiting for each peer being dialled, and the address
    /// dialled (as text).
    pub(super) dialling: Fifo<PeerId, (String, Vec<QueryID>)>,
    /// The peer each address being dialled belongs to: a failed dial
    /// ([`GlobalCommand::DialFailed`]) names only its address.
    pub(super) dialled: Fifo<String, PeerId>,
    /// Placements waiting for their peers' answers.
    pub(super) placing: BTreeMap<QueryID, Placing>,
    /// Republishing steps the api waits for.
    pub(super) rounds: BTreeMap<QueryId, Round>,
    pub(super) republisher: Republisher,
    pub(super) republish_batch: usize,
    /// The most entries of each per-query record.
    pub(super) capacity: usize,
    id_seed: u64,
    id_counter: u64,
    _conf: PhantomData<fn() -> C>,
}

impl<C> DhtGlobal<C> {
    /// The service of node `me` signing with `identity`, reading its
    /// online peers in `peers`, logging to `log`. Fails when the store
    /// cannot be opened.
    pub fn new(
        me: &PeerInfo,
        peers: &PeersView,
        identity: Identity,
        settings: &DhtSettings,
        log: Logger,
    ) -> Result<Self> {
        Self::started(me, peers, identity, settings, log, DhtStart::system(me))
    }

    /// [`new`](Self::new), starting at `start` (its time and seed).
    pub fn started(
        me: &PeerInfo,
        peers: &PeersView,
        identity: Identity,
        settings: &DhtSettings,
        log: Logger,
        start: DhtStart,
    ) -> Result<Self> {
        let time = TimeBase::new(start.now, start.now_ms);
        let store = DhtStore::open_with_clock(&settings.store, settings.store_conf, time.clock())?;
        let seed = start.seed;
        let now_ms = start.now_ms;
        let route = DhtRoute::new(settings.route, me, peers.clone(), seed, now_ms);
        let mut republisher =
            Republisher::new(ms(settings.republish), settings.store_conf.capacity);
        // A node restarted on its store republishes what it holds.
        for (key, expires) in store.expiries()? {
            republisher.held(key, expires, now_ms);
        }
        let engine = QueryEngine::new(me.clone(), store, route, settings.limits, seed);
        let capacity = settings.limits.cache_capacity;
        Ok(DhtGlobal {
            me: me.clone(),
            identity,
            engine,
            peers: peers.clone(),
            log,
            limits: settings.store_conf.limits,
            replicas: settings.replicas.max(1),
            key_check: settings.key_check,
            pending: Fifo::new(capacity),
            by_qid: Fifo::new(capacity),
            back: Fifo::new(capacity),
            stats: DhtStats::default(),
            time,
            now: start.now,
            now_ms,
            lookup: settings.lookup,
            lookups: BTreeMap::new(),
            dialling: Fifo::new(capacity),
            dialled: Fifo::new(capacity),
            placing: BTreeMap::new(),
            rounds: BTreeMap::new(),
            republisher,
            republish_batch: settings.republish_batch.max(1),
            capacity,
            id_seed: seed ^ 0x6c6f_6f6b_7570_7321,
            id_counter: 0,
            _conf: PhantomData,
        })
    }

    /// The republishing schedule of the values held.
    pub fn republisher(&self) -> &Republisher {
        &self.republisher
    }

    /// The parameters of iterative lookups, or of the placements
    /// republishing makes in recursive mode.
    pub(super) fn lookup_conf(&self) -> LookupConf {
        match self.lookup {
            LookupMode::Iterative(conf) => conf,
            LookupMode::Recursive => LookupConf::default(),
        }
    }

    /// A fresh id for a lookup or a placement: a hash of the seed and a
    /// counter.
    pub(super) fn new_id(&mut self) -> QueryID {
        self.id_counter = self.id_counter.wrapping_add(1);
        let mut h = DefaultHasher::new();
        (self.id_seed, self.id_counter).hash(&mut h);
        h.finish()
    }

    /// The query engine.
    pub fn engine(&self) -> &DhtEngine {
        &self.engine
    }

    /// The counters.
    pub fn stats(&self) -> DhtStats {
        DhtStats {
            values: self.engine.store().len() as u64,
            ..self.stats
        }
    }
}

/// What a step of the service asks the node to do.
pub(super) type Out<C> = Vec<Reply<C>>;

/// A duration in milliseconds.
pub(super) fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl<C> DhtGlobal<C>
where
    C: MyDHTConf<ProtoMsg = DhtMsg, GlobalCmd = DhtCmd, ApiReply = DhtReply, Peer = PeerInfo>,
{
    /// Applies `cmd` at `now`: the time every decision reads.
    pub fn handle(&mut self, cmd: GlobalCommand<C>, now: Instant) -> Reply<C> {
        let mut out = Vec::new();
        self.now = now;
        self.now_ms = self.time.set(now);
        self.step(KVStoreCommand::Tick(now), now, &mut out);
        match cmd {
            GlobalCommand::Api(qid, cmd) => self.api(qid, cmd, now, &mut out),
            GlobalCommand::Distant(from, msg) => {
                let from: &PeerInfo = &from;
                self.distant(from.clone(), msg, now, &mut out)
            }
            GlobalCommand::PeerStatus(peer, PeerStatus::Online) => {
                let peer: &PeerInfo = &peer;
                self.engine.route_mut().online(peer.clone(), self.now_ms);
                let (id, replicas) = (*peer.get_id(), self.replicas);
                let (me, route) = (*self.me.get_id(), self.engine.route());
                // Only the first holder places a value on a newcomer.
                self.republisher.online(&id, |key| {
                    route.first_holder(&me, key, &id)
                        && route.known_closer_than(&id, key, replicas) < replicas
                });
                self.lookup_online(peer, &mut out);
            }
            GlobalCommand::PeerStatus(peer, PeerStatus::Offline) => {
                let id = *peer.get_id();
                self.engine.route_mut().offline(&id, self.now_ms);
                self.republisher.offline(&id);
                self.lookup_offline(&id, &mut out);
            }
            GlobalCommand::DialFailed(address, error) => {
                self.dial_failed(&address.to_string(), &error, &mut out)
            }
            // The DHT's messages go on pooled connections; a send-once
            // one it never sends.
            GlobalCommand::SendOnceFailed(address, error, _) => {
                slog::debug!(self.log, "send-once message lost"; "to" => %address, "error" => %error)
            }
        }
        match out.len() {
            0 => Reply::None,
            1 => out.pop().unwrap_or(Reply::None),
            _ => Reply::Many(out),
        }
    }

    fn distant(&mut self, from: PeerInfo, msg: DhtMsg, now: Instant, out: &mut Out<C>) {
        match msg {
            DhtMsg::Kv(msg) => self.request(from, msg, now, out),
            DhtMsg::Refused(qid, reason) => {
                warn!(self.log, "a peer refused our request";
                      "peer" => %from.get_id(), "qid" => qid, "reason" => %reason);
                if self.place_answer(from.get_id(), qid, Some(reason.clone()), out)
                    || self.lookup_refused(from.get_id(), qid, out)
                {
                    return;
                }
                if let Some(api) = self.by_qid.get(&qid) {
                    if let Some(p) = self.pending.get_mut(api) {
                        p.refused = Some(reason);
                    }
                }
                // The peer answered: the query does not wait for it.
                let answer = KVStoreProtoMsg::Stored(qid, 0);
                self.step(KVStoreCommand::Received(from, answer), now, out);
            }
            DhtMsg::Relay { to, msg } => self.relay(from, to, msg, now, out),
            DhtMsg::FindNode { qid, key, value } => self.find_node(&from, qid, key, value, out),
            DhtMsg::Nodes {
                qid,
                peers,
                value,
                contacts,
            } => self.nodes(&from, qid, (peers, contacts), value, out),
            DhtMsg::Place(qid, v) => self.placement_received(&from, qid, v, out),
            DhtMsg::Placed(qid) => {
                self.place_answer(from.get_id(), qid, None, out);
            }
        }
    }

    /// Runs the engine on `cmd` and carries out its replies.
    pub(super) fn step(
        &mut self,
        cmd: KVStoreCommand<SignedValue, PeerInfo>,
        now: Instant,
        out: &mut Out<C>,
    ) {
        let mut replies = Vec::new();
        self.engine.handle(cmd, now, &mut replies);
        self.carry(replies, out);
    }

    pub(super) fn carry(
        &mut self,
        replies: Vec<KVStoreReply<SignedValue, PeerInfo>>,
        out: &mut Out<C>,
    ) {
        for r in replies {
            match r {
                KVStoreReply::Forward(peers, msg) => {
                    let ids = peers.iter().map(|p| *p.get_id()).collect();
                    out.push(Reply::SendTo(ids, DhtMsg::Kv(msg)));
                }
                KVStoreReply::Reply(peer, msg) => match reply_qid(&msg) {
                    Some(qid) if !self.peers.contains(peer.get_id()) => {
                        self.send_reply(*peer.get_id(), qid, msg, None, out)
                    }
                    _ => out.push(Reply::Send(*peer.get_id(), DhtMsg::Kv(msg))),
                },
                KVStoreReply::FoundApi(api, found) => self.found(api, found, out),
                KVStoreReply::Done(api, n) => self.stored(api, n, out),
                KVStoreReply::Expired { api, found, stored } => {
                    let get = self.pending.get(&api).map(|p| p.get);
                    if get.unwrap_or(!found.is_empty()) {
                        self.found(api, found, out)
                    } else {
                        self.stored(api, stored, out)
                    }
                }
                KVStoreReply::Failed(api, e) => {
                    self.pending.remove(&api);
                    out.push(Reply::Api(api, DhtReply::Failed(e)));
                }
            }
        }
    }

    /// The answer of a get: the values that verify.
    pub(super) fn found(&mut self, api: QueryId, found: Vec<SignedValue>, out: &mut Out<C>) {
        let now_ms = self.now_ms;
        let mut valid = Vec::with_capacity(found.len());
        for v in found {
            match v.verify(now_ms, &self.limits) {
                Ok(()) => valid.push(v),
                Err(e) => {
                    self.stats.dropped_found += 1;
                    warn!(self.log, "dropped a found value that does not verify";
                          "key" => %v.key(), "error" => %e);
                }
            }
        }
        self.found_verified(api, valid, out)
    }

    /// The answer of a get whose values were verified already (a
    /// lookup's: each checked as it came, or this node's own).
    pub(super) fn found_verified(
        &mut self,
        api: QueryId,
        valid: Vec<SignedValue>,
        out: &mut Out<C>,
    ) {
        let refused = self.pending.remove(&api).and_then(|p| p.refused);
        let reply = match refused {
            Some(reason) if valid.is_empty() => DhtReply::Refused(reason),
            _ => DhtReply::Found(valid),
        };
        out.push(Reply::Api(api, reply));
    }

    /// The answer of a put.
    pub(super) fn stored(&mut self, api: QueryId, n: u32, out: &mut Out<C>) {
        let refused = self.pending.remove(&api).and_then(|p| p.refused);
        let reply = match refused {
            Some(reason) if n == 0 => DhtReply::Refused(reason),
            _ => DhtReply::Stored(n),
        };
        out.push(Reply::Api(api, reply));
    }
}

/// The query id of a request.
pub(super) fn request_qid(msg: &KvMsg) -> Option<QueryID> {
    match msg {
        KVStoreProtoMsg::Find(q, _) | KVStoreProtoMsg::FindNear(q, _) => Some(q.qid),
        KVStoreProtoMsg::Store(q, _) => Some(q.qid),
        _ => None,
    }
}

/// The query id of a reply.
pub(super) fn reply_qid(msg: &KvMsg) -> Option<QueryID> {
    match msg {
        KVStoreProtoMsg::Found(qid, _) | KVStoreProtoMsg::Stored(qid, _) => Some(*qid),
        _ => None,
    }
}

impl<C> Service for DhtGlobal<C>
where
    C: MyDHTConf<ProtoMsg = DhtMsg, GlobalCmd = DhtCmd, ApiReply = DhtReply, Peer = PeerInfo>,
{
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;

    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(self.handle(cmd, Instant::now()))
    }
}

/// Never yields.
impl<C> ServiceRestartable for DhtGlobal<C> where
    C: MyDHTConf<ProtoMsg = DhtMsg, GlobalCmd = DhtCmd, ApiReply = DhtReply, Peer = PeerInfo>
{
}
