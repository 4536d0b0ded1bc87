//! [`NodePeer`]: what a node needs of its peer type
//! ([`MyDHTConf::Peer`](crate::MyDHTConf::Peer)).
//!
//! The handshake proves a [`PeerInfo`]; the services hold and pass the
//! configuration's peer type (through its `PeerRef`); the api, the peer
//! store, peer routes and peer management see `PeerInfo`s again. So a
//! peer type is made from a `PeerInfo` once per authenticated peer and
//! lends it back. `PeerInfo` itself is the ready one; an application type
//! that wraps a `PeerInfo` with what it derives once per peer is another.

use std::borrow::Borrow;

use mydht_base::Peer;

use crate::identity::{PeerId, PeerInfo};

/// A peer type a node can run with: a [`Peer`] identified by a [`PeerId`],
/// made from the authenticated [`PeerInfo`] (`From`) and lending it back
/// (`Borrow`). Implemented for every such type.
///
/// ```
/// use std::borrow::Borrow;
///
/// use mydht::{NodePeer, PeerId, PeerInfo};
/// use mydht_base::Peer;
///
/// /// A peer and whether its address is on loopback, worked out once.
/// #[derive(Debug, Clone)]
/// struct LocalityPeer {
///     info: PeerInfo,
///     loopback: bool,
/// }
///
/// impl From<PeerInfo> for LocalityPeer {
///     fn from(info: PeerInfo) -> Self {
///         let loopback = info.get_address().starts_with("127.");
///         LocalityPeer { info, loopback }
///     }
/// }
///
/// impl Borrow<PeerInfo> for LocalityPeer {
///     fn borrow(&self) -> &PeerInfo {
///         &self.info
///     }
/// }
///
/// impl Peer for LocalityPeer {
///     type Id = PeerId;
///     type Address = String;
///     fn get_id(&self) -> &PeerId {
///         self.info.get_id()
///     }
///     fn get_address(&self) -> &String {
///         self.info.get_address()
///     }
///     fn tunnel_public_key(&self) -> &[u8; 32] {
///         self.info.tunnel_public_key()
///     }
/// }
///
/// fn runs_with<P: NodePeer>() {}
/// runs_with::<PeerInfo>();
/// runs_with::<LocalityPeer>();
/// ```
pub trait NodePeer: Peer<Id = PeerId> + From<PeerInfo> + Borrow<PeerInfo> + Send + Sync {}

impl<P> NodePeer for P where P: Peer<Id = PeerId> + From<PeerInfo> + Borrow<PeerInfo> + Send + Sync {}

/// The [`PeerInfo`] of a node peer (`Borrow` alone would be ambiguous with
/// its blanket `Borrow<Self>`).
pub(crate) fn info_of<P: NodePeer>(peer: &P) -> &PeerInfo {
    peer.borrow()
}
