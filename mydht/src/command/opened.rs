//! [`Opened`]: a connection authenticated off the main loop's thread (the
//! listener or a connector thread of a blocking transport), and
//! [`DialId`], how the core names a dial it asked for.

use mydht_base::Transport;

use crate::auth::Authenticated;
use crate::conf::MyDHTConf;
use crate::frame::FrameWriter;

/// A dial the node core asked a driver for: the driver answers with the
/// connection it opened (or the error), naming the dial, so that what waits
/// for it (connect queries, messages) is attached before any event of the
/// connection is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DialId(pub(crate) u64);

/// A connection a listener or connector thread authenticated, with its
/// streams, for the driver to keep.
pub struct Opened<C: MyDHTConf> {
    /// The read half.
    pub(crate) read: <C::Transport as Transport>::ReadStream,
    /// The write half.
    pub(crate) write: <C::Transport as Transport>::WriteStream,
    /// What the handshake left to write.
    pub(crate) preamble: FrameWriter,
    /// The handshake's result.
    pub(crate) auth: Authenticated,
    /// The dial it answers; `None` for an inbound connection.
    pub(crate) dial: Option<DialId>,
}
