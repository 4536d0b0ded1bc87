//! How a query travels ([`QueryMode`], [`QueryConf`]) and the bounds a node
//! puts on every query, its own or a peer's ([`KVStoreLimits`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Who a peer that finds (or stores) sends its reply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QueryMode {
    /// Each hop replies to the previous one, once its own forwards have
    /// answered: the originator is known to its first hops only.
    AProxy,
    /// Each hop that finds replies straight to the originator, which collects
    /// until it has its result count or the query expires. The collector
    /// cannot tell which peers were asked: values are checked against the
    /// key, store counts are taken on trust.
    Asynch,
    /// Proxy for the first `n` hops, then asynchronous: the `n`-th hop
    /// collects the asynchronous replies (it is the "originator" the later
    /// hops see) and proxies them back. `AMix(0)` is `Asynch`.
    AMix(u8),
}

/// The parameters of one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryConf {
    /// Who replies to whom.
    pub mode: QueryMode,
    /// How many hops the query travels; 0 looks in the local store only.
    pub hops: u8,
    /// How many peers each hop forwards the query to.
    pub forward: u8,
    /// How many results (found values, or peers that stored) end the query.
    pub nb_result: u8,
    /// When the originator gives up and answers with what it has.
    pub timeout: Duration,
}

impl Default for QueryConf {
    /// A proxied query of 3 hops, 2 peers per hop, ending at the first
    /// result or after 10 s.
    fn default() -> Self {
        QueryConf {
            mode: QueryMode::AProxy,
            hops: 3,
            forward: 2,
            nb_result: 1,
            timeout: Duration::from_secs(10),
        }
    }
}

/// The bounds of a query engine: every count of a query, the node's own or
/// one read from a peer, is clamped to them, and the query cache holds at
/// most `cache_capacity` queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KVStoreLimits {
    /// Largest number of hops.
    pub max_hops: u8,
    /// Largest number of peers a hop forwards to.
    pub max_forward: u8,
    /// Largest result count (and so the most values a query collects).
    pub max_nb_result: u8,
    /// Longest query timeout.
    pub max_timeout: Duration,
    /// Most queries kept in the query cache; the oldest is evicted first.
    pub cache_capacity: usize,
}

impl Default for KVStoreLimits {
    /// 8 hops, 8 peers per hop, 32 results, 60 s, 4096 cached queries.
    fn default() -> Self {
        KVStoreLimits {
            max_hops: 8,
            max_forward: 8,
            max_nb_result: 32,
            max_timeout: Duration::from_secs(60),
            cache_capacity: 4096,
        }
    }
}

impl KVStoreLimits {
    /// `conf` within these bounds; a result count of 0 becomes 1.
    pub fn clamp(&self, conf: QueryConf) -> QueryConf {
        QueryConf {
            mode: conf.mode,
            hops: conf.hops.min(self.max_hops),
            forward: conf.forward.min(self.max_forward),
            nb_result: conf.nb_result.clamp(1, self.max_nb_result.max(1)),
            timeout: conf.timeout.min(self.max_timeout),
        }
    }
}
