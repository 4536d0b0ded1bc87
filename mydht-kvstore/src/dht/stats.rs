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
    /// Iterative lookups this node ran.
    pub lookups: u64,
    /// `FindNode` requests those lookups sent.
    pub lookup_requests: u64,
    /// Lookups that found a value, and the sum of their hops (the depth of
    /// the peer that gave the first value: 1 for a peer this node knew).
    pub lookups_found: u64,
    /// See [`lookups_found`](Self::lookups_found).
    pub lookup_hops: u64,
    /// Peers a lookup dialled that could not be reached (the node's
    /// `GlobalCommand::DialFailed`): failed in the lookups and dropped
    /// from the routing table at once.
    pub dials_failed: u64,
    /// Peers lookups dialled (not connected when a lookup asked them).
    pub lookup_dials: u64,
    /// `FindNode` requests received.
    pub find_nodes_received: u64,
    /// Values sent to peers to keep ([`DhtMsg::Place`](crate::dht::DhtMsg::Place)).
    pub placements_sent: u64,
    /// Values peers placed here.
    pub placements_received: u64,
    /// Values this node placed again (republishing, re-replication).
    pub republished: u64,
}
