//! The iterative lookups of a [`DhtGlobal`]: started by a get, a put, a
//! republish, a bootstrap or a bucket refresh; each a [`Lookup`] whose
//! requests this module sends (dialling the peers the node is not
//! connected to) and whose answers it feeds back.

use std::time::Duration;

use mydht::conf::{Address, MyDHTConf};
use mydht::service::kvstore::{QueryConf, QueryID};
use mydht::service::{QueryId, Reply};
use mydht::{PeerId, PeerInfo};
use mydht_base::{KVStore, Peer};
use slog::{debug, warn};

use crate::dht::global::{ms, DhtGlobal, Out, Pending};
use crate::dht::lookup::{Lookup, LookupConf};
use crate::dht::msg::{DhtCmd, DhtMsg, DhtReply, Refusal};
use crate::dht::replicate::PlaceFor;
use crate::kademlia::Distance;
use crate::key::Key;
use crate::value::SignedValue;

/// What a lookup is for.
pub(crate) enum Purpose {
    /// An api get.
    Get(QueryId),
    /// An api put: place the value on the closest peers found.
    Put(QueryId, SignedValue),
    /// Republishing: place the value on the closest peers found, for the
    /// republishing step the api may wait for.
    Republish(SignedValue, Option<QueryId>),
    /// An api bootstrap.
    Bootstrap(QueryId),
    /// A bucket refresh (the answers fill the bucket; the k closest are
    /// not needed). On the timer it ends once the α closest peers found
    /// answered (dialled if need be: the contacts it asks prove alive or
    /// leave); at a join (`join`) once α peers answered, the connected
    /// peers among the k closest asked first, so that a joining node
    /// opens few connections besides those to its own neighbours.
    Refresh { join: bool },
}

/// A lookup under way.
pub(crate) struct Active {
    lookup: Lookup,
    purpose: Purpose,
}

