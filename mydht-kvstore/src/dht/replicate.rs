//! Placements and republishing of a [`DhtGlobal`]: a value sent to the
//! peers closest to its key ([`DhtMsg::Place`]), their answers counted;
//! at each tick, the values the [`Republisher`](super::Republisher) finds
//! due placed again — on the closest peers an iterative lookup finds, or,
//! with recursive queries, on the closest peers of the route.

use mydht::conf::MyDHTConf;
use mydht::service::kvstore::QueryID;
use mydht::service::{QueryId, Reply};
use mydht::{PeerId, PeerInfo};
use mydht_base::{KVStore, Peer, Route};

use crate::dht::global::{DhtGlobal, Out};
use crate::dht::iterative::Purpose;
use crate::dht::msg::{DhtCmd, DhtMsg, DhtReply, Refusal};
use crate::dht::republish::Due;
use crate::dht::settings::LookupMode;
use crate::key::Key;
use crate::store::admit;
use crate::value::SignedValue;

/// Who waits for a placement.
pub(crate) enum PlaceFor {
    /// An api put.
    Api(QueryId),
    /// A republishing step (the api waits for it when given).
    Round(Option<QueryId>),
}

/// A placement waiting for its peers' answers.
pub(crate) struct Placing {
    key: Key,
    awaiting: Vec<PeerId>,
    /// Peers that took the value.
    taken: Vec<PeerId>,
    deadline_ms: u64,
    purpose: PlaceFor,
    /// On the closest peers (else on newcomers, besides the holders).
    around: bool,
}

/// A republishing step the api waits for.
#[derive(Debug, Default)]
pub(crate) struct Round {
    values: u32,
    placements: u32,
    /// Lookups and placements not ended.
    open: u32,
}

