//! Kademlia routing: which peers are closest to a key.
//!
//! - [`distance`]: the XOR metric ([`Distance`], [`KadId`],
//!   [`bucket_index`]);
//! - [`table`]: the k-buckets ([`RoutingTable`], [`KademliaConf`],
//!   [`Seen`]), a [`Route`](mydht_base::Route) for the query engine;
//! - [`rng`]: the seeded generator of the refresh ids.

mod bucket;
mod conf;
pub mod distance;
pub mod rng;
pub mod table;

pub use conf::{KademliaConf, Seen};
pub use distance::{bucket_index, Distance, KadId, ID_BITS};
pub use rng::SplitMix64;
pub use table::RoutingTable;
