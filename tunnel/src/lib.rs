//! # tunnel
//!
//! Onion tunnels as streams (placeholder, filled in by the tunnel work).

pub mod cell;
pub mod config;
pub mod crypto;
pub mod header;
