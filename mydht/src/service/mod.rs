//! The services of a node.

pub mod kvstore;
pub mod peer_store;
