//! # mydht-tcp
//!
//! TCP transports for MyDHT, both implementing [`mydht_base::Transport`]
//! with `SocketAddr` addresses:
//! - [`TcpTransport`]: non-blocking, on mio 1.x. The node's main loop
//!   registers the listener and, once per connection, one half of the
//!   connection for both directions ([`mydht_base::Registerable`] with a
//!   `mio::Registry`); a non-blocking connect completes asynchronously and the
//!   write service checks it with [`mydht_base::ConnectCheck`].
//! - [`BlockingTcpTransport`]: blocking, on std, for the synchronous mode
//!   (each read and write service on a thread of its own).
//! - `MayTcpTransport` (feature `may`): blocking-looking, whose waits park
//!   a may coroutine instead of its thread (one `epoll` thread of its own
//!   wakes them), for read and write services run as coroutines on may's
//!   few worker threads.
//!
//! Each connection is a read half and a write half sharing one socket, so a
//! read service and a write service may use them from two threads at once.
//!
//! This crate is not the node: it has no poll loop, no framing and no
//! encryption (those are in `mydht`). Registration is by file descriptor:
//! Unix only.

mod blocking;
#[cfg(feature = "may")]
mod may_net;
mod nonblocking;

pub use blocking::{BlockingTcpReadStream, BlockingTcpTransport, BlockingTcpWriteStream};
#[cfg(feature = "may")]
pub use may_net::{MayTcpReadStream, MayTcpTransport, MayTcpWriteStream};
pub use nonblocking::{TcpReadStream, TcpTransport, TcpWriteStream};
