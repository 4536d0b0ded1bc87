//! Streams after a frame: raw bytes that follow an application message on
//! the same connection, inside its session shadow.
//!
//! A service sends a message with a stream behind it
//! ([`Reply::SendStream`](crate::Reply::SendStream),
//! [`Reply::SendOnceStream`](crate::Reply::SendOnceStream)): the write
//! service encodes the message's frame, then pumps the [`OutStream`]'s
//! source, through its writer layer if it has one, with a bounded buffer.
//! The receiving read service decodes the message and lends the read half
//! of its connection, with the bytes it had already read ahead, to the
//! connection's local service: [`LocalCommand::stream`](crate::LocalCommand)
//! is a [`LentStream`]. The read service reads no frame while the stream is
//! lent; it goes on after [`LentStream::give_back`], and ends the
//! connection when the stream is dropped instead.
//!
//! The raw bytes carry their own end: the two applications agree on it (a
//! length, an end marker, a layer whose last chunk says so). A lent stream
//! can itself become the source of an `OutStream` on another connection
//! ([`OutStream::woken_by`]): a relay streams from one connection to the
//! next without holding more than one buffer.

mod lent;
mod out;
mod read_ahead;

pub use lent::{ConnReadStream, LentStream};
pub use out::{OutStream, PumpSource, StreamSlot};
pub use read_ahead::{ReadAhead, READ_AHEAD};

pub(crate) use lent::{conn_read_stream, Home, LendHome, Returned};
pub(crate) use out::DeferredEnd;
