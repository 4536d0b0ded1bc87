//! # mydht-basetest
//!
//! What MyDHT tests, benchmarks and demos share, so that each is written
//! once:
//! - [`transport`]: an in-memory [`transport::MemTransport`] on a
//!   [`transport::MemNetwork`] (a pair of bounded pipes per connection),
//!   blocking or polled by mio, with fault injection ([`transport::Faults`]:
//!   short reads and writes, `WouldBlock` at chosen offsets, dropped
//!   connections, a byte tamper hook).
//! - [`harness`]: the multi-node harness: the touch test application
//!   ([`harness::touch`]), [`touch_conf!`] (its node configuration per
//!   profile and transport), starting N nodes on loopback TCP (port 0) or a
//!   [`transport::MemNetwork`], connecting them, waiting on their peer
//!   counts and touching them, every wait bounded ([`harness::nodes`]).
//! - [`peers`]: test peers (a shared identity pool, a fresh local peer in
//!   one call).
//!
//! It is not part of a node: nothing here is meant for production use, and
//! it trades speed for control (every byte goes through a mutex).

pub mod alloc_count;
pub mod harness;
pub mod peers;
pub mod sim;
pub mod transport;

/// What [`touch_conf!`] expands to refers to, so that its users need not
/// name these crates themselves.
#[doc(hidden)]
pub mod __private {
    pub use mydht;
    pub use mydht_base;
    pub use mydht_tcp;
}
