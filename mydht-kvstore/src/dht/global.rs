//! [`DhtGlobal`]: the node's DHT service. It runs the query engine over
//! the node's store and route, checks every value and key a peer sends
//! before the engine sees it, and turns the engine's replies into the
//! node's sends and api answers.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::time::Instant;

use mydht::conf::MyDHTConf;
use mydht::service::kvstore::{
    KVStoreCommand, KVStoreProtoMsg, KVStoreReply, QueryEngine, QueryID,
};
use mydht::service::{GlobalCommand, PeerStatus, PeersView, QueryId, Reply};
use mydht::{Identity, PeerId, PeerInfo};
use mydht_base::{KVStore, Peer, Result, Service, ServiceRestartable, SpawnerYield};
use slog::{debug, warn, Logger};

use crate::clock::{Clock, SystemClock};
use crate::dht::bounded::Fifo;
use crate::dht::msg::{DhtCmd, DhtMsg, DhtReply, KvMsg, Refusal};
use crate::dht::route::DhtRoute;
use crate::dht::settings::{DhtSettings, KeyCheck};
use crate::dht::stats::DhtStats;
use crate::dht::store::DhtStore;
use crate::store::admit;
use crate::value::{SignedValue, ValueLimits};

/// The query engine of a DHT node.
pub type DhtEngine = QueryEngine<SignedValue, PeerInfo, DhtStore, DhtRoute>;

/// An api query the engine is answering.
struct Pending {
    /// A get (else a put).
    get: bool,
    /// Why a peer refused it, if one did.
    refused: Option<Refusal>,
}

/// The DHT service of a node (its `GlobalService`), for any configuration
/// whose messages, commands and replies are this crate's and whose peers
/// are `PeerInfo`s.
///
/// A peer's `Find` or `Store` is checked before the engine sees it: a
/// malformed key ([`DhtSettings::key_check`]) or a value that does not
/// pass [`admit`] against what the store holds (bad signature, oversize,
/// expired, older than the held version, another publisher's key) is
/// answered with [`DhtMsg::Refused`] and logged as a warning; the node
/// goes on serving. Values found at peers are verified before they reach
/// the api; those that fail are dropped (and logged).
///
/// Every command first ticks the engine with the time: queries past their
/// deadline end with what they have. [`DhtCmd::Tick`] does only that.
pub struct DhtGlobal<C> {
    me: PeerInfo,
    identity: Identity,
    engine: DhtEngine,
    peers: PeersView,
    log: Logger,
    limits: ValueLimits,
    replicas: usize,
    key_check: KeyCheck,
    /// The api queries under way.
    pending: Fifo<QueryId, Pending>,
    /// The engine's query id of each api query that went to peers.
    by_qid: Fifo<QueryID, QueryId>,
    /// Who sent each query id this node received first: loop detection,
    /// and the way back for relayed replies.
    back: Fifo<QueryID, PeerId>,
    stats: DhtStats,
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
        let store = DhtStore::open(&settings.store, settings.store_conf)?;
        // Unpredictable query ids (see `QueryEngine::new`).
        let seed = RandomState::new().hash_one(me.get_id());
        let now_ms = SystemClock.now_ms();
        let route = DhtRoute::new(settings.route, me, peers.clone(), seed, now_ms);
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
            _conf: PhantomData,
        })
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
type Out<C> = Vec<Reply<C>>;

