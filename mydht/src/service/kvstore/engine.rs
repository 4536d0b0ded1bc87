//! [`QueryEngine`]: the find/store query state machine. Commands and the
//! current time in, [`KVStoreReply`]s out; no threads, sockets or clock.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use mydht_base::{KVCache, KVStore, KeyVal, Peer, Route};

use super::cache::{QueryCache, QueryState, Upstream, Work};
use super::conf::{KVStoreLimits, QueryConf, QueryMode};
use super::message::{
    ApiQueryId, KVStoreCommand, KVStoreProtoMsg, KVStoreReply, QueryID, QueryMsg,
};

/// What a request carries on: the key to find or the value to store.
enum Payload<V: KeyVal> {
    Find(V::Key),
    Near(V::Key),
    Store(V),
}

/// The values of a store closest to a key, at most a number of them.
pub type NearFn<S, K, V> = fn(&S, &K, usize) -> Vec<V>;

/// How a hop forwards a query.
struct Leg<P> {
    /// Mode of the forwarded requests.
    mode: QueryMode,
    /// Collector named in the forwarded requests.
    origin: Option<P>,
    /// True when this hop is that collector.
    collecting: bool,
}

/// A reply of a peer, for the query it answers.
enum Answer<V> {
    Found(Vec<V>),
    Stored(u32),
}

/// The query state machine of a `KVStoreService`: answers finds and stores
/// from the api and from peers with the local [`KVStore`], forwards them to
/// the peers its [`Route`] gives, collects replies in a bounded query cache
/// and ends queries on their result count or deadline.
///
/// Every count read from a peer is clamped to the [`KVStoreLimits`]; a query
/// id already in the cache is not processed again (a proxied duplicate gets
/// an empty answer so that its sender does not wait); the previous hop and
/// the collector are never routed back to. Values found are checked to have
/// the key that was asked for.
///
/// Two nodes, `a` asking `b` (the node carries the messages):
///
/// ```
/// use std::time::Instant;
/// use mydht::service::kvstore::{
///     KVStoreCommand, KVStoreLimits, KVStoreReply, MemoryStore, QueryConf, QueryEngine,
/// };
/// use mydht_base::{KVStore, KeyVal, Peer, Route};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct P(u8, String, [u8; 32]);
/// impl Peer for P {
///     type Id = u8;
///     type Address = String;
///     fn get_id(&self) -> &u8 { &self.0 }
///     fn get_address(&self) -> &String { &self.1 }
///     fn tunnel_public_key(&self) -> &[u8; 32] { &self.2 }
/// }
/// #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// struct Note(u32, String);
/// impl KeyVal for Note {
///     type Key = u32;
///     fn get_key(&self) -> u32 { self.0 }
/// }
/// /// Every known peer is a candidate.
/// struct Known(Vec<P>);
/// impl Route<P, u32> for Known {
///     fn route(&mut self, _: &u32, nb: usize, exclude: &[u8]) -> Vec<P> {
///         self.0.iter().filter(|p| !exclude.contains(&p.0)).take(nb).cloned().collect()
///     }
/// }
///
/// let (pa, pb) = (P(1, "a".into(), [0; 32]), P(2, "b".into(), [0; 32]));
/// let limits = KVStoreLimits::default();
/// let route_a = Known(vec![pb.clone()]);
/// let mut a = QueryEngine::new(pa.clone(), MemoryStore::new(8), route_a, limits, 1);
/// let mut b = QueryEngine::new(pb.clone(), MemoryStore::new(8), Known(vec![]), limits, 2);
/// b.store_mut().put(Note(7, "hello".into())).unwrap();
///
/// let now = Instant::now();
/// let mut out = Vec::new();
/// a.handle(KVStoreCommand::Find(100, 7, QueryConf::default()), now, &mut out);
/// let Some(KVStoreReply::Forward(to, request)) = out.pop() else { panic!() };
/// assert_eq!(to, vec![pb.clone()]);
///
/// b.handle(KVStoreCommand::Received(pa.clone(), request), now, &mut out);
/// let Some(KVStoreReply::Reply(to, found)) = out.pop() else { panic!() };
/// assert_eq!(to, pa);
///
/// a.handle(KVStoreCommand::Received(pb, found), now, &mut out);
/// match out.pop() {
///     Some(KVStoreReply::FoundApi(100, v)) => assert_eq!(v, vec![Note(7, "hello".into())]),
///     other => panic!("{other:?}"),
/// }
/// ```
pub struct QueryEngine<V: KeyVal, P: Peer, S, R> {
    me: P,
    store: S,
    route: R,
    limits: KVStoreLimits,
    cache: QueryCache<V, P>,
    qid_seed: u64,
    qid_counter: u64,
    near: Option<NearFn<S, V::Key, V>>,
}

