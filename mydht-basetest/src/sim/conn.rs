//! A simulated connection: two ends, each on a node, each with the
//! messages in flight towards it kept in order and, once open, the local
//! service its node runs for it.

use std::time::Duration;

use mydht::command::ConnRef;

use super::app::SimApp;
use super::node::{Msg, PeerRef};

/// One end of a connection.
pub(super) struct End<C: SimApp> {
    pub(super) node: usize,
    /// The node's key for it, once it has the connection (the accepting
    /// end has none until the connection arrives).
    pub(super) key: Option<usize>,
    /// The peer, and how the node names the connection, once the node
    /// opened it.
    pub(super) peer: Option<(PeerRef<C>, ConnRef)>,
    /// The application's local service of this end, once open.
    pub(super) local: Option<C::LocalService>,
    /// The node closed it, or saw it end.
    pub(super) closed: bool,
    /// Messages that arrived before the node opened the connection (a real
    /// stream keeps them until its read service starts).
    pub(super) inbox: Vec<Msg<C>>,
    /// When the last thing sent towards this end is due: the next one is
    /// due later, so a stream keeps its order.
    pub(super) last_due: Duration,
}

impl<C: SimApp> End<C> {
    pub(super) fn new(node: usize, key: Option<usize>) -> Self {
        End {
            node,
            key,
            peer: None,
            local: None,
            closed: false,
            inbox: Vec::new(),
            last_due: Duration::ZERO,
        }
    }
}

/// A connection: end 0 dialled, end 1 accepted.
pub(super) struct SimConn<C: SimApp> {
    pub(super) ends: [End<C>; 2],
    /// Cut: what is in flight is lost, both ends see it end.
    pub(super) cut: bool,
}

impl<C: SimApp> SimConn<C> {
    /// The side of the end that `node` knows under `key`.
    pub(super) fn side_of(&self, node: usize, key: usize) -> Option<usize> {
        (0..2).find(|&s| self.ends[s].node == node && self.ends[s].key == Some(key))
    }

    /// True once both ends are closed: the connection can be forgotten.
    pub(super) fn is_over(&self) -> bool {
        self.ends.iter().all(|e| e.closed)
    }
}
