//! [`AuthMode`]: whether a node's connections prove who their peers are.

use serde::{Deserialize, Serialize};

/// How a node authenticates its connections; both ends of a connection must
/// use the same mode (a ping in another mode is refused, so a `Signed` node
/// never falls back to `NoAuth`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthMode {
    /// The three-message handshake (the default): each side signs the
    /// transcript with its identity key, so a peer is who its id says, and
    /// the session keys are known to the two peers only.
    #[default]
    Signed,
    /// Two messages, no signatures: each side takes the peer info the other
    /// announces as given (its id must still be the hash of its key). The
    /// session keys still come from an X25519 exchange, so the shadow
    /// hides traffic from a passive observer, but anyone can claim any
    /// identity and a man in the middle reads everything. For tests and
    /// closed networks only, as the original MyDHT's `NoAuth`.
    NoAuth,
}