impl<V, P, S, R> QueryEngine<V, P, S, R>
where
    V: KeyVal,
    P: Peer,
    S: KVStore<V>,
    R: Route<P, V::Key>,
{
    /// The engine of node `me`. Query ids are a hash of `qid_seed` and a
    /// counter: give a random seed (as `KVStoreService::new` does) so that
    /// peers cannot predict, and so squat, this node's query ids; a fixed
    /// seed makes tests reproducible.
    pub fn new(me: P, store: S, route: R, limits: KVStoreLimits, qid_seed: u64) -> Self {
        QueryEngine {
            me,
            store,
            route,
            cache: QueryCache::new(limits.cache_capacity),
            limits,
            qid_seed,
            qid_counter: 0,
            near: None,
        }
    }

    /// How this node's store answers a [`KVStoreProtoMsg::FindNear`]: the
    /// closest values it holds to a key. Without it, such a find is
    /// answered with nothing (closeness is the store's to define).
    pub fn with_near(mut self, near: NearFn<S, V::Key, V>) -> Self {
        self.near = Some(near);
        self
    }

    /// The node this engine runs for.
    pub fn me(&self) -> &P {
        &self.me
    }

    /// The local store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The local store, to change it directly.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The route.
    pub fn route(&self) -> &R {
        &self.route
    }

    /// The route, to tell it of peers.
    pub fn route_mut(&mut self) -> &mut R {
        &mut self.route
    }

    /// Number of queries in the query cache.
    pub fn cached_queries(&self) -> usize {
        self.cache.len_c()
    }

    /// The earliest query deadline: when to send the next
    /// [`KVStoreCommand::Tick`].
    pub fn next_deadline(&self) -> Option<Instant> {
        self.cache.next_deadline()
    }

    /// Applies `cmd` at time `now`, appending what the node must do to `out`.
    pub fn handle(
        &mut self,
        cmd: KVStoreCommand<V, P>,
        now: Instant,
        out: &mut Vec<KVStoreReply<V, P>>,
    ) {
        match cmd {
            KVStoreCommand::Find(api, key, conf) => {
                let found = self.store.get(&key).into_iter().collect();
                let work = Work::Find {
                    key: key.clone(),
                    found,
                    near: false,
                };
                self.start_local(api, work, Payload::Find(key), conf, now, out);
            }
            KVStoreCommand::FindNear(api, key, conf) => {
                let work = Work::Find {
                    key: key.clone(),
                    found: Vec::new(),
                    near: true,
                };
                self.start_local(api, work, Payload::Near(key), conf, now, out);
            }
            KVStoreCommand::FindLocally(api, key) => {
                let found = self.store.get(&key).into_iter().collect();
                out.push(KVStoreReply::FoundApi(api, found));
            }
            KVStoreCommand::Store(api, kv, conf) => match self.store.put(kv.clone()) {
                Err(e) => out.push(KVStoreReply::Failed(api, e)),
                Ok(()) if conf.hops == 0 => out.push(KVStoreReply::Done(api, 1)),
                // The local copy is not counted: the result count is of the
                // other peers that hold the value.
                Ok(()) => {
                    let work = Work::Store { stored: 0 };
                    self.start_local(api, work, Payload::Store(kv), conf, now, out);
                }
            },
            KVStoreCommand::StoreLocally(api, kv) => match self.store.put(kv) {
                Ok(()) => out.push(KVStoreReply::Done(api, 1)),
                Err(e) => out.push(KVStoreReply::Failed(api, e)),
            },
            KVStoreCommand::Received(from, msg) => match msg {
                KVStoreProtoMsg::Find(q, key) => {
                    self.request(from, q, Payload::Find(key), now, out)
                }
                KVStoreProtoMsg::FindNear(q, key) => {
                    self.request(from, q, Payload::Near(key), now, out)
                }
                KVStoreProtoMsg::Store(q, kv) => {
                    self.request(from, q, Payload::Store(kv), now, out)
                }
                KVStoreProtoMsg::Found(qid, vals) => {
                    self.reply(&from, qid, Answer::Found(vals), out)
                }
                KVStoreProtoMsg::Stored(qid, n) => self.reply(&from, qid, Answer::Stored(n), out),
            },
            KVStoreCommand::Tick(now) => {
                for (qid, state) in self.cache.expire(now) {
                    state.give_up(qid, out);
                }
            }
        }
    }

    /// A query of the local api.
    fn start_local(
        &mut self,
        api: ApiQueryId,
        work: Work<V>,
        payload: Payload<V>,
        conf: QueryConf,
        now: Instant,
        out: &mut Vec<KVStoreReply<V, P>>,
    ) {
        let conf = self.limits.clamp(conf);
        let qid = self.new_qid();
        // The originator forwards as if it had received the mode with one
        // more proxied hop: `Asynch` makes it the collector.
        let mode = match conf.mode {
            QueryMode::AProxy => QueryMode::AProxy,
            QueryMode::Asynch => QueryMode::AMix(1),
            QueryMode::AMix(n) => QueryMode::AMix(n.saturating_add(1)),
        };
        let leg = self.leg(mode, None);
        let upstream = Upstream::Api(api);
        self.open(
            qid,
            upstream,
            work,
            leg,
            conf,
            payload,
            Vec::new(),
            now,
            out,
        );
    }

    /// A `Find` or `Store` from a peer.
    fn request(
        &mut self,
        from: P,
        q: QueryMsg<P>,
        payload: Payload<V>,
        now: Instant,
        out: &mut Vec<KVStoreReply<V, P>>,
    ) {
        let conf = self.limits.clamp(QueryConf {
            mode: q.mode,
            hops: q.hops,
            forward: q.forward,
            nb_result: q.nb_result,
            timeout: Duration::from_millis(u64::from(q.timeout_ms)),
        });
        let direct = matches!(q.mode, QueryMode::Asynch | QueryMode::AMix(0));
        if self.cache.has_c(&q.qid) {
            if !direct {
                let answer = match payload {
                    Payload::Find(_) | Payload::Near(_) => {
                        KVStoreProtoMsg::Found(q.qid, Vec::new())
                    }
                    Payload::Store(_) => KVStoreProtoMsg::Stored(q.qid, 0),
                };
                out.push(KVStoreReply::Reply(from, answer));
            }
            return;
        }
        if direct {
            match &q.origin {
                // Malformed: nobody to answer.
                None => return,
                // Not a query of ours (those are in the cache): a peer
                // naming us as the collector of a query we never sent.
                Some(o) if o.get_id() == self.me.get_id() => return,
                Some(_) => {}
            }
        }
        let work = match &payload {
            Payload::Find(key) => Work::Find {
                key: key.clone(),
                found: self.store.get(key).into_iter().collect(),
                near: false,
            },
            Payload::Near(key) => Work::Find {
                key: key.clone(),
                found: match self.near {
                    Some(near) => near(&self.store, key, usize::from(conf.nb_result)),
                    None => Vec::new(),
                },
                near: true,
            },
            Payload::Store(kv) => Work::Store {
                stored: u32::from(self.store.put(kv.clone()).is_ok()),
            },
        };
        let mut exclude = vec![from.get_id().clone()];
        if let Some(o) = &q.origin {
            exclude.push(o.get_id().clone());
        }
        if !direct {
            let leg = self.leg(q.mode, q.origin);
            let upstream = Upstream::Peer(from);
            self.open(q.qid, upstream, work, leg, conf, payload, exclude, now, out);
            return;
        }
        // Asynchronous: what is found here goes straight to the collector,
        // and nothing comes back through this hop.
        let Some(collector) = q.origin else {
            return; // checked above
        };
        let mut state = QueryState {
            upstream: Upstream::Nobody,
            work,
            awaiting: Vec::new(),
            collecting: false,
            nb_result: conf.nb_result,
            deadline: deadline(now, conf.timeout),
            done: true,
        };
        let count = state.count();
        match &mut state.work {
            Work::Find { found, .. } if !found.is_empty() => out.push(KVStoreReply::Reply(
                collector.clone(),
                KVStoreProtoMsg::Found(q.qid, std::mem::take(found)),
            )),
            Work::Store { stored: 1.. } => out.push(KVStoreReply::Reply(
                collector.clone(),
                KVStoreProtoMsg::Stored(q.qid, 1),
            )),
            _ => {}
        }
        if count < usize::from(conf.nb_result) && conf.hops > 0 {
            let leg = Leg {
                mode: QueryMode::Asynch,
                origin: Some(collector),
                collecting: false,
            };
            self.forward(q.qid, payload, &leg, conf, count, exclude, out);
        }
        self.remember(q.qid, state, out);
    }

    /// Forwards a query this hop answers for (originator or proxy) and
    /// answers at once when nothing is left to wait for.
    #[allow(clippy::too_many_arguments)] // one call per origin of a query
    fn open(
        &mut self,
        qid: QueryID,
        upstream: Upstream<P>,
        work: Work<V>,
        leg: Leg<P>,
        conf: QueryConf,
        payload: Payload<V>,
        exclude: Vec<P::Id>,
        now: Instant,
        out: &mut Vec<KVStoreReply<V, P>>,
    ) {
        let local = matches!(upstream, Upstream::Api(_));
        let mut state = QueryState {
            upstream,
            work,
            awaiting: Vec::new(),
            collecting: leg.collecting,
            nb_result: conf.nb_result,
            deadline: deadline(now, conf.timeout),
            done: false,
        };
        let count = state.count();
        let mut forwarded = false;
        if count < usize::from(conf.nb_result) && conf.hops > 0 {
            let peers = self.forward(qid, payload, &leg, conf, count, exclude, out);
            forwarded = !peers.is_empty();
            if !leg.collecting {
                state.awaiting = peers.iter().map(|p| p.get_id().clone()).collect();
            }
        }
        // A collector that reached nobody has nothing to wait for.
        state.collecting &= forwarded;
        state.finish_if_complete(qid, out);
        // A local query that went nowhere cannot come back: nothing to
        // remember.
        if forwarded || !local {
            self.remember(qid, state, out);
        }
    }

    /// Sends the query on to the peers of the route; returns them.
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &mut self,
        qid: QueryID,
        payload: Payload<V>,
        leg: &Leg<P>,
        conf: QueryConf,
        count: usize,
        mut exclude: Vec<P::Id>,
        out: &mut Vec<KVStoreReply<V, P>>,
    ) -> Vec<P> {
        exclude.push(self.me.get_id().clone());
        let nb = usize::from(conf.forward);
        let routed = match &payload {
            Payload::Find(key) | Payload::Near(key) => self.route.route(key, nb, &exclude),
            Payload::Store(kv) => self.route.route(&kv.get_key(), nb, &exclude),
        };
        // Neither an excluded peer nor the same peer twice, whatever the
        // route answers.
        let mut peers = Vec::with_capacity(nb.min(routed.len()));
        for p in routed {
            if peers.len() == nb {
                break;
            }
            if !exclude.contains(p.get_id()) {
                exclude.push(p.get_id().clone());
                peers.push(p);
            }
        }
        if peers.is_empty() {
            return peers;
        }
        let hops = conf.hops - 1;
        // Each hop keeps a slice of its time to send back what it has before
        // the previous hop gives up.
        let timeout = conf.timeout - conf.timeout / (u32::from(hops) + 2);
        let msg = QueryMsg {
            qid,
            origin: leg.origin.clone(),
            mode: leg.mode,
            hops,
            forward: conf.forward,
            // `count < nb_result` here.
            nb_result: conf.nb_result - count as u8,
            timeout_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
        };
        let msg = match payload {
            Payload::Find(key) => KVStoreProtoMsg::Find(msg, key),
            Payload::Near(key) => KVStoreProtoMsg::FindNear(msg, key),
            Payload::Store(kv) => KVStoreProtoMsg::Store(msg, kv),
        };
        out.push(KVStoreReply::Forward(peers.clone(), msg));
        peers
    }

    /// A `Found` or `Stored` from a peer.
    fn reply(
        &mut self,
        from: &P,
        qid: QueryID,
        answer: Answer<V>,
        out: &mut Vec<KVStoreReply<V, P>>,
    ) {
        let Some(state) = self.cache.get_mut_c(&qid) else {
            return;
        };
        if state.done {
            return;
        }
        // Proxied peers answer once; a collector takes anyone's values (they
        // are checked against the key).
        if let Some(i) = state.awaiting.iter().position(|id| id == from.get_id()) {
            state.awaiting.swap_remove(i);
        } else if !state.collecting {
            return;
        }
        let nb = usize::from(state.nb_result);
        match (&mut state.work, answer) {
            (Work::Find { key, found, near }, Answer::Found(vals)) => {
                for v in vals {
                    if found.len() >= nb {
                        break;
                    }
                    let k = v.get_key();
                    let wanted = if *near {
                        !found.iter().any(|f| f.get_key() == k)
                    } else {
                        &k == key
                    };
                    if wanted {
                        found.push(v);
                    }
                }
            }
            (Work::Store { stored }, Answer::Stored(n)) => {
                *stored = stored.saturating_add(n.min(u32::from(state.nb_result)));
            }
            _ => {} // a find answered with a store count, or the reverse
        }
        state.finish_if_complete(qid, out);
    }

    /// Who a hop that received `mode` forwards to, and whether it collects.
    fn leg(&self, mode: QueryMode, origin: Option<P>) -> Leg<P> {
        match mode {
            QueryMode::AProxy => Leg {
                mode: QueryMode::AProxy,
                origin: None,
                collecting: false,
            },
            // The last proxied hop becomes the collector of the
            // asynchronous part.
            QueryMode::AMix(1) => Leg {
                mode: QueryMode::Asynch,
                origin: Some(self.me.clone()),
                collecting: true,
            },
            QueryMode::AMix(n @ 2..) => Leg {
                mode: QueryMode::AMix(n - 1),
                origin: None,
                collecting: false,
            },
            QueryMode::Asynch | QueryMode::AMix(0) => Leg {
                mode: QueryMode::Asynch,
                origin,
                collecting: false,
            },
        }
    }

    /// Keeps a query in the cache; a query evicted to make room ends with
    /// what it had.
    fn remember(
        &mut self,
        qid: QueryID,
        state: QueryState<V, P>,
        out: &mut Vec<KVStoreReply<V, P>>,
    ) {
        if let Some((old, evicted)) = self.cache.add_c(qid, state) {
            evicted.give_up(old, out);
        }
    }

    fn new_qid(&mut self) -> QueryID {
        loop {
            self.qid_counter = self.qid_counter.wrapping_add(1);
            let mut h = DefaultHasher::new();
            (self.qid_seed, self.qid_counter).hash(&mut h);
            let qid = h.finish();
            if !self.cache.has_c(&qid) {
                return qid;
            }
        }
    }
}

/// `now + timeout`, without overflow for absurd timeouts (limits are the
/// caller's to set).
fn deadline(now: Instant, timeout: Duration) -> Instant {
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(now)
}
