//! The generic key/value store service: finds and stores of
//! [`KeyVal`](mydht_base::KeyVal)s routed over peers, the engine under both
//! the node's peer store and the DHT of `mydht-kvstore`.
//!
//! - [`QueryEngine`]: the query state machine (commands and time in, things
//!   to send out; no threads, sockets or clock), with its query cache
//!   (bounded, with expiry) and loop avoidance;
//! - [`KVStoreService`]: the engine as a [`Service`](mydht_base::Service);
//! - [`QueryConf`] / [`QueryMode`]: how one query travels — proxied hop by
//!   hop (`AProxy`), answered straight to the originator (`Asynch`), or
//!   proxied for `n` hops then asynchronous (`AMix(n)`) — and
//!   [`KVStoreLimits`], the bounds every query is clamped to;
//! - [`KVStoreProtoMsg`]: the messages between peers, serde-serializable for
//!   the node's `MsgEnc`;
//! - [`MemoryStore`]: the bounded in-memory [`KVStore`](mydht_base::KVStore).
//!
//! It is not a route: which peers a query goes to is the
//! [`Route`](mydht_base::Route) it is given (Kademlia lives in
//! `mydht-kvstore`).

mod answer;
pub(crate) mod bounded;
mod cache;
mod conf;
mod engine;
mod message;
mod service;
mod store;

pub use conf::{KVStoreLimits, QueryConf, QueryMode};
pub use engine::{NearFn, QueryEngine};
pub use message::{ApiQueryId, KVStoreCommand, KVStoreProtoMsg, KVStoreReply, QueryID, QueryMsg};
pub use service::{KVStoreService, ServiceClock};
pub use store::MemoryStore;