impl<C> DhtGlobal<C>
where
    C: MyDHTConf<ProtoMsg = DhtMsg, GlobalCmd = DhtCmd, ApiReply = DhtReply, Peer = PeerInfo>,
{
    /// An api get by iterative lookup: the local value, else the lookup's
    /// (0 hops: the local store only).
    pub(super) fn get_iterative(
        &mut self,
        api: QueryId,
        key: Key,
        conf: QueryConf,
        out: &mut Out<C>,
    ) {
        let want = usize::from(conf.nb_result.max(1));
        self.pending.insert(
            api,
            Pending {
                get: true,
                refused: None,
            },
        );
        let local = self.engine.store().get(&key);
        if conf.hops == 0 || (want == 1 && local.is_some()) {
            // The store verified it when it took it; expiry is its own.
            return self.found_verified(api, local.into_iter().collect(), out);
        }
        if !self.start_lookup(key, want, conf.timeout, Purpose::Get(api), out) {
            self.too_many(api, out);
        }
    }

    /// An api put by iterative lookup (the value is already held here).
    pub(super) fn put_iterative(
        &mut self,
        api: QueryId,
        v: SignedValue,
        conf: QueryConf,
        out: &mut Out<C>,
    ) {
        self.pending.insert(
            api,
            Pending {
                get: false,
                refused: None,
            },
        );
        if let Err(e) = self.engine.store_mut().put(v.clone()) {
            self.pending.remove(&api);
            return out.push(Reply::Api(api, DhtReply::Failed(e)));
        }
        if conf.hops == 0 {
            return self.stored(api, 1, out);
        }
        if !self.start_lookup(*v.key(), 0, conf.timeout, Purpose::Put(api, v), out) {
            self.too_many(api, out);
        }
    }

    /// A lookup of the node's own id, answered with how many peers
    /// answered it (the route's size without iterative lookups).
    pub(super) fn bootstrap(&mut self, api: QueryId, out: &mut Out<C>) {
        let target = Key::new(*self.me.get_id().as_bytes());
        let timeout = Duration::from_millis(self.lookup_conf().peer_timeout_ms * 4);
        if !matches!(self.lookup, crate::dht::LookupMode::Iterative(_)) {
            let n = self.engine.route().len() as u32;
            return out.push(Reply::Api(api, DhtReply::Bootstrapped(n)));
        }
        if !self.start_lookup(target, 0, timeout, Purpose::Bootstrap(api), out) {
            self.too_many(api, out);
        }
    }

    fn too_many(&mut self, api: QueryId, out: &mut Out<C>) {
        self.pending.remove(&api);
        let e = mydht_base::Error::new(
            mydht_base::ErrorKind::TooLarge,
            mydht_base::ErrorLevel::Ignore,
            "too many lookups under way",
        );
        out.push(Reply::Api(api, DhtReply::Failed(e)));
    }

    /// Starts a lookup of `target` wanting `want` values (0: the closest
    /// peers), ending within `timeout`; false when too many are under way.
    pub(super) fn start_lookup(
        &mut self,
        target: Key,
        want: usize,
        timeout: Duration,
        purpose: Purpose,
        out: &mut Out<C>,
    ) -> bool {
        let mut conf = self.lookup_conf();
        if self.lookups.len() >= conf.max_lookups {
            return false;
        }
        let route = self.engine.route();
        let mut seeds = route.known(&target, conf.k, &[]);
        if want > 0 {
            // A lookup for a value asks a connected peer first: the
            // connected peers closest to the key, in the table or not.
            seeds.extend(route.connected(&target, conf.k, &[]));
        }
        let alpha = conf.alpha.clamp(1, conf.k.max(1));
        if matches!(purpose, Purpose::Refresh { join: false }) {
            conf.k = alpha;
        }
        let deadline = self.now_ms.saturating_add(ms(timeout));
        let mut lookup = Lookup::new(target, *self.me.get_id(), want, seeds, conf, deadline);
        if matches!(purpose, Purpose::Refresh { join: true }) {
            lookup = lookup.sampling(alpha);
        }
        let qid = self.new_id();
        self.stats.lookups += 1;
        self.engine.route_mut().looked_up(&target, self.now_ms);
        self.lookups.insert(qid, Active { lookup, purpose });
        self.advance(qid, out);
        true
    }

    /// Sends a lookup's next requests, or ends it.
    fn advance(&mut self, qid: QueryID, out: &mut Out<C>) {
        let Some(active) = self.lookups.get_mut(&qid) else {
            return;
        };
        if active.lookup.is_done(self.now_ms) {
            return self.finish_lookup(qid, out);
        }
        let peers = &self.peers;
        let ask = active
            .lookup
            .next_with(self.now_ms, |id| peers.contains(id));
        let key = *active.lookup.target();
        let value = active.lookup.wants_values();
        for peer in ask {
            self.stats.lookup_requests += 1;
            let id = *peer.get_id();
            let msg = DhtMsg::FindNode { qid, key, value };
            if self.peers.contains(&id) {
                out.push(Reply::Send(id, msg));
                continue;
            }
            match peer.get_address().parse::<Address<C>>() {
                Ok(address) => match self.dialling.get_mut(&id) {
                    Some((_, qids)) => qids.push(qid),
                    None => {
                        self.stats.lookup_dials += 1;
                        let text = address.to_string();
                        self.dialled.insert(text.clone(), id);
                        self.dialling.insert(id, (text, vec![qid]));
                        // Expecting that peer there: known-key when its
                        // binding came with it, and another node at the
                        // address is refused (a `DialFailed`).
                        out.push(Reply::ConnectTo(peer));
                    }
                },
                Err(_) => {
                    debug!(self.log, "a peer's address does not parse"; "peer" => %id);
                    if let Some(a) = self.lookups.get_mut(&qid) {
                        a.lookup.failed(&id);
                    }
                }
            }
        }
        let done = self
            .lookups
            .get(&qid)
            .is_some_and(|a| a.lookup.is_done(self.now_ms));
        if done {
            self.finish_lookup(qid, out);
        }
    }

    /// A peer came online: the lookups that dialled it ask it now.
    pub(super) fn lookup_online(&mut self, peer: &PeerInfo, out: &mut Out<C>) {
        let Some((address, qids)) = self.dialling.remove(peer.get_id()) else {
            return;
        };
        self.dialled.remove(&address);
        for qid in qids {
            if let Some(a) = self.lookups.get(&qid) {
                let key = *a.lookup.target();
                let value = a.lookup.wants_values();
                out.push(Reply::Send(
                    *peer.get_id(),
                    DhtMsg::FindNode { qid, key, value },
                ));
            }
        }
    }

    /// A peer went offline: it fails in every lookup, and in placements.
    pub(super) fn lookup_offline(&mut self, id: &PeerId, out: &mut Out<C>) {
        if let Some((address, _)) = self.dialling.remove(id) {
            self.dialled.remove(&address);
        }
        self.fail_in_lookups(id, out);
        self.place_offline(id, out);
    }

    /// Peer `id` fails in every lookup, which go on without it.
    fn fail_in_lookups(&mut self, id: &PeerId, out: &mut Out<C>) {
        let mut touched = Vec::new();
        for (qid, a) in self.lookups.iter_mut() {
            a.lookup.failed(id);
            touched.push(*qid);
        }
        for qid in touched {
            self.advance(qid, out);
        }
    }

    /// A dial to `address` failed (nothing listens there, or it could not
    /// be reached): the peer dialled there fails in every lookup (those
    /// waiting for it ask the next closest) and leaves the routing table
    /// at once.
    pub(super) fn dial_failed(
        &mut self,
        address: &str,
        error: &mydht_base::Error,
        out: &mut Out<C>,
    ) {
        let Some(id) = self.dialled.remove(&address.to_string()) else {
            return;
        };
        self.stats.dials_failed += 1;
        debug!(self.log, "a dialled peer could not be reached";
               "peer" => %id, "address" => address, "error" => %error);
        self.dialling.remove(&id);
        self.engine.route_mut().offline(&id, self.now_ms);
        self.fail_in_lookups(&id, out);
    }

    /// A peer refused a lookup's request (a malformed key): it failed.
    pub(super) fn lookup_refused(&mut self, from: &PeerId, qid: QueryID, out: &mut Out<C>) -> bool {
        let Some(a) = self.lookups.get_mut(&qid) else {
            return false;
        };
        a.lookup.failed(from);
        self.advance(qid, out);
        true
    }

    /// A peer's `FindNode`: the closest peers known, and the value.
    pub(super) fn find_node(
        &mut self,
        from: &PeerInfo,
        qid: QueryID,
        key: Key,
        value: bool,
        out: &mut Out<C>,
    ) {
        self.stats.find_nodes_received += 1;
        if let Err(why) = (self.key_check)(&key) {
            return self.refuse(from, qid, Refusal::MalformedKey, why, out);
        }
        let value = if value {
            self.engine.store().get(&key)
        } else {
            None
        };
        // With the value, no peers: the lookup that wants it ends with it.
        let (peers, contacts) = match value {
            Some(_) => (Vec::new(), Vec::new()),
            None => {
                let LookupConf { k, alpha, .. } = self.lookup_conf();
                self.engine
                    .route()
                    .to_tell(&key, k, alpha, &[*from.get_id()])
            }
        };
        out.push(Reply::Send(
            *from.get_id(),
            DhtMsg::Nodes {
                qid,
                peers,
                value,
                contacts,
            },
        ));
    }

    /// A peer's answer to a lookup's request: the peers it heard from,
    /// and the contacts it only heard of (asked, not kept in the table).
    pub(super) fn nodes(
        &mut self,
        from: &PeerInfo,
        qid: QueryID,
        (peers, contacts): (Vec<PeerInfo>, Vec<PeerInfo>),
        value: Option<SignedValue>,
        out: &mut Out<C>,
    ) {
        let LookupConf { k, alpha, .. } = self.lookup_conf();
        let Some(a) = self.lookups.get_mut(&qid) else {
            debug!(self.log, "an answer to no lookup"; "peer" => %from.get_id(), "qid" => qid);
            return;
        };
        let value = match value {
            Some(v) if v.key() != a.lookup.target() => None,
            Some(v) => match v.verify(self.now_ms, &self.limits) {
                Ok(()) => Some(v),
                Err(e) => {
                    self.stats.dropped_found += 1;
                    warn!(self.log, "dropped a found value that does not verify";
                          "key" => %v.key(), "peer" => %from.get_id(), "error" => %e);
                    None
                }
            },
            None => None,
        };
        let mut peers = peers;
        peers.truncate(k);
        let learn = peers.clone();
        if !contacts.is_empty() {
            // Closer than the peers heard from: they stay within the k
            // the lookup reads.
            let target = *a.lookup.target();
            peers.extend(contacts.into_iter().take(alpha));
            peers.sort_by_cached_key(|p| Distance::between(p.get_id(), &target));
            peers.truncate(k);
        }
        if a.lookup.answered(from.get_id(), peers, value) {
            let route = self.engine.route_mut();
            // An answer is a sign of life, and names contacts.
            route.online(from.clone(), self.now_ms);
            route.learned(&learn, self.now_ms);
            self.advance(qid, out);
        }
    }

    /// The tick of lookups: requests unanswered for the peer timeout fail,
    /// lookups past their deadline end; buckets idle too long are
    /// refreshed by a lookup of a random id in their range.
    pub(super) fn lookups_tick(&mut self, out: &mut Out<C>) {
        let qids: Vec<QueryID> = self.lookups.keys().copied().collect();
        for qid in qids {
            if let Some(a) = self.lookups.get_mut(&qid) {
                for id in a.lookup.expire(self.now_ms) {
                    self.engine.route_mut().failed(&id, self.now_ms);
                }
            }
            self.advance(qid, out);
        }
        if !matches!(self.lookup, crate::dht::LookupMode::Iterative(_)) {
            return;
        }
        let ids = self.engine.route_mut().refresh_due(self.now_ms);
        self.refresh(ids, false, out);
    }

    /// Starts a refresh lookup of each of `ids`, at a join or not (while
    /// fewer than the most lookups are under way).
    fn refresh(&mut self, ids: Vec<[u8; 32]>, join: bool, out: &mut Out<C>) {
        let timeout = Duration::from_millis(self.lookup_conf().peer_timeout_ms * 4);
        for id in ids {
            let purpose = Purpose::Refresh { join };
            if !self.start_lookup(Key::new(id), 0, timeout, purpose, out) {
                break;
            }
        }
    }

    /// Ends a lookup: answers its get or bootstrap, places its value.
    fn finish_lookup(&mut self, qid: QueryID, out: &mut Out<C>) {
        let Some(Active {
            mut lookup,
            purpose,
        }) = self.lookups.remove(&qid)
        else {
            return;
        };
        let replicas = self.replicas;
        match purpose {
            Purpose::Get(api) => {
                if let Some(depth) = lookup.found_depth() {
                    self.stats.lookups_found += 1;
                    self.stats.lookup_hops += u64::from(depth);
                }
                // Each verified as its answer came.
                self.found_verified(api, lookup.take_values(), out)
            }
            Purpose::Put(api, v) => {
                let targets = lookup.closest_answered(replicas);
                self.place(v, targets, PlaceFor::Api(api), out)
            }
            Purpose::Republish(v, round) => {
                let targets = lookup.closest_answered(replicas);
                self.place(v, targets, PlaceFor::Round(round), out)
            }
            Purpose::Bootstrap(api) => {
                let n = lookup.closest_answered(lookup_k(&self.lookup)).len() as u32;
                out.push(Reply::Api(api, DhtReply::Bootstrapped(n)));
                // Kademlia's join: a lookup in each bucket's range, from
                // the closest peer's out, so that the node knows peers
                // all over the id space (asking connected peers first:
                // its neighbours know it already).
                let ids = self.engine.route_mut().refresh_all(self.now_ms);
                self.refresh(ids, true, out);
            }
            Purpose::Refresh { .. } => {}
        }
    }
}

fn lookup_k(mode: &crate::dht::LookupMode) -> usize {
    match mode {
        crate::dht::LookupMode::Iterative(c) => c.k,
        crate::dht::LookupMode::Recursive => 0,
    }
}
