//! # mydht
//!
//! A MyDHT node, and what every connection stands on:
//!
//! - the default peer identity ([`identity`]): an Ed25519 key pair saved in
//!   an owner-only PEM file, the [`PeerId`] (SHA-256 of the public key) and
//!   [`PeerInfo`];
//! - authentication ([`auth`]): the three-message [`Handshake`] (ping, pong,
//!   final pong) that proves both identity keys and derives the
//!   [`SessionKeys`] of a connection;
//! - shadows ([`shadow`]): the layers that protect a connection's bytes with
//!   those keys, [`SessionShadow`] (ChaCha20-Poly1305 chunks by default,
//!   AES-256-GCM as the [`CipherSuite`] option);
//! - the wire ([`frame`], [`msgenc`]): bounded length-prefixed frames and the
//!   [`Json`] and [`Bincode`] encoders;
//! - the node ([`conf`], [`profile`], [`core`], [`driver`], [`command`],
//!   [`service`], [`node_peer`]): a [`MyDHTConf`] names every component, its peer type
//!   (a [`NodePeer`], `PeerInfo` by default) and the reference its services
//!   share a peer through (`ArcRef` or `RcRef`), and, with one profile
//!   macro ([`threaded!`], [`single_thread!`], [`restartable!`],
//!   [`threaded_blocking!`], each taking per-service overrides to mix),
//!   how each service runs; every decision of the node is its
//!   [`NodeCore`], a state machine with no sockets, threads or clock,
//!   which a driver feeds with events and whose actions it carries out:
//!   [`start_loop`] runs the mio driver, [`MainLoop`], on a thread of its
//!   own (or [`start_driven`] on the caller's, turned by a
//!   [`MainLoopDriver`]) and gives a [`NodeHandle`] (queries, blocking or
//!   as futures, and stop); peer management is the application's
//!   [`PeerManager`].
//!
//! It is not a transport (`mydht-tcp`) nor a DHT application
//! (`mydht-kvstore`). The handshake does no I/O and reads no clock: the services drive it with
//! decoded messages and the current time.

pub mod auth;
pub mod command;
mod components;
pub mod conf;
pub mod core;
pub mod driver;
mod error;
pub mod frame;
pub mod identity;
pub mod log;
pub mod msgenc;
pub mod node_peer;
pub mod prelude;
pub mod profile;
pub mod service;
pub mod shadow;
pub mod stream;

pub use auth::{
    AuthError, AuthMessage, AuthMode, AuthPing, AuthPong, AuthPongFinal, Authenticated,
    ChallengeCache, CipherSuite, Handshake, SessionKeys, Step,
};
pub use command::{NodeStats, PeerCount};
pub use conf::{MainLoopSpawn, MyDHTConf, NodeConstants, PeerVerdict, ServiceLoops};
pub use core::NodeCore;
pub use driver::{start_driven, start_loop, CallFuture, MainLoop, MainLoopDriver, NodeHandle};
pub use error::NodeError;
pub use frame::{AttachmentReader, AttachmentWriter, FrameReader, FrameWriter};
pub use identity::{Identity, LocalPeer, PeerId, PeerInfo};
pub use msgenc::{Bincode, Json};
pub use node_peer::NodePeer;
pub use service::kvstore::{KVStoreService, QueryConf, QueryMode};
pub use service::peer_store::PeerStoreService;
pub use service::peer_store::{ClosestConnected, ConnectedRoute, PeerRoute};
pub use service::{
    AcceptAll, GlobalCommand, LocalCommand, PeerManager, PeerMgmtService, PeerStatus, QueryId,
    Reply,
};
pub use shadow::{NoShadow, SessionShadow, Shadow, TestShadow};

/// The guide `docs/first-app.md` of the repository: its code is compiled
/// and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../docs/first-app.md")]
struct FirstAppGuide;

/// The TCP transports (the `mydht-tcp` crate): `TcpTransport`, polled by the
/// node's mio loop, and `BlockingTcpTransport`.
pub use mydht_tcp as tcp;
