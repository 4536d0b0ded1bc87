//! # tunnel
//!
//! Onion tunnels as streams (placeholder, filled in by the tunnel work).
