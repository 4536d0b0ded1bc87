//! A stream plus a layer: [`CompW`] is a `Write`, [`CompR`] is a `Read`.

mod read;
mod write;

pub use read::CompR;
pub use write::CompW;
