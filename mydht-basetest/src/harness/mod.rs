//! The multi-node harness: what node tests, benchmarks and demos do with
//! several nodes, written once.
//!
//! - [`touch`]: the touch test application (services, messages, replies).
//! - [`conf`]: [`touch_conf!`](crate::touch_conf), a node configuration of
//!   the touch app per profile and transport, loopback TCP transports and
//!   the process's in-memory network.
//! - [`nodes`]: start N nodes, connect them, wait on their peer counts,
//!   touch, stop, or run the whole touch scenario on a pair of nodes
//!   ([`nodes::touch_pair`]); every wait bounded by [`nodes::TIMEOUT`].

pub mod conf;
pub mod nodes;
pub mod touch;
