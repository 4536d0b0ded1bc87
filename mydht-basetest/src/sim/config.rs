//! [`SimConfig`]: what a simulated network is made of (how many nodes,
//! their constants, the seed) and the faults it suffers ([`Faults`]).

use std::time::Duration;

use mydht::{AuthMode, NodeConstants};

/// The latency of one message (or connection attempt) over a link: uniform
/// in `[min, max]`, drawn per message from the simulation's seeded
/// generator. Messages between two ends are never reordered (a stream
/// keeps its order): a message takes at least as long as the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// The shortest latency.
    pub min: Duration,
    /// The longest latency.
    pub max: Duration,
}

impl Default for Latency {
    /// 5 to 50 ms: a wide-area network.
    fn default() -> Self {
        Latency {
            min: Duration::from_millis(5),
            max: Duration::from_millis(50),
        }
    }
}

/// The faults a simulated network suffers, all drawn from its seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Faults {
    /// Per message latency.
    pub latency: Latency,
    /// Connections are cut at random: one every this mean interval
    /// (exponentially distributed), chosen uniformly among the connections
    /// alive. A cut connection loses what is in flight and both ends see
    /// it fail. `None`: no cuts.
    pub cut_every: Option<Duration>,
    /// Events due at the same simulated time are handled in a seeded random
    /// order instead of the order they were scheduled in (the messages of
    /// one stream keep their order).
    pub reorder: bool,
}

/// A simulated network: `nodes` nodes, node `i` at address `MemAddress(i)`,
/// each with an identity seeded from `seed`.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// How many nodes.
    pub nodes: usize,
    /// The seed of everything random in the run: identities, latencies,
    /// faults, the order of simultaneous events, the cores' random ids.
    pub seed: u64,
    /// The constants of every node but the bootstrap node.
    pub constants: NodeConstants,
    /// The constants of node 0, the bootstrap node.
    pub bootstrap_constants: NodeConstants,
    /// Node `i` starts at `i * start_spread / nodes`.
    pub start_spread: Duration,
    /// Each node but node 0 connects to node 0 when it starts (then
    /// discovery, if its pool size is not 0, does the rest).
    pub bootstrap: bool,
    /// How long each bootstrap connect may take.
    pub bootstrap_timeout: Duration,
    /// The faults.
    pub faults: Faults,
}

impl SimConfig {
    /// `nodes` nodes with [`SimConfig::node_constants`] of pool size
    /// `pool_size`, the bootstrap node allowed a peer per node, started
    /// over one simulated second, bootstrapped on node 0, with the default
    /// latency and no other fault.
    pub fn new(nodes: usize, pool_size: usize, seed: u64) -> Self {
        let constants = Self::node_constants(pool_size);
        let bootstrap_constants = NodeConstants {
            max_connections: nodes + 64,
            max_peers: nodes,
            ..constants.clone()
        };
        SimConfig {
            nodes,
            seed,
            constants,
            bootstrap_constants,
            start_spread: Duration::from_secs(1),
            bootstrap: true,
            bootstrap_timeout: Duration::from_secs(10),
            faults: Faults::default(),
        }
    }

    /// The constants of a simulated node: signed handshakes, discovery
    /// with `pool_size` and a 250 ms refresh (a quarter of the default
    /// rate: fewer peer store queries per simulated second, the same pool
    /// in the end).
    pub fn node_constants(pool_size: usize) -> NodeConstants {
        NodeConstants {
            auth_mode: AuthMode::Signed,
            pool_size,
            refresh: Duration::from_millis(250),
            ..NodeConstants::default()
        }
    }
}
