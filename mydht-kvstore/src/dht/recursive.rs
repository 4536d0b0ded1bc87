//! The recursive side of a [`DhtGlobal`]: a peer's request for the query
//! engine, checked before the engine sees it, and asynchronous replies
//! carried towards their collector.

use std::time::Instant;

use mydht::conf::MyDHTConf;
use mydht::service::kvstore::{KVStoreCommand, KVStoreProtoMsg, QueryID};
use mydht::service::Reply;
use mydht::{PeerId, PeerInfo};
use mydht_base::{KVStore, Peer};
use slog::{debug, warn};

use crate::dht::global::{reply_qid, DhtGlobal, Out};
use crate::dht::msg::{DhtCmd, DhtMsg, DhtReply, KvMsg, Refusal};
use crate::store::admit;

impl<C> DhtGlobal<C>
where
    C: MyDHTConf<ProtoMsg = DhtMsg, GlobalCmd = DhtCmd, ApiReply = DhtReply, Peer = PeerInfo>,
{
    /// A message of the engine from a peer, checked first.
    pub(super) fn request(&mut self, from: PeerInfo, msg: KvMsg, now: Instant, out: &mut Out<C>) {
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
            if let Err(e) = admit(held.as_ref(), v, self.now_ms, &self.limits) {
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
        let offered = value.map(|v| (v.version(), v.expires_at()));
        self.engine.store_mut().set_open(open);
        self.step(KVStoreCommand::Received(from, msg), now, out);
        self.engine.store_mut().set_open(true);
        if let Some((version, expires)) = offered {
            if self.engine.store().get(&key).map(|v| v.version()) == Some(version) {
                self.republisher.held(key, expires, self.now_ms);
            }
        }
    }

    pub(super) fn refuse(
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
    pub(super) fn relay(
        &mut self,
        from: PeerInfo,
        to: PeerId,
        msg: KvMsg,
        now: Instant,
        out: &mut Out<C>,
    ) {
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
    pub(super) fn send_reply(
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
}
