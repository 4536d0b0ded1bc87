//! The layer traits: what a stream layer does on each side of a message.
//!
//! A message through a layer is `header`, then body bytes, then `end`. Both
//! traits take the inner stream as `&mut dyn Write` / `&mut dyn Read` on every
//! call instead of owning it, so layers can be boxed, stacked
//! ([`MultiWExt`](crate::MultiWExt)) and moved between streams.
//!
//! # Resumability contract
//!
//! Every method may receive `WouldBlock` or `Interrupted` from the inner
//! stream at any byte. It then returns that error with the layer's state kept
//! consistent, and the *same call* may simply be repeated later:
//!
//! - a write never reports bytes of `buf` as taken that were not taken, and
//!   never reports an error for a call that took bytes (it returns `Ok(n)`
//!   and the inner error comes back on the next call);
//! - a read never reports bytes it did not produce;
//! - a partly written or read header, chunk header or tag stays inside the
//!   layer until the call is repeated.
//!
//! This is what lets a read or write service run restartable (save state,
//! return, be called again) without a coroutine. The provided
//! `write_all_into` / `read_exact_from` are the exception, as in `std`: they
//! retry `Interrupted` but lose their progress on `WouldBlock`, so use them
//! only on blocking streams.

mod read;
mod write;

pub use read::ExtRead;
pub use write::ExtWrite;
