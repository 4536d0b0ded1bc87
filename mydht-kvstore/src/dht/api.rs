//! The api side of a [`DhtGlobal`]: what the application asks its node
//! ([`DhtCmd`]) started in the query engine or as iterative lookups.

use std::time::Instant;

use mydht::conf::MyDHTConf;
use mydht::service::kvstore::{KVStoreCommand, KVStoreProtoMsg, KVStoreReply};
use mydht::service::{QueryId, Reply};
use mydht::PeerInfo;
use mydht_base::{KVStore, Peer};

use crate::dht::global::{request_qid, DhtGlobal, Out, Pending};
use crate::dht::msg::{DhtCmd, DhtMsg, DhtReply, Refusal};
use crate::dht::settings::LookupMode;
use crate::store::admit;
use crate::value::SignedValue;

impl<C> DhtGlobal<C>
where
    C: MyDHTConf<ProtoMsg = DhtMsg, GlobalCmd = DhtCmd, ApiReply = DhtReply, Peer = PeerInfo>,
{
    pub(super) fn api(&mut self, qid: QueryId, cmd: DhtCmd, now: Instant, out: &mut Out<C>) {
        let now_ms = self.now_ms;
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
                if matches!(self.lookup, LookupMode::Iterative(_)) {
                    return self.get_iterative(qid, key, conf, out);
                }
                self.start(qid, true, KVStoreCommand::Find(qid, key, conf), now, out);
            }
            DhtCmd::Tick => {
                self.tick(out);
                out.push(Reply::Api(qid, DhtReply::Ticked))
            }
            DhtCmd::Timer => {}
            DhtCmd::Stats => out.push(Reply::Api(qid, DhtReply::Stats(self.stats()))),
            DhtCmd::Republish { all } => self.republish_now(qid, all, out),
            DhtCmd::Bootstrap => self.bootstrap(qid, out),
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
        self.republisher.held(*v.key(), v.expires_at(), now_ms);
        if matches!(self.lookup, LookupMode::Iterative(_)) {
            return self.put_iterative(qid, v, conf, out);
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
            if let KVStoreReply::Forward(peers, msg) = r {
                if let Some(q) = request_qid(msg) {
                    self.by_qid.insert(q, qid);
                }
                if let KVStoreProtoMsg::Store(_, v) = msg {
                    let ids = peers.iter().map(|p| *p.get_id()).collect();
                    self.republisher.placed(v.key(), ids);
                }
            }
        }
        self.carry(replies, out);
    }
}
