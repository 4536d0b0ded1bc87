//! # readwrite-comp
//!
//! Composable stream layers over `std::io::Read` / `Write`: each layer sees a
//! message as a header, body bytes and an end, and layers stack so that one
//! pass over the data goes through all of them.
//!
//! **Is**: the layer traits, a stack of layers, and the authenticated chunk
//! framing that carries a message of unknown length inside a byte stream
//! (with a pluggable per-chunk cipher, variable chunks or fixed-size cells).
//! Every layer is resumable after `WouldBlock` (see [`ext`]), so callers can
//! drive it from non-blocking streams without coroutines.
//!
//! **Is not**: a transport, an event loop or a cipher implementation (session
//! encryption and onion layers implement [`ChunkCipher`] elsewhere). std only.
//!
//! Key types:
//! - [`ExtWrite`] / [`ExtRead`]: what a layer is (module [`ext`]);
//! - [`CompW`] / [`CompR`]: a stream plus a layer, as a `Write` / `Read`;
//! - [`MultiWExt`] / [`MultiRExt`]: a stack of layers applied in one pass;
//! - [`ChunkW`] / [`ChunkR`] with a [`ChunkCipher`]: authenticated chunks
//!   (module [`chunk`]); [`LimiterW`] / [`LimiterR`] are them with
//!   [`NoCipher`];
//! - [`testing`]: stream wrappers injecting short and blocked I/O, for tests.

pub mod chunk;
pub mod ext;
pub mod testing;

mod comp;
mod limiter;
mod multi;

pub use chunk::{ChunkCipher, ChunkMode, ChunkR, ChunkW, NoCipher, MAX_CHUNK_LEN};
pub use comp::{CompR, CompW};
pub use ext::{ExtRead, ExtWrite};
pub use limiter::{LimiterR, LimiterW};
pub use multi::{MultiRExt, MultiWExt};
