//! # mydht
//!
//! A MyDHT node. For now it holds what every connection stands on:
//!
//! - the default peer identity ([`identity`]): an Ed25519 key pair saved in
//!   an owner-only PEM file, the [`PeerId`] (SHA-256 of the public key) and
//!   [`PeerInfo`];
//! - authentication ([`auth`]): the three-message [`Handshake`] (ping, pong,
//!   final pong) that proves both identity keys and derives the
//!   [`SessionKeys`] of a connection;
//! - shadows ([`shadow`]): the layers that protect a connection's bytes with
//!   those keys, [`SessionShadow`] (ChaCha20-Poly1305 chunks) by default;
//! - the wire ([`frame`], [`msgenc`]): bounded length-prefixed frames and the
//!   [`Json`] and [`Bincode`] encoders.
//!
//! It is not (yet) a node: configuration, main loop and services come next.
//! The handshake does no I/O and reads no clock: the services drive it with
//! decoded messages and the current time.

pub mod auth;
pub mod conf;
pub mod frame;
pub mod identity;
pub mod mainloop;
pub mod msgenc;
pub mod profile;
pub mod service;
pub mod shadow;

pub use auth::{
    AuthError, AuthMessage, AuthPing, AuthPong, AuthPongFinal, Authenticated, ChallengeCache,
    Handshake, SessionKeys, Step,
};
pub use conf::{MyDHTConf, NodeConstants, PeerVerdict};
pub use frame::{AttachmentReader, AttachmentWriter, FrameReader, FrameWriter};
pub use identity::{Identity, LocalPeer, PeerId, PeerInfo};
pub use mainloop::{start_loop, NodeHandle, PeerCount};
pub use msgenc::{Bincode, Json};
pub use service::kvstore::{KVStoreService, QueryConf, QueryMode};
pub use service::peer_store::PeerStoreService;
pub use service::{GlobalCommand, LocalCommand, PeerStatus, QueryId, Reply};
pub use shadow::{NoShadow, SessionShadow, Shadow, TestShadow};
