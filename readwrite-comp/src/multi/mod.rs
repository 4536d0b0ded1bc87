//! A stack of layers applied in one pass: [`MultiWExt`] and [`MultiRExt`].
//!
//! Index 0 is the layer nearest to the application, the last index is the
//! one nearest to the wire. Layer `i` writes into (reads from) layer `i + 1`
//! through a borrowed adapter, so each call moves one piece of data down (or
//! up) the whole stack: no layer ever holds the whole message. Headers and
//! ends of a layer travel as body bytes of the layers below it.

mod read;
mod write;

pub use read::MultiRExt;
pub use write::MultiWExt;