impl<C> DhtGlobal<C>
where
    C: MyDHTConf<ProtoMsg = DhtMsg, GlobalCmd = DhtCmd, ApiReply = DhtReply, Peer = PeerInfo>,
{
    /// Applies `cmd` at `now`.
    pub fn handle(&mut self, cmd: GlobalCommand<C>, now: Instant) -> Reply<C> {
        let mut out = Vec::new();
        self.step(KVStoreCommand::Tick(now), now, &mut out);
        match cmd {
            GlobalCommand::Api(qid, cmd) => self.api(qid, cmd, now, &mut out),
            GlobalCommand::Distant(from, msg) => {
                let from: &PeerInfo = &from;
                self.distant(from.clone(), msg, now, &mut out)
            }
            GlobalCommand::PeerStatus(peer, PeerStatus::Online) => {
                let peer: &PeerInfo = &peer;
                self.engine
                    .route_mut()
                    .online(peer.clone(), SystemClock.now_ms())
            }
            GlobalCommand::PeerStatus(peer, PeerStatus::Offline) => self
                .engine
                .route_mut()
                .offline(peer.get_id(), SystemClock.now_ms()),
        }
        match out.len() {
            0 => Reply::None,
            1 => out.pop().unwrap_or(Reply::None),
            _ => Reply::Many(out),
        }
    }

    fn api(&mut self, qid: QueryId, cmd: DhtCmd, now: Instant, out: &mut Out<C>) {
        let now_ms = SystemClock.now_ms();
        match cmd {
            DhtCmd::Put {
                key,
                value,
                ttl,
                conf,
            } => {
                if (self.key_check)(&key).is_err() {
                    out.push(Reply::Api(qid, DhtReply::Refused(Refusal::MalformedKey)));
                    return;
                }
                match SignedValue::sign(&self.identity, key, value, ttl, now_ms) {
                    Ok(v) => self.put(qid, v, conf, now, now_ms, out),
                    Err(e) => out.push(Reply::Api(qid, DhtReply::Failed(e))),
                }
            }
            DhtCmd::PutSigned(v, conf) => {
                if (self.key_check)(v.key()).is_err() {
                    out.push(Reply::Api(qid, DhtReply::Refused(Refusal::MalformedKey)));
                    return;
                }
                self.put(qid, v, conf, now, now_ms, out)
            }
            DhtCmd::Get(key, conf) => {
                if (self.key_check)(&key).is_err() {
                    out.push(Reply::Api(qid, DhtReply::Refused(Refusal::MalformedKey)));
                    return;
                }
                self.start(qid, true, KVStoreCommand::Find(qid, key, conf), now, out);
            }
            DhtCmd::Tick => out.push(Reply::Api(qid, DhtReply::Ticked)),
            DhtCmd::Timer => {}
            DhtCmd::Stats => out.push(Reply::Api(qid, DhtReply::Stats(self.stats()))),
        }
    }

    fn put(
        &mut self,
        qid: QueryId,
        v: SignedValue,
        conf: mydht::QueryConf,
        now: Instant,
        now_ms: u64,
        out: &mut Out<C>,
    ) {
        let held = self.engine.store().get(v.key());
        if let Err(e) = admit(held.as_ref(), &v, now_ms, &self.limits) {
            out.push(Reply::Api(qid, DhtReply::Refused(Refusal::from(&e))));
            return;
        }
        self.start(qid, false, KVStoreCommand::Store(qid, v, conf), now, out);
    }

    /// Starts an api query in the engine, noting its query id.
    fn start(
        &mut self,
        qid: QueryId,
        get: bool,
        cmd: KVStoreCommand<SignedValue, PeerInfo>,
        now: Instant,
        out: &mut Out<C>,
    ) {
        self.pending.insert(qid, Pending { get, refused: None });
        let mut replies = Vec::new();
        self.engine.handle(cmd, now, &mut replies);
        for r in &replies {
            if let KVStoreReply::Forward(_, msg) = r {
                if let Some(q) = request_qid(msg) {
                    self.by_qid.insert(q, qid);
                }
            }
        }
        self.carry(replies, out);
    }

    fn distant(&mut self, from: PeerInfo, msg: DhtMsg, now: Instant, out: &mut Out<C>) {
        match msg {
            DhtMsg::Kv(msg) => self.request(from, msg, now, out),
            DhtMsg::Refused(qid, reason) => {
                warn!(self.log, "a peer refused our request";
                      "peer" => %from.get_id(), "qid" => qid, "reason" => %reason);
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
        }
    }

    /// A message of the engine from a peer, checked first.
    fn request(&mut self, from: PeerInfo, msg: KvMsg, now: Instant, out: &mut Out<C>) {
        let (qid, key, value) = match &msg {
            KVStoreProtoMsg::Find(q, key) | KVStoreProtoMsg::FindNear(q, key) => {
                self.stats.finds_received += 1;
                (q.qid, *key, None)
            }
            KVStoreProtoMsg::Store(q, v) => {
                self.stats.stores_received += 1;
                (q.qid, *v.key(), Some(v))
            }
            KVStoreProtoMsg::Found(..) | KVStoreProtoMsg::Stored(..) => {
                return self.step(KVStoreCommand::Received(from, msg), now, out);
            }
        };
        if self.back.contains(&qid) || self.by_qid.contains(&qid) {
            // Seen already: the engine answers it empty.
            self.stats.loop_hits += 1;
            return self.step(KVStoreCommand::Received(from, msg), now, out);
        }
        if let Err(why) = (self.key_check)(&key) {
            return self.refuse(&from, qid, Refusal::MalformedKey, why, out);
        }
        let mut open = true;
        if let Some(v) = value {
            let held = self.engine.store().get(&key);
            if let Err(e) = admit(held.as_ref(), v, SystemClock.now_ms(), &self.limits) {
                let why = e.to_string();
                return self.refuse(&from, qid, Refusal::from(&e), &why, out);
            }
            // Kept only by the nodes closest to the key; the others pass it on.
            let closer = self
                .engine
                .route_mut()
                .closer_than(self.me.get_id(), &key, self.replicas);
            open = closer < self.replicas;
        }
        self.back.insert(qid, *from.get_id());
        self.engine.store_mut().set_open(open);
        self.step(KVStoreCommand::Received(from, msg), now, out);
        self.engine.store_mut().set_open(true);
    }

    fn refuse(
        &mut self,
        from: &PeerInfo,
        qid: QueryID,
        reason: Refusal,
        why: &str,
        out: &mut Out<C>,
    ) {
        self.stats.refused += 1;
        warn!(self.log, "refused a peer's request";
              "peer" => %from.get_id(), "qid" => qid, "reason" => %reason, "detail" => why);
        out.push(Reply::Send(*from.get_id(), DhtMsg::Refused(qid, reason)));
    }

    /// An asynchronous reply carried back towards its collector `to`.
    fn relay(&mut self, from: PeerInfo, to: PeerId, msg: KvMsg, now: Instant, out: &mut Out<C>) {
        let Some(qid) = reply_qid(&msg) else {
            debug!(self.log, "dropped a relayed request"; "peer" => %from.get_id());
            return;
        };
        if to == *self.me.get_id() {
            return self.step(KVStoreCommand::Received(from, msg), now, out);
        }
        self.send_reply(to, qid, msg, Some(*from.get_id()), out);
    }

    /// Sends a reply to `to`, directly when it is online, else back along
    /// the query's path (never to `not`, where it came from).
    fn send_reply(
        &mut self,
        to: PeerId,
        qid: QueryID,
        msg: KvMsg,
        not: Option<PeerId>,
        out: &mut Out<C>,
    ) {
        if self.peers.contains(&to) {
            out.push(Reply::Send(to, DhtMsg::Kv(msg)));
            return;
        }
        match self.back.get(&qid) {
            Some(prev) if Some(*prev) != not && *prev != to => {
                self.stats.relayed += 1;
                out.push(Reply::Send(*prev, DhtMsg::Relay { to, msg }));
            }
            _ => debug!(self.log, "no way to a collector"; "collector" => %to, "qid" => qid),
        }
    }

    /// Runs the engine on `cmd` and carries out its replies.
    fn step(&mut self, cmd: KVStoreCommand<SignedValue, PeerInfo>, now: Instant, out: &mut Out<C>) {
        let mut replies = Vec::new();
        self.engine.handle(cmd, now, &mut replies);
        self.carry(replies, out);
    }

    fn carry(&mut self, replies: Vec<KVStoreReply<SignedValue, PeerInfo>>, out: &mut Out<C>) {
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
    fn found(&mut self, api: QueryId, found: Vec<SignedValue>, out: &mut Out<C>) {
        let refused = self.pending.remove(&api).and_then(|p| p.refused);
        let now_ms = SystemClock.now_ms();
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
        let reply = match refused {
            Some(reason) if valid.is_empty() => DhtReply::Refused(reason),
            _ => DhtReply::Found(valid),
        };
        out.push(Reply::Api(api, reply));
    }

    /// The answer of a put.
    fn stored(&mut self, api: QueryId, n: u32, out: &mut Out<C>) {
        let refused = self.pending.remove(&api).and_then(|p| p.refused);
        let reply = match refused {
            Some(reason) if n == 0 => DhtReply::Refused(reason),
            _ => DhtReply::Stored(n),
        };
        out.push(Reply::Api(api, reply));
    }
}

/// The query id of a request.
fn request_qid(msg: &KvMsg) -> Option<QueryID> {
    match msg {
        KVStoreProtoMsg::Find(q, _) | KVStoreProtoMsg::FindNear(q, _) => Some(q.qid),
        KVStoreProtoMsg::Store(q, _) => Some(q.qid),
        _ => None,
    }
}

/// The query id of a reply.
fn reply_qid(msg: &KvMsg) -> Option<QueryID> {
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
