//! # mydht-basetest
//!
//! What MyDHT tests, benchmarks and demos share, so that each is written
//! once:
//! - [`transport`]: an in-memory [`transport::MemTransport`] on a
//!   [`transport::MemNetwork`] (a pair of bounded pipes per connection),
//!   blocking or polled by mio, with fault injection ([`transport::Faults`]:
//!   short reads and writes, `WouldBlock` at chosen offsets, dropped
//!   connections, a byte tamper hook).
//!
//! It is not part of a node: nothing here is meant for production use, and
//! it trades speed for control (every byte goes through a mutex).

pub mod transport;
