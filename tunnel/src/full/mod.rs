//! The Full tunnel: a fixed header, then constant-size cells, as
//! readwrite-comp layers; reply blocks; the hop's full object holding the
//! replay cache and the kept reply keys.
//!
//! Query: the sender's [`FullWriter`] writes the header for the whole route
//! and the payload in cells with one layer per hop. Each relay's
//! [`HopReader`] reads its layer of the header, writes the next header and
//! moves cells one at a time, peeling its layer. The exit's `HopReader`
//! reads the payload, and the reply block if the sender put one first in
//! the content.
//!
//! Reply: the exit's [`ReplyWriter`] writes the reply header the sender
//! built and seals cells under its back key, each with a link entry under
//! the first reply hop's link key (from the reply block); each reply relay
//! (after [`FullTunnel::admit`] checked its replay cache) checks its link
//! entry, adds a layer and seals the link entry for the next hop; the
//! sender's `HopReader`, admitted with the keys she kept, checks the last
//! link entry and peels every layer.
//!
//! Errors: a hop that cannot go on makes an error report
//! ([`HopReader::error_report`]); the hops before it wrap it
//! ([`HopReader::wrap_error_report`]) on its way back; the sender's
//! [`FullWriter::read_error_report`] (or the [`ReportReader`] she took
//! from her writer, to read reports while it streams) turns it into
//! [`TunnelError::HopFailed`] naming the hop.
//!
//! ```
//! use readwrite_comp::{ExtRead, ExtWrite};
//! use tunnel::crypto::X25519Secret;
//! use tunnel::{FullTunnel, HopKind, RouteHop, TunnelConfig};
//!
//! let config = TunnelConfig::default();
//! let node = |addr: &str| -> Result<_, Box<dyn std::error::Error>> {
//!     let secret = X25519Secret::generate()?;
//!     let hop = RouteHop { public_key: *secret.public_key(), address: addr.into() };
//!     Ok((FullTunnel::new(config, secret)?, hop))
//! };
//! let (mut alice, alice_hop) = node("alice")?;
//! let (relay, relay_hop) = node("relay")?;
//! let (bob, bob_hop) = node("bob")?;
//!
//! // Alice: query through the relay to Bob, reply straight back to her.
//! let mut w = alice.new_writer(&[relay_hop, bob_hop], Some(&[alice_hop]))?;
//! let mut to_relay = Vec::new();
//! w.write_header(&mut to_relay)?;
//! w.write_all_into(&mut to_relay, b"hello")?;
//! w.write_end(&mut to_relay)?;
//!
//! // The relay reads its layer and pumps the rest to the next address.
//! let mut input = &to_relay[..];
//! let mut r = relay.view().new_reader();
//! r.read_header(&mut input)?;
//! assert_eq!(r.next_address(), Some(&b"bob"[..]));
//! let mut to_bob = Vec::new();
//! r.pump(&mut input, &mut to_bob)?;
//! assert_eq!(to_bob.len(), to_relay.len()); // same frame length at every hop
//!
//! // Bob reads the payload and replies with the block Alice gave him.
//! let mut input = &to_bob[..];
//! let mut r = bob.view().new_reader();
//! r.read_header(&mut input)?;
//! let mut buf = [0u8; 16];
//! let n = r.read_from(&mut input, &mut buf)?;
//! assert_eq!(&buf[..n], b"hello");
//! let mut reply = r.reply_writer()?;
//! let mut to_alice = Vec::new();
//! reply.write_header(&mut to_alice)?;
//! reply.write_all_into(&mut to_alice, b"hi")?;
//! reply.write_end(&mut to_alice)?;
//!
//! // Alice reads the reply with the keys her FullTunnel kept.
//! let mut input = &to_alice[..];
//! let mut r = alice.view().new_reader();
//! r.read_header(&mut input)?;
//! assert_eq!(r.kind(), Some(HopKind::ReplyExit));
//! alice.admit(&mut r)?;
//! let n = r.read_from(&mut input, &mut buf)?;
//! assert_eq!(&buf[..n], b"hi");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod exit;
mod hop;
mod layout;
mod relay;
mod reply_block;
mod report;
mod view;
mod writer;

pub use crate::error::HopFailure;
pub use hop::HopReader;
pub use layout::FrameLayout;
pub use reply_block::{PendingReplies, PendingReply, ReplyBlock};
pub use report::{ReportReader, ERROR_REPORT_LEN};
pub use view::{TunnelNoRepReadProv, TunnelReadProv};
pub use writer::{FullWriter, OnionWriter, ReplyWriter};

use std::sync::Arc;

use crate::config::TunnelConfig;
use crate::crypto::X25519Secret;
use crate::error::TunnelError;
use crate::header::{EphemeralKeys, HopKind, RouteHop};
use crate::replay::ReplayCache;
use crate::tunnel::{Tunnel, TunnelNoRep};

/// A hop's full tunnel object: its key, its bounded replay cache and the
/// bounded table of reply keys it keeps as a sender.
///
/// One per node (the tunnel global service holds it). Read services hold
/// the light [`TunnelReadProv`] instead and hand a [`HopReader`] here only
/// when [`HopReader::is_admitted`] is false.
pub struct FullTunnel {
    view: TunnelReadProv,
    replay: ReplayCache,
    pending: PendingReplies,
    keys: EphemeralKeys,
}

