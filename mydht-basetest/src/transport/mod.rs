//! The in-memory transport: a [`MemNetwork`] of [`MemTransport`]s whose
//! connections are a pair of bounded pipes, with fault injection
//! ([`Faults`]): short reads and writes, `WouldBlock` at chosen offsets,
//! dropped connections and a byte-level tamper hook.
//!
//! It implements [`mydht_base::Transport`] blocking or not
//! ([`MemConfig`]); non-blocking, it is polled by a `mio::Poll` like TCP:
//! each registered endpoint has a doorbell socket pair, rung when the other
//! side makes progress (see the `readiness` module notes). Events from an
//! in-memory connection report both directions ready; the service with
//! nothing to do gets `WouldBlock` again.

mod faults;
mod mem_transport;
mod network;
mod pipe;
mod readiness;
mod stream;

pub use faults::{Faults, TamperHook};
pub use mem_transport::MemTransport;
pub use network::{MemAddress, MemConfig, MemNetwork};
pub use stream::{MemReadStream, MemWriteStream};
