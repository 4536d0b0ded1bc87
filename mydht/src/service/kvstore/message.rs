//! What goes in and out of a query engine: the wire messages between peers
//! ([`KVStoreProtoMsg`], encoded by the node's `MsgEnc`), the commands a node
//! gives it ([`KVStoreCommand`]) and what it asks the node to do in return
//! ([`KVStoreReply`]).

use std::time::Instant;

use mydht_base::{Error, KeyVal};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::conf::{QueryConf, QueryMode};

/// A query's id on the wire: chosen by the originator (unpredictable, see
/// `QueryEngine::new`), kept by every hop, the key of the query cache.
pub type QueryID = u64;

/// The id of a local api query, given by the node's api service and handed
/// back with the query's answer.
pub type ApiQueryId = u64;

/// The routing part of a `Find` or `Store` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(serialize = "P: Serialize", deserialize = "P: DeserializeOwned"))]
pub struct QueryMsg<P> {
    /// The query.
    pub qid: QueryID,
    /// Who collects asynchronous replies: the originator for
    /// [`QueryMode::Asynch`], the last proxying hop for
    /// [`QueryMode::AMix`]; `None` while the query is proxied, so that a
    /// proxied query does not tell where it comes from.
    pub origin: Option<P>,
    /// Who the receiver replies to, see [`QueryMode`]; `AMix(n)` counts the
    /// proxied hops still to go.
    pub mode: QueryMode,
    /// Hops the query may still travel after the receiver; 0: the receiver
    /// answers from its store only.
    pub hops: u8,
    /// How many peers the receiver forwards to.
    pub forward: u8,
    /// How many results end the query.
    pub nb_result: u8,
    /// How long the receiver keeps the query open, in milliseconds.
    pub timeout_ms: u32,
}

/// A message between the query engines of two peers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "P: Serialize", deserialize = "P: DeserializeOwned"))]
pub enum KVStoreProtoMsg<V: KeyVal, P> {
    /// Find the values of a key.
    Find(QueryMsg<P>, V::Key),
    /// Find the values whose keys are closest to a key (as the receiver's
    /// store measures closeness, see `QueryEngine::with_near`).
    FindNear(QueryMsg<P>, V::Key),
    /// Store a value.
    Store(QueryMsg<P>, V),
    /// Values found for a query: from a proxied hop, everything its branch
    /// found (possibly nothing); to a collector, what the sender found.
    Found(QueryID, Vec<V>),
    /// How many peers stored the value of a query, the same way.
    Stored(QueryID, u32),
}

/// A command for a query engine.
#[derive(Debug, Clone)]
pub enum KVStoreCommand<V: KeyVal, P> {
    /// Find `key` in the network; answered with [`KVStoreReply::FoundApi`]
    /// or [`KVStoreReply::Expired`].
    Find(ApiQueryId, V::Key, QueryConf),
    /// Find, on other peers, up to `nb_result` values whose keys are
    /// closest to `key` (a peer store: peers near an id, a random id for a
    /// random sample); answered like [`KVStoreCommand::Find`]. The local
    /// store's values are not among them.
    FindNear(ApiQueryId, V::Key, QueryConf),
    /// Look `key` up in the local store only; answered at once with
    /// [`KVStoreReply::FoundApi`].
    FindLocally(ApiQueryId, V::Key),
    /// Store the value locally and on the peers the route gives; answered
    /// with [`KVStoreReply::Done`] (the number of peers that stored it,
    /// besides this one) or [`KVStoreReply::Expired`].
    Store(ApiQueryId, V, QueryConf),
    /// Store the value locally only; answered at once with
    /// [`KVStoreReply::Done`] (1) or [`KVStoreReply::Failed`].
    StoreLocally(ApiQueryId, V),
    /// A message from a peer, as authenticated by its connection.
    Received(P, KVStoreProtoMsg<V, P>),
    /// The clock: queries whose time is up end with what they have.
    Tick(Instant),
}

/// What a query engine asks the node to do.
#[derive(Debug, Clone)]
pub enum KVStoreReply<V: KeyVal, P> {
    /// Send this request to each of these peers.
    Forward(Vec<P>, KVStoreProtoMsg<V, P>),
    /// Send this reply to this peer (the previous hop or the collector).
    Reply(P, KVStoreProtoMsg<V, P>),
    /// The values found for a local find.
    FoundApi(ApiQueryId, Vec<V>),
    /// A local store ended: how many peers stored the value.
    Done(ApiQueryId, u32),
    /// A local query ran out of time (or was evicted from a full query
    /// cache) before its result count: what it had.
    Expired {
        /// The query.
        api: ApiQueryId,
        /// Values found (a find).
        found: Vec<V>,
        /// Peers that stored (a store).
        stored: u32,
    },
    /// A local query failed (the local store refused a value).
    Failed(ApiQueryId, Error),
}
