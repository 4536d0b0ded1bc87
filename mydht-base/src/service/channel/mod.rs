//! Channels: how commands reach a service. Every channel is bounded by the
//! capacity given to its constructor; a full channel makes the sender wait
//! (cross-thread channels) or answers `ChannelFull` (same-thread channels and
//! every `try_send`), it never grows.
//!
//! | channel | crosses threads | full queue on `send` |
//! |---|---|---|
//! | [`MpscChannel`] | yes | waits |
//! | [`MpscChannelRef`] | yes, carries [`SRef::Send`](crate::SRef::Send) | waits |
//! | [`LocalRcChannel`] | no | `ErrorKind::ChannelFull` |
//! | [`NoChannel`] | no input at all | refused |
//! | [`IdleInlineChannel`] | as its inner channel; a sender runs the command itself while the service is idle | as its inner channel |
//! | `MayChannel` (feature `may-sched`) | yes, may coroutines park on it | waits (a coroutine parks) |

pub(crate) mod idle_inline;
mod local;
#[cfg(feature = "may-sched")]
mod may_mpsc;
mod mpsc;
mod mpsc_ref;
mod none;

pub use idle_inline::{IdleInlineChannel, IdleInlineRecv, IdleInlineSend};
pub use local::{LocalRcChannel, LocalRecv, LocalSend};
#[cfg(feature = "may-sched")]
pub use may_mpsc::{MayChannel, MayRecv, MaySend};
pub use mpsc::{MpscChannel, MpscRecv, MpscSend};
pub use mpsc_ref::{MpscChannelRef, MpscRefRecv, MpscRefSend};
pub use none::{NoChannel, NoInput, NoRecv, NoSend};

use std::time::Duration;

use crate::error::{Error, ErrorKind, ErrorLevel, Result};

/// How long a cross-thread `recv_wait` waits before answering `Ok(None)`, so
/// a waiting service thread checks now and then whether its owner asked it
/// to stop.
const WAIT_SLICE: Duration = Duration::from_millis(50);

/// A zero capacity would make a same-thread channel unusable and a std
/// channel a rendezvous: refuse it.
fn check_capacity(capacity: usize) -> Result<()> {
    if capacity == 0 {
        return Err(Error::new(
            ErrorKind::Config,
            ErrorLevel::ShutDown,
            "channel capacity must be at least 1",
        ));
    }
    Ok(())
}

fn closed() -> Error {
    Error::new(
        ErrorKind::ChannelClosed,
        ErrorLevel::ShutDown,
        "channel closed",
    )
}
