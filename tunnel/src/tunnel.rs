//! What a node needs from a tunnel implementation, so `mydht-tunnel` can be
//! generic over it: [`TunnelNoRep`] (queries only) and [`Tunnel`] (queries
//! with a reply). [`FullTunnel`](crate::FullTunnel) implements both.

use readwrite_comp::{ExtRead, ExtWrite};

use crate::error::TunnelError;
use crate::header::RouteHop;

/// A tunnel without reply: write a query along a route, read onions that
/// arrive, admit the ones that need this object's state.
pub trait TunnelNoRep {
    /// The sender's writing layer.
    type Writer: ExtWrite;
    /// A hop's reading layer.
    type Reader: ExtRead;
    /// The light clonable view read services hold.
    type ReadProv: Clone;

    /// A writer for one query along `route` (relays then the exit).
    fn new_writer(&mut self, route: &[RouteHop]) -> Result<Self::Writer, TunnelError>;

    /// The light view for read services.
    fn read_prov(&self) -> Self::ReadProv;

    /// Lets `reader` go on where it needs this object's state.
    fn admit(&mut self, reader: &mut Self::Reader) -> Result<(), TunnelError>;
}

/// A tunnel whose queries can carry a single-use reply block.
pub trait Tunnel: TunnelNoRep {
    /// The exit's layer writing the reply.
    type ReplyWriter: ExtWrite;

    /// A writer for one query along `route` whose exit can reply along
    /// `reply_route` (reply relays, then this node last).
    fn new_writer_with_reply(
        &mut self,
        route: &[RouteHop],
        reply_route: &[RouteHop],
    ) -> Result<Self::Writer, TunnelError>;

    /// At the exit, the writer of the reply to `reader`'s message.
    fn new_reply_writer(
        &mut self,
        reader: &mut Self::Reader,
    ) -> Result<Self::ReplyWriter, TunnelError>;
}
