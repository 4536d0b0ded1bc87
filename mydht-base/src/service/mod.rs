//! The service layer: a [`Service`] is a piece of a node that takes commands
//! and returns results; a [`Spawner`] decides how it runs (inline, on its own
//! thread, on a pool, restarted on the caller's thread, as a coroutine); a
//! [`SpawnChannel`] decides how commands reach it. Changing a spawner or a
//! channel type changes how a service runs, never its code.
//!
//! A service that has nothing to do, or whose stream would block, calls
//! [`SpawnerYield::spawn_yield`]. The spawner answers:
//! - [`YieldReturn::Loop`]: execution was suspended (thread parked, coroutine
//!   switched out) and has now been resumed: retry where you were.
//! - [`YieldReturn::Return`]: keep your progress in `self` and return
//!   [`Error::yielded`](crate::Error::yielded); the spawner keeps the service in
//!   its handle and restarts it on [`SpawnUnyield::unyield`], calling
//!   [`ServiceRestartable::resume`] first.

use crate::error::{Error, Result};

pub mod channel;
pub mod spawn;

mod yield_io;

pub use yield_io::{ReadYield, WriteYield};

/// How a yield ended, from the point of view of the yielding service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YieldReturn {
    /// Save state and return [`Error::yielded`]: the spawner restarts the
    /// service later.
    Return,
    /// The yield itself suspended and execution goes on here: retry.
    Loop,
}

/// Given to a service by its spawner so the service can suspend.
pub trait SpawnerYield {
    /// Suspends the running service, see [`YieldReturn`].
    fn spawn_yield(&mut self) -> YieldReturn;

    /// A read of the socket behind `io` would block: suspends the service
    /// until the socket may be read (or something else wakes it), as
    /// [`spawn_yield`](Self::spawn_yield) does.
    ///
    /// By default this is [`spawn_yield`](Self::spawn_yield): the node's
    /// poller watches the socket and wakes the service.
    /// [`ThreadIdle`](spawn::ThreadIdle) instead waits in the socket
    /// itself, with the poller's watch of its reads off meanwhile
    /// ([`ReadWait::poller_reads`]): the data wakes the reading thread with
    /// no hand-over through the poller's thread.
    #[cfg(unix)]
    fn spawn_yield_read(&mut self, io: &mut dyn ReadWait) -> YieldReturn {
        let _ = io;
        self.spawn_yield()
    }
}

/// The socket of a read that would block, for a spawner whose thread waits
/// in it ([`SpawnerYield::spawn_yield_read`]).
///
/// The node's poller watches the socket's reads (and wakes the service on
/// readiness) until [`poller_reads`](Self::poller_reads) turns that off; a
/// spawner that turns it off waits in the socket itself and turns it on
/// again before it gives its thread up.
#[cfg(unix)]
pub trait ReadWait {
    /// The socket's descriptor, valid while this lives.
    fn fd(&self) -> std::os::fd::RawFd;

    /// Whether the node's poller watches the socket's reads: `true` (how a
    /// connection starts), the poller wakes the service when data comes;
    /// `false`, it does not (only the thread waiting in the socket sees the
    /// data). Turning it on reports data already there to the poller.
    fn poller_reads(&mut self, on: bool) -> Result<()>;
}

/// A unit of work of a node: commands in, results out.
pub trait Service {
    /// What the service is asked to do.
    type CommandIn;
    /// What it answers; sent to the spawn destination.
    type CommandOut;
    /// Processes one command. May call `yld.spawn_yield()` when it cannot go
    /// on (a stream would block), see the module documentation.
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: Self::CommandIn,
        yld: &mut Y,
    ) -> Result<Self::CommandOut>;
}

/// A service that can be stopped by [`YieldReturn::Return`] in the middle of a
/// command and restarted later on the same state: it keeps its progress (a
/// partly read frame, for instance) in `self`. Required by the spawners whose
/// yield returns (`RestartOrError`, the thread pool).
pub trait ServiceRestartable: Service {
    /// Finishes the command that was interrupted by a `Return` yield, if any.
    /// Called by a restarting spawner before it takes new commands. The
    /// default is for services that never yield inside `call`.
    fn resume<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Option<Self::CommandOut>> {
        let _ = yld;
        Ok(None)
    }
}

