//! # readwrite-comp
//!
//! Composable stream layers over `std::io::Read` / `Write`: each layer sees a
//! message as a header, body bytes and an end, and layers stack so that one
//! pass over the data goes through all of them.
//!
//! **Is**: the layer traits [`ExtWrite`] / [`ExtRead`], the adapters
//! [`CompW`] / [`CompR`] that make a stream plus a layer a `Write` / `Read`.
//! Every layer is resumable after `WouldBlock` (see [`ext`]), so callers can
//! run on non-blocking streams without coroutines.
//!
//! **Is not**: a transport, an event loop or a cipher. std only.
//!
//! Key types: [`ExtWrite`] / [`ExtRead`] (what a layer is), [`CompW`] /
//! [`CompR`] (a stream with a layer).

pub mod ext;

mod comp;

pub use comp::{CompR, CompW};
pub use ext::{ExtRead, ExtWrite};
