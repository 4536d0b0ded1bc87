//! How a query ends: answered once it has its result count or nothing left
//! to wait for, or given up (expired, evicted) with what it has. Either way
//! its answer goes where the query came from: the api, the previous hop, or
//! nowhere for an asynchronous hop that already replied on its own.

use mydht_base::{KeyVal, Peer};

use super::cache::{QueryState, Upstream, Work};
use super::message::{KVStoreProtoMsg, KVStoreReply, QueryID};

impl<V: KeyVal, P: Peer> QueryState<V, P> {
    /// Answers if the query has its result count or nothing left to wait
    /// for.
    pub(crate) fn finish_if_complete(&mut self, qid: QueryID, out: &mut Vec<KVStoreReply<V, P>>) {
        let complete = self.count() >= usize::from(self.nb_result)
            || (!self.collecting && self.awaiting.is_empty());
        if !self.done && complete {
            self.done = true;
            self.answer(qid, false, out);
        }
    }

    /// Ends a query that ran out of time or room with what it has.
    pub(crate) fn give_up(mut self, qid: QueryID, out: &mut Vec<KVStoreReply<V, P>>) {
        if !self.done {
            self.answer(qid, true, out);
        }
    }

    /// Sends what the query has to where it answers.
    fn answer(&mut self, qid: QueryID, expired: bool, out: &mut Vec<KVStoreReply<V, P>>) {
        let (found, stored) = match &mut self.work {
            Work::Find { found, .. } => (Some(std::mem::take(found)), 0),
            Work::Store { stored } => (None, *stored),
        };
        out.push(match (&self.upstream, found) {
            (Upstream::Nobody, _) => return,
            (Upstream::Api(api), found) if expired => KVStoreReply::Expired {
                api: *api,
                found: found.unwrap_or_default(),
                stored,
            },
            (Upstream::Api(api), Some(found)) => KVStoreReply::FoundApi(*api, found),
            (Upstream::Api(api), None) => KVStoreReply::Done(*api, stored),
            (Upstream::Peer(p), Some(found)) => {
                KVStoreReply::Reply(p.clone(), KVStoreProtoMsg::Found(qid, found))
            }
            (Upstream::Peer(p), None) => {
                KVStoreReply::Reply(p.clone(), KVStoreProtoMsg::Stored(qid, stored))
            }
        });
    }
}