impl<C> DhtGlobal<C>
where
    C: MyDHTConf<ProtoMsg = DhtMsg, GlobalCmd = DhtCmd, ApiReply = DhtReply, Peer = PeerInfo>,
{
    /// Sends `v` to each of `targets` that is online, for `purpose`.
    pub(super) fn place(
        &mut self,
        v: SignedValue,
        targets: Vec<PeerInfo>,
        purpose: PlaceFor,
        out: &mut Out<C>,
    ) {
        let ids = targets.iter().map(|p| *p.get_id()).collect();
        self.place_on(v, ids, purpose, true, out)
    }

    /// Sends `v` to each of `ids` that is online, for `purpose`; `around`:
    /// they are the peers closest to the key (else newcomers among them).
    fn place_on(
        &mut self,
        v: SignedValue,
        mut ids: Vec<PeerId>,
        purpose: PlaceFor,
        around: bool,
        out: &mut Out<C>,
    ) {
        let key = *v.key();
        ids.retain(|id| self.peers.contains(id));
        let awaiting = ids;
        if awaiting.is_empty() || self.placing.len() >= self.capacity {
            let p = Placing {
                key,
                awaiting: Vec::new(),
                taken: Vec::new(),
                deadline_ms: self.now_ms,
                purpose,
                around,
            };
            return self.end_placement(p, out);
        }
        let qid = self.new_id();
        self.stats.placements_sent += awaiting.len() as u64;
        out.push(Reply::SendTo(awaiting.clone(), DhtMsg::Place(qid, v)));
        let deadline_ms = self.now_ms + self.lookup_conf().peer_timeout_ms;
        let p = Placing {
            key,
            awaiting,
            taken: Vec::new(),
            deadline_ms,
            purpose,
            around,
        };
        self.placing.insert(qid, p);
    }

    /// A peer's answer to placement `qid` (`refused` with a reason); false
    /// when `qid` is no placement of this node.
    pub(super) fn place_answer(
        &mut self,
        from: &PeerId,
        qid: QueryID,
        refused: Option<Refusal>,
        out: &mut Out<C>,
    ) -> bool {
        let Some(p) = self.placing.get_mut(&qid) else {
            return false;
        };
        let Some(at) = p.awaiting.iter().position(|id| id == from) else {
            return true;
        };
        p.awaiting.swap_remove(at);
        match refused {
            None => p.taken.push(*from),
            Some(reason) => {
                if let PlaceFor::Api(api) = p.purpose {
                    if let Some(pending) = self.pending.get_mut(&api) {
                        pending.refused = Some(reason);
                    }
                }
            }
        }
        if p.awaiting.is_empty() {
            if let Some(p) = self.placing.remove(&qid) {
                self.end_placement(p, out);
            }
        }
        true
    }

    /// A peer went offline: the placements waiting for it do not.
    pub(super) fn place_offline(&mut self, id: &PeerId, out: &mut Out<C>) {
        let ended: Vec<QueryID> = self
            .placing
            .iter_mut()
            .filter_map(|(qid, p)| {
                p.awaiting.retain(|a| a != id);
                p.awaiting.is_empty().then_some(*qid)
            })
            .collect();
        for qid in ended {
            if let Some(p) = self.placing.remove(&qid) {
                self.end_placement(p, out);
            }
        }
    }

    fn end_placement(&mut self, p: Placing, out: &mut Out<C>) {
        let n = p.taken.len() as u32;
        if p.around && !p.taken.is_empty() {
            self.republisher.placed(&p.key, p.taken);
        } else if !p.taken.is_empty() {
            self.republisher.placed_also(&p.key, p.taken);
        }
        match p.purpose {
            PlaceFor::Api(api) => self.stored(api, n, out),
            PlaceFor::Round(round) => self.job_done(round, n, out),
        }
    }

    /// A peer's value to keep: checked as a store is, then held (an equal
    /// version already held is taken as it is).
    pub(super) fn placement_received(
        &mut self,
        from: &PeerInfo,
        qid: QueryID,
        v: SignedValue,
        out: &mut Out<C>,
    ) {
        self.stats.placements_received += 1;
        if let Err(why) = (self.key_check)(v.key()) {
            return self.refuse(from, qid, Refusal::MalformedKey, why, out);
        }
        let held = self.engine.store().get(v.key());
        let same = held
            .as_ref()
            .is_some_and(|h| h.publisher() == v.publisher() && h.version() == v.version());
        if !same {
            if let Err(e) = admit(held.as_ref(), &v, self.now_ms, &self.limits) {
                let why = e.to_string();
                return self.refuse(from, qid, Refusal::from(&e), &why, out);
            }
            if let Err(e) = self.engine.store_mut().put(v.clone()) {
                let why = e.to_string();
                return self.refuse(from, qid, Refusal::NotKept, &why, out);
            }
        }
        // Placed here by a peer: this node's own republishing waits.
        self.republisher.held(*v.key(), v.expires_at(), self.now_ms);
        out.push(Reply::Send(*from.get_id(), DhtMsg::Placed(qid)));
    }

    /// The node's timers: lookups, placements, republishing.
    pub(super) fn tick(&mut self, out: &mut Out<C>) {
        self.lookups_tick(out);
        let now = self.now_ms;
        let late: Vec<QueryID> = self
            .placing
            .iter()
            .filter(|(_, p)| p.deadline_ms <= now)
            .map(|(qid, _)| *qid)
            .collect();
        for qid in late {
            if let Some(p) = self.placing.remove(&qid) {
                self.end_placement(p, out);
            }
        }
        self.republish(None, self.republish_batch, out);
    }

    /// [`DhtCmd::Republish`]: a republishing step now, answered once its
    /// placements end.
    pub(super) fn republish_now(&mut self, api: QueryId, all: bool, out: &mut Out<C>) {
        if self.rounds.len() >= self.capacity {
            return out.push(Reply::Api(
                api,
                DhtReply::Republished {
                    values: 0,
                    placements: 0,
                },
            ));
        }
        if all {
            self.republisher.force_all();
        }
        self.rounds.insert(api, Round::default());
        self.republish(Some(api), usize::MAX, out);
        self.job_done(Some(api), 0, out);
    }

    /// Places again at most `max` values due, for the round `round`.
    fn republish(&mut self, round: Option<QueryId>, max: usize, out: &mut Out<C>) {
        let due = self.republisher.due(self.now_ms, max);
        if let Some(r) = round.and_then(|r| self.rounds.get_mut(&r)) {
            // One more for the step itself, ended by `republish_now`.
            r.open = due.len() as u32 + 1;
        }
        for (key, due) in due {
            let Some(v) = self.engine.store().get(&key) else {
                self.republisher.forget(&key);
                self.job_done(round, 0, out);
                continue;
            };
            self.stats.republished += 1;
            if let Some(r) = round.and_then(|r| self.rounds.get_mut(&r)) {
                r.values += 1;
            }
            match (due, self.lookup) {
                (Due::On(newcomers), _) => {
                    self.place_on(v, newcomers, PlaceFor::Round(round), false, out)
                }
                (Due::Around, LookupMode::Iterative(conf)) => {
                    let timeout = std::time::Duration::from_millis(conf.peer_timeout_ms * 4);
                    let purpose = Purpose::Republish(v, round);
                    if !self.start_lookup(key, 0, timeout, purpose, out) {
                        self.job_done(round, 0, out);
                    }
                }
                (Due::Around, LookupMode::Recursive) => {
                    let targets = self.engine.route_mut().route(&key, self.replicas, &[]);
                    self.place(v, targets, PlaceFor::Round(round), out);
                }
            }
        }
    }

    /// One lookup or placement of round `round` ended, `placed` peers
    /// having taken its value.
    pub(super) fn job_done(&mut self, round: Option<QueryId>, placed: u32, out: &mut Out<C>) {
        let Some(api) = round else {
            return;
        };
        let Some(r) = self.rounds.get_mut(&api) else {
            return;
        };
        r.placements += placed;
        r.open = r.open.saturating_sub(1);
        if r.open == 0 {
            let values = r.values;
            let placements = r.placements;
            self.rounds.remove(&api);
            out.push(Reply::Api(
                api,
                DhtReply::Republished { values, placements },
            ));
        }
    }
}
