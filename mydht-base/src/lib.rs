//! # mydht-base
//!
//! The foundation every MyDHT crate stands on:
//! - the **service layer** ([`service`]): a node is made of [`Service`]s, and
//!   per service the user picks how it runs — inline ([`Blocker`]), restarted
//!   on the caller's thread ([`RestartOrError`]), its own thread
//!   ([`ThreadPark`], [`ThreadBlock`]), a pool, or a coroutine ([`CoRoutine`])
//!   — by naming a [`Spawner`] and a [`SpawnChannel`] type;
//! - references that cross threads ([`sref`]): [`SRef`], [`Ref`] with
//!   [`RcRef`], [`ArcRef`], [`CloneRef`], and [`sref_enum!`] /
//!   [`sref_struct!`] for a command type's sendable twin;
//! - [`ReadYield`] / [`WriteYield`]: non-blocking streams that suspend their
//!   service on `WouldBlock`;
//! - the error type with levels and causes ([`Error`], [`ErrorLevel`]).
//! - the wire-level plugin traits: message encoders ([`MsgEnc`], with the
//!   [`Attachment`] announcement), key/values ([`KeyVal`]).
//! - where key/values are kept ([`KVStore`], [`KVCache`]) and which peers a
//!   query for a key goes to ([`Route`]).
//! - the [`Transport`] trait (listen, accept, connect, read and write halves)
//!   and [`Registerable`], how a poller watches a transport without this crate
//!   naming the poller.
//!
//! It holds no networking code: transports, encoders and the main loop live
//! in `mydht-tcp` and `mydht`.

pub mod error;
pub mod keyval;
pub mod kvstore;
pub mod msgenc;
pub mod peer;
pub mod route;
pub mod service;
pub mod sref;
pub mod transport;
pub mod workload;

pub use error::{Error, ErrorKind, ErrorLevel, ErrorSource, Result};
pub use keyval::KeyVal;
pub use kvstore::{KVCache, KVStore};
pub use msgenc::{Attachment, MsgEnc};
pub use peer::Peer;
pub use route::Route;
pub use service::channel::{LocalRcChannel, MpscChannel, MpscChannelRef, NoChannel, NoSend};
#[cfg(feature = "coroutine")]
pub use service::spawn::CoRoutine;
pub use service::spawn::{
    Blocker, RestartOrError, ThreadBlock, ThreadPark, ThreadParkRef, ThreadPool,
};
#[cfg(unix)]
pub use service::ReadWait;
pub use service::{
    ReadYield, Service, ServiceRestartable, SpawnChannel, SpawnHandle, SpawnRecv, SpawnSend,
    SpawnUnyield, Spawner, SpawnerYield, TrySendError, WriteYield, YieldReturn,
};
pub use sref::{ArcRef, CloneRef, RcRef, RcRefSend, Ref, SRef, SToRef};
pub use transport::{Accepted, ConnectCheck, ConnectStatus, Connected, Registerable, Transport};
