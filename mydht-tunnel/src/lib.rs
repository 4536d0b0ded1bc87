//! # mydht-tunnel
//!
//! Onion tunnels between live MyDHT peers: an application sends a message
//! through N peers of its choosing and gets the reply back along the reply
//! route it chose; no relay learns more than the previous and the next
//! hop, and every message travels on send-once connections.
//!
//! **Is**: the node around the `tunnel` crate's format — the
//! [`MyDHTTunnelConf`] an application implements (its message, api
//! command and answer types, its inner service), the [`TunnelNode`]
//! `MyDHTConf` built around it (profile as a type name: [`Threaded`],
//! [`Restartable`], [`SingleThread`]), the global tunnel service
//! ([`TunnelGlobal`]: route provider fed by peer events, query bookkeeping,
//! sending) and the local tunnel service ([`TunnelLocal`]: the read side,
//! which relays, answers as the exit, and reads replies, never through the
//! global service).
//!
//! **Is not**: the onion format itself (the `tunnel` crate) nor the node
//! (`mydht`).
//!
//! Key types: [`MyDHTTunnelConf`], [`TunnelNode`], [`TunnelSend`],
//! [`TunnelSendError`].

pub mod address;
mod ahead;
mod app;
pub mod book;
mod conf;
mod error;
mod global;
pub mod link;
mod local;
pub mod msg;
pub mod onion;
pub mod route;
mod shared;
pub mod stream;

pub use app::{
    tunnel_constants, Attachment, Carriage, Destination, InnerCommand, InnerReply, MyDHTTunnelConf,
    ReplyRoute, TunnelCmd, TunnelSend,
};
pub use conf::{Restartable, SingleThread, Threaded, TunnelAnswer, TunnelConfOf, TunnelNode};
pub use error::TunnelSendError;
pub use global::TunnelGlobal;
pub use local::TunnelLocal;
pub use msg::TunnelMsg;
pub use shared::{SharedTunnel, TunnelShared};
