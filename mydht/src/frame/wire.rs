//! [`WireMessage`]: what a frame carries once a connection is
//! authenticated.

use serde::{Deserialize, Serialize};

use crate::service::peer_store::PeerStoreProtoMsg;
use crate::stream::StreamSlot;

/// What goes in a frame once a connection is authenticated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WireMessage<M> {
    /// An application message, for the receiver's local service.
    App(M),
    /// An application message followed on the connection by raw bytes:
    /// the receiver's local service gets the connection's read half with
    /// it (see [`stream`](crate::stream)). The slot holds, on the sending
    /// side only, the stream the write service pumps after the frame.
    AppStream(M, StreamSlot),
    /// A message between peer stores.
    PeerStore(Box<PeerStoreProtoMsg>),
    /// The first frame of each side once its peer management admitted the
    /// other: a node makes a peer online only once both sides admitted
    /// each other.
    Admitted,
    /// Peer management refused the other side: the connection closes after
    /// this frame.
    Refused,
    /// The first frame of a send-once connection: the other side never
    /// makes its peer online through it, and keeps it open for its
    /// message (and any stream) at most
    /// [`NodeConstants::send_once_timeout`](crate::NodeConstants::send_once_timeout).
    /// Its sender ends its session right after the message: the other
    /// side reads that end before it closes, even when its local service
    /// dropped the message's stream first
    /// ([`ReadService`](crate::service::ReadService)), so that its close
    /// is a FIN, not a reset that could discard its own session end.
    Once,
}
