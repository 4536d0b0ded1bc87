//! The DHT on live nodes: a `mydht` application whose global service runs
//! the query engine of `mydht` over this crate's values, stores and
//! routes.
//!
//! - [`msg`]: [`DhtMsg`] (between nodes), [`Refusal`], [`DhtCmd`] and
//!   [`DhtReply`] (between the application and its node);
//! - [`global`]: [`DhtGlobal`], the node's DHT service: checks what peers
//!   send, runs the engine, answers the api;
//! - [`local`]: [`DhtLocal`], the per-connection service that hands each
//!   message to it;
//! - [`store`] and [`route`]: [`DhtStore`] (memory or redb) and
//!   [`DhtRoute`] (connected peers by XOR, or the Kademlia table);
//! - [`settings`]: [`DhtSettings`]; [`conf`]: the ready [`DhtConf`];
//! - [`handle`]: [`Dht`], `put`/`get`, blocking or as [`DhtFuture`]s;
//!   [`error`]: [`DhtError`]; [`stats`]: [`DhtStats`];
//! - [`lookup`]: [`Lookup`], one iterative Kademlia lookup;
//!   [`republish`]: [`Republisher`], when values are placed again;
//!   [`time`]: [`TimeBase`], the service's time (plain state machines,
//!   the time given).

mod api;
mod bounded;
pub mod conf;
pub mod error;
pub mod future;
pub mod global;
pub mod handle;
mod iterative;
pub mod local;
pub mod lookup;
pub mod msg;
mod recursive;
mod replicate;
pub mod republish;
pub mod route;
pub mod settings;
pub mod stats;
pub mod store;
pub mod time;

pub use conf::DhtConf;
pub use error::DhtError;
pub use future::DhtFuture;
pub use global::{DhtEngine, DhtGlobal};
pub use handle::Dht;
pub use local::DhtLocal;
pub use lookup::{Lookup, LookupConf};
pub use msg::{DhtCmd, DhtMsg, DhtReply, KvMsg, Refusal};
pub use republish::{Due, Republisher};
pub use route::{DhtRoute, RouteChoice};
pub use settings::{default_key_check, DhtSettings, KeyCheck, LookupMode};
pub use stats::DhtStats;
pub use store::{DhtStore, StoreChoice};
pub use time::{DhtStart, TimeBase};
