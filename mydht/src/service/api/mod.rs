//! The api service: query bookkeeping. Each query of the node handle has a
//! [`ReplySlot`] the caller waits on (blocking with a timeout, or as a
//! [`ReplyFuture`]); the [`ApiService`] keeps the slots of pending queries,
//! fills them as replies arrive and fails them when they expire.

mod book;
mod reply_slot;
mod shared;

pub use crate::command::ApiResult;
pub use book::{ApiBook, ApiCommand, ApiService};
pub use reply_slot::{Partial, ReplyFuture, ReplySlot};
pub use shared::SharedBook;
