//! The services of a node, each a [`Service`](mydht_base::Service) that a
//! spawner of the configuration runs:
//!
//! - [`ReadService`]: one per authenticated connection, reads and decodes
//!   frames through the session shadow and hands application messages to a
//!   local service it spawns;
//! - [`WriteService`]: one per authenticated connection, encodes and writes
//!   what the node sends to that peer;
//! - the local service (the application's, per connection) and the global
//!   service (the application's shared state), which answer with [`Reply`];
//! - [`ApiService`]: query bookkeeping, reply collection and expiry;
//! - [`PeerMgmtService`]: peer management, a [`PeerVerdict`](crate::PeerVerdict)
//!   per authenticated peer from the application's [`PeerManager`].
//!
//! [`ServiceSlot`] is how the node and the read service hold a service
//! whatever its spawner: it sends commands, wakes the service and restarts
//! it when its loop has ended.

pub mod api;
mod app;
mod app_send;
mod ctx;
mod global_dest;
pub mod kvstore;
mod local_dest;
mod peer_mgmt;
pub mod peer_store;
mod peers_view;
mod read;
mod slot;
mod stream_pump;
mod timeout_io;
mod write;

pub use api::{ApiCommand, ApiResult, ApiService, Partial, ReplyFuture, ReplySlot};
pub use app::{GlobalCommand, LocalCommand, PeerStatus, QueryId, Reply};
pub use app_send::{GlobalCommandSend, LocalCommandSend, ReplySend};
pub use ctx::ServiceCtx;
pub(crate) use global_dest::{global_ends, DirectPeers, NotGiven};
pub use global_dest::{
    DirectWriter, GlobalDest, GlobalInput, GlobalRecv, GlobalWay, GlobalWeakHandle, GlobalWeakSend,
};
pub use local_dest::{LocalDest, WriteWeakHandle, WriteWeakSend};
pub use peer_mgmt::{
    AcceptAll, PeerManager, PeerMgmtCommand, PeerMgmtCommandSend, PeerMgmtReply, PeerMgmtService,
};
pub use peers_view::PeersView;
pub use read::{ReadCommand, ReadService};
pub use slot::ServiceSlot;
pub use timeout_io::{Activity, TimeoutAsBlock};
pub use write::{WriteCommand, WriteService};