/// Header key pairs a [`FullTunnel`] keeps made ahead: a query through 3
/// relays each way takes 8 (4 for the query header, 4 for the reply's).
pub const EPHEMERAL_KEYS_KEPT: usize = 32;

impl FullTunnel {
    /// The tunnel object of the node holding `secret`.
    pub fn new(config: TunnelConfig, secret: X25519Secret) -> Result<Self, TunnelError> {
        Ok(FullTunnel {
            view: TunnelReadProv::new(config, Arc::new(secret))?,
            replay: ReplayCache::new(config.replay_cache_size),
            pending: PendingReplies::new(config.max_pending_replies),
            keys: EphemeralKeys::new(EPHEMERAL_KEYS_KEPT),
        })
    }

    /// How many header key pairs this object lacks to hold
    /// [`EPHEMERAL_KEYS_KEPT`]: make them where they cost no query its
    /// time (outside any lock held with this object) and
    /// [`add_ephemeral_keys`](Self::add_ephemeral_keys).
    pub fn ephemeral_room(&self) -> usize {
        self.keys.room()
    }

    /// Keeps header key pairs made ahead (past [`EPHEMERAL_KEYS_KEPT`]
    /// dropped); [`new_writer`](Self::new_writer) takes them first.
    pub fn add_ephemeral_keys(&mut self, keys: impl IntoIterator<Item = X25519Secret>) {
        self.keys.add(keys);
    }

    /// The header key pairs, and the hops prepared ahead, this node's
    /// queries take ([`EphemeralKeys`]).
    pub fn ephemeral_keys_mut(&mut self) -> &mut EphemeralKeys {
        &mut self.keys
    }

    /// A light clonable view for read services (no cache).
    pub fn view(&self) -> TunnelReadProv {
        self.view.clone()
    }

    /// The frame layout.
    pub fn layout(&self) -> &FrameLayout {
        self.view.layout()
    }

    /// A query writer for `route`; with `reply_route` (reply relays, then
    /// this node last), keeps the reply keys until the reply is read. The
    /// headers' key pairs are those made ahead, then fresh ones.
    pub fn new_writer(
        &mut self,
        route: &[RouteHop],
        reply_route: Option<&[RouteHop]>,
    ) -> Result<FullWriter, TunnelError> {
        if reply_route.is_some() && self.pending.len() >= self.pending_capacity() {
            return Err(TunnelError::TooManyPendingReplies);
        }
        let layout = *self.view.layout();
        let (writer, pending) = FullWriter::with_keys(&layout, route, reply_route, &mut self.keys)?;
        if let Some(p) = pending {
            self.pending.insert(p)?;
        }
        Ok(writer)
    }

    fn pending_capacity(&self) -> usize {
        self.view.config().max_pending_replies
    }

    /// Lets `reader` go on where it needs this object: a reply relay is
    /// checked against the replay cache (a second use is
    /// [`TunnelError::Replayed`]); a reply to this node gets the keys kept
    /// for it ([`TunnelError::UnknownReply`] if none). Other roles pass.
    pub fn admit(&mut self, reader: &mut HopReader) -> Result<(), TunnelError> {
        match reader.kind() {
            Some(HopKind::ReplyRelay) => reader.admit_reply_relay(&mut self.replay),
            Some(HopKind::ReplyExit) => reader.admit_reply_exit(&mut self.pending),
            Some(_) => Ok(()),
            None => Err(reader.failure().cloned().unwrap_or(TunnelError::NoHeader)),
        }
    }

    /// Replies this node awaits as a sender.
    pub fn pending_replies(&self) -> usize {
        self.pending.len()
    }

    /// Gives up waiting for reply `id` (forgets its keys).
    pub fn cancel_reply(&mut self, id: &[u8; crate::crypto::REPLAY_ID_LEN]) -> bool {
        self.pending.cancel(id)
    }
}

impl TunnelNoRep for FullTunnel {
    type Writer = FullWriter;
    type Reader = HopReader;
    type ReadProv = TunnelReadProv;

    fn new_writer(&mut self, route: &[RouteHop]) -> Result<FullWriter, TunnelError> {
        FullTunnel::new_writer(self, route, None)
    }

    fn read_prov(&self) -> TunnelReadProv {
        self.view()
    }

    fn admit(&mut self, reader: &mut HopReader) -> Result<(), TunnelError> {
        FullTunnel::admit(self, reader)
    }
}

impl Tunnel for FullTunnel {
    type ReplyWriter = ReplyWriter;

    fn new_writer_with_reply(
        &mut self,
        route: &[RouteHop],
        reply_route: &[RouteHop],
    ) -> Result<FullWriter, TunnelError> {
        FullTunnel::new_writer(self, route, Some(reply_route))
    }

    fn new_reply_writer(&mut self, reader: &mut HopReader) -> Result<ReplyWriter, TunnelError> {
        reader.reply_writer()
    }
}
