//! What an application uses, in one import: `use mydht::prelude::*;`.
//!
//! The configuration trait and its ready parts (profiles, the
//! [`default_components!`](crate::default_components) items), the node
//! handle and its errors, the services' commands and replies, peers, and
//! from `mydht-base` the traits a service implements (`Service`,
//! `SpawnerYield`) and the `Peer` trait whose `get_id`/`get_address` every
//! peer has.

pub use crate::command::PeerCount;
pub use crate::conf::{MainLoopSpawn, MyDHTConf, NodeConstants, PeerVerdict};
pub use crate::driver::{start_driven, start_loop, MainLoopDriver, NodeHandle};
pub use crate::error::NodeError;
pub use crate::identity::{Identity, PeerId, PeerInfo};
pub use crate::msgenc::{Bincode, Json};
pub use crate::service::{
    GlobalCommand, LocalCommand, PeerManager, PeerStatus, PeersView, QueryId, Reply,
};
pub use crate::shadow::SessionShadow;
pub use mydht_base::{Error, ErrorKind, Peer, Result, Service, SpawnerYield};
pub use mydht_tcp::TcpTransport;
