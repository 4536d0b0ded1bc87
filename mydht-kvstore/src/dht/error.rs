//! [`DhtError`]: why a DHT call failed.

use std::fmt;

use mydht::NodeError;

use crate::dht::msg::Refusal;

/// Why a [`Dht`](crate::dht::Dht) call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum DhtError {
    /// The query ended without a value that verifies.
    NotFound,
    /// No answer within the call's timeout.
    Timeout,
    /// The value or key was refused: by this node (the value does not
    /// verify, or is not newer than the one it holds), or by the peers the
    /// store reached, none of which took it.
    Refused(Refusal),
    /// The local store failed (full, or an I/O error); the node's error
    /// keeps the store's as its source.
    Failed(mydht_base::Error),
    /// The node failed the call (stopped, its channel full, misuse).
    Node(NodeError),
}

impl fmt::Display for DhtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DhtError::NotFound => write!(f, "not found"),
            DhtError::Timeout => write!(f, "timed out"),
            DhtError::Refused(r) => write!(f, "refused: {r}"),
            DhtError::Failed(e) => write!(f, "store failed: {e}"),
            DhtError::Node(e) => write!(f, "node error: {e}"),
        }
    }
}

impl std::error::Error for DhtError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DhtError::Refused(r) => Some(r),
            DhtError::Failed(e) => Some(e),
            DhtError::Node(e) => Some(e),
            DhtError::NotFound | DhtError::Timeout => None,
        }
    }
}

impl From<NodeError> for DhtError {
    /// A node's timeout is [`DhtError::Timeout`], anything else
    /// [`DhtError::Node`].
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Timeout(_) => DhtError::Timeout,
            e => DhtError::Node(e),
        }
    }
}

impl From<mydht_base::Error> for DhtError {
    /// As the node's [`NodeError`] for it.
    fn from(e: mydht_base::Error) -> Self {
        DhtError::from(NodeError::from(e))
    }
}
