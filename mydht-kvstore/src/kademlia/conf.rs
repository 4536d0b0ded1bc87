//! [`KademliaConf`], the parameters of a
//! [`RoutingTable`](super::RoutingTable), and [`Seen`], what the table did
//! with a peer it heard from.

/// The parameters of a [`RoutingTable`](super::RoutingTable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KademliaConf {
    /// Most peers per bucket (at least one).
    pub k: usize,
    /// How many peers a lookup asks at once (the table only carries it for
    /// the lookups).
    pub alpha: usize,
    /// Most candidates waiting per bucket in its replacement cache.
    pub replacements: usize,
    /// Failures (see [`RoutingTable::failed`](super::RoutingTable::failed)) after which a peer is
    /// evicted (at least one).
    pub max_failures: u32,
    /// A bucket with no activity for this long is due for a refresh (ms).
    pub refresh_interval_ms: u64,
    /// A ping unanswered for this long counts as failed (ms).
    pub ping_timeout_ms: u64,
}

impl Default for KademliaConf {
    /// k = 20, α = 3, 20 replacements per bucket, eviction at the third
    /// failure, refresh after an hour, pings time out after 10 s.
    fn default() -> Self {
        KademliaConf {
            k: 20,
            alpha: 3,
            replacements: 20,
            max_failures: 3,
            refresh_interval_ms: 3_600_000,
            ping_timeout_ms: 10_000,
        }
    }
}

/// What [`RoutingTable::seen`](super::RoutingTable::seen) did with a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen<P> {
    /// The peer is this node: not kept.
    Own,
    /// The peer was added to its bucket.
    Added,
    /// The peer was known: it is now its bucket's most recently seen.
    Refreshed,
    /// Its bucket is full: the peer waits in the replacement cache, and the
    /// bucket's least recently seen peer must be pinged; report the answer
    /// (or its absence) with [`RoutingTable::ping_result`](super::RoutingTable::ping_result).
    Ping(P),
    /// Its bucket is full and a ping is already out: the peer waits in the
    /// replacement cache.
    Queued,
}
