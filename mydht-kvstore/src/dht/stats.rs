//! [`DhtStats`]: what a node's DHT service counted.

/// Counters of a node's DHT service since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DhtStats {
    /// `Find` requests received from peers (one per hop of a find that
    /// reached this node).
    pub finds_received: u64,
    /// `Store` requests received from peers.
    pub stores_received: u64,
    /// Requests whose query id this node had already seen (a loop in the
    /// peer graph): the engine answers them empty, they go no further.
    pub loop_hits: u64,
    /// Requests refused ([`DhtMsg::Refused`](crate::dht::DhtMsg::Refused)
    /// sent back).
    pub refused: u64,
    /// Values found at peers that did not verify, dropped before the
    /// answer.
    pub dropped_found: u64,
    /// Asynchronous replies relayed towards a collector this node is not
    /// connected to.
    pub relayed: u64,
    /// Values held in the local store.
    pub values: u64,
}