/// A failed non-waiting send: the command comes back to the caller.
#[derive(Debug)]
pub enum TrySendError<C> {
    /// The bounded queue is full: back-pressure, try later.
    Full(C),
    /// The receiver is gone.
    Closed(C),
}

impl<C> From<TrySendError<C>> for Error {
    fn from(e: TrySendError<C>) -> Self {
        use crate::error::{ErrorKind, ErrorLevel};
        match e {
            TrySendError::Full(_) => {
                Error::new(ErrorKind::ChannelFull, ErrorLevel::Ignore, "channel full")
            }
            TrySendError::Closed(_) => Error::new(
                ErrorKind::ChannelClosed,
                ErrorLevel::ShutDown,
                "channel closed",
            ),
        }
    }
}

/// The sending side of a service's channel (or a service's destination).
pub trait SpawnSend<C> {
    /// Sends a command. A channel that crosses threads waits while its bounded
    /// queue is full; a channel that cannot wait (same thread) returns
    /// `ErrorKind::ChannelFull`.
    fn send(&mut self, cmd: C) -> Result<()>;
    /// Sends without waiting; a full queue gives the command back.
    fn try_send(&mut self, cmd: C) -> std::result::Result<(), TrySendError<C>>;
}

/// The receiving side of a service's channel.
pub trait SpawnRecv<C> {
    /// The next queued command, `Ok(None)` if none is queued, and
    /// `ErrorKind::ChannelClosed` when none is queued and every sender is gone.
    fn recv(&mut self) -> Result<Option<C>>;
    /// Waits for the next command. Channels that cannot wait (same-thread
    /// ones) answer as [`SpawnRecv::recv`].
    fn recv_wait(&mut self) -> Result<Option<C>> {
        self.recv()
    }
}

/// A kind of channel, with its configuration (capacity): makes the sender and
/// receiver pair of one service.
pub trait SpawnChannel<C> {
    /// A clonable sender other services may hold to reach this service
    /// directly; when the service has ended, they fall back to the main loop.
    type WeakSend: SpawnSend<C> + Clone;
    /// The owner's sender.
    type Send: SpawnSend<C> + Clone;
    /// The service's receiver.
    type Recv: SpawnRecv<C>;
    /// A new bounded channel.
    fn new_channel(&mut self) -> Result<(Self::Send, Self::Recv)>;
    /// A weak sender, if this kind of channel can be shared.
    fn get_weak_send(send: &Self::Send) -> Option<Self::WeakSend>;
}

/// Wakes a spawned service and tells whether it has ended.
pub trait SpawnUnyield {
    /// True once the service loop has ended (iteration limit, closed channel,
    /// error, or a `Return` yield waiting for a restart is *not* an end).
    fn is_finished(&mut self) -> bool;
    /// Wakes the service after its input or stream became ready: unparks its
    /// thread, resumes its coroutine or restarts it from its saved state.
    fn unyield(&mut self) -> Result<()>;
}

/// The owner's handle on a spawned service.
pub trait SpawnHandle<S, D, R>: SpawnUnyield {
    /// A clonable handle other services may hold to unyield this one.
    type WeakHandle: SpawnUnyield + Clone;
    /// Waits for the service loop to end and gives back the service, its
    /// destination, its receiver and the loop's end result, so that the
    /// service can be spawned again on the same state.
    fn unwrap_state(self) -> Result<(S, D, R, Result<()>)>;
    /// A weak handle, if this spawner's handles can be shared.
    fn get_weak_handle(&self) -> Option<Self::WeakHandle>;
}

/// A way to run services.
pub trait Spawner<S: Service, D: SpawnSend<S::CommandOut>, R: SpawnRecv<S::CommandIn>> {
    /// The handle it returns.
    type Handle: SpawnHandle<S, D, R>;
    /// Runs `service`: first on `first_cmd` if given, then on the commands of
    /// `recv`, sending each result to `dest`. `nb_loop` is the number of
    /// commands after which the service ends (0: no limit).
    fn spawn(
        &mut self,
        service: S,
        dest: D,
        first_cmd: Option<S::CommandIn>,
        recv: R,
        nb_loop: usize,
    ) -> Result<Self::Handle>;
}
