//! # mydht
//!
//! A MyDHT node. For now: the default peer identity, the three-message
//! authentication and the session shadow (stream encryption).

pub mod frame;
pub mod msgenc;

pub use frame::{AttachmentReader, AttachmentWriter, FrameReader, FrameWriter};
pub use msgenc::{Bincode, Json};
