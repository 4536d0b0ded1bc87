//! Test support, public so that other crates' tests reuse it: stream
//! wrappers that cut I/O short and inject `WouldBlock` / `Interrupted`
//! ([`FaultyReader`], [`FaultyWriter`] driven by a [`FaultPlan`]), a
//! [`retry`] loop that repeats the same call as a non-blocking caller would,
//! and [`ChecksumCipher`], a cheap keyed [`ChunkCipher`](crate::ChunkCipher)
//! that really detects changes.
//!
//! None of this is meant for production streams.

mod cipher;
mod fault;
mod retry;

pub use cipher::ChecksumCipher;
pub use fault::{FaultPlan, FaultyReader, FaultyWriter};
pub use retry::{retry, RETRY_LIMIT};
