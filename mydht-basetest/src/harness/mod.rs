//! The multi-node harness: what node tests, benchmarks and demos do with
//! several nodes, written once.
//!
//! - [`touch`]: the touch test application (services, messages, replies).
//! - [`conf`]: [`touch_conf!`](crate::touch_conf), a node configuration of
//!   the touch app per profile and transport, and loopback transports.
//! - [`nodes`]: start N nodes, connect them, wait on their peer counts,
//!   touch, stop; every wait bounded by [`nodes::TIMEOUT`].

pub mod conf;
pub mod nodes;
pub mod touch;
