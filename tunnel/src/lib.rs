//! # tunnel
//!
//! Multi-hop onion tunnels as streams, independent of any node: the sender
//! picks the route and the reply route; each hop reads only its own layer
//! and streams the rest with a bounded buffer.
//!
//! **Is**: the wire format and the state machines — a Sphinx-style fixed
//! header ([`header`]), constant-size per-hop authenticated content cells
//! ([`cell`]), and the Full tunnel ([`full`]) that puts them together as
//! readwrite-comp [`ExtWrite`](readwrite_comp::ExtWrite) /
//! [`ExtRead`](readwrite_comp::ExtRead) layers, with single-use reply
//! blocks and a bounded replay cache. Every hop sees a header of the same
//! length and cells of the same size, whatever its position.
//!
//! **Is not**: networking, peer lookup or threading. Addresses are opaque
//! bytes; `mydht-tunnel` maps them to peers and runs these layers in
//! services.
//!
//! Key types: [`FullWriter`] (the sender), [`HopReader`] (every hop, the
//! exit and the sender reading a reply), [`FullTunnel`] (a node's replay
//! cache and kept reply keys, implementing the [`TunnelNoRep`] / [`Tunnel`]
//! traits a node is generic over), and the light views [`TunnelReadProv`] /
//! [`TunnelNoRepReadProv`] that read services clone.

pub mod cell;
pub mod config;
pub mod crypto;
pub mod error;
pub mod full;
pub mod header;
pub mod replay;
pub mod tunnel;

/// The light, clonable tunnel views a read service holds. They are the
/// read side of the Full tunnel and live in [`full`]; this path is kept.
pub mod view {
    pub use crate::full::{TunnelNoRepReadProv, TunnelReadProv};
}

pub use config::TunnelConfig;
pub use error::{HopFailure, TunnelError};
pub use full::{
    FrameLayout, FullTunnel, FullWriter, HopReader, ReplyBlock, ReplyWriter, ReportReader,
    TunnelNoRepReadProv, TunnelReadProv,
};
pub use header::{route_from_peers, HopKind, RouteHop};
pub use tunnel::{Tunnel, TunnelNoRep};
