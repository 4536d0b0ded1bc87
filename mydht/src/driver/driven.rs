//! [`start_driven`] and [`MainLoopDriver`]: the main loop on the caller's
//! thread ([`MainLoopSpawn::Caller`]), one turn at a time, for an
//! application that has its own loop (or runs a whole `restartable!` node
//! on one thread it owns).

use std::thread::{self, ThreadId};
use std::time::Duration;

use mio::Events;
use mydht_base::{Error, ErrorKind, ErrorLevel, Result};

use super::handle::DriverThread;
use super::{MainLoop, NodeHandle};
use crate::conf::{MainLoopSpawn, MyDHTConf};

/// A main loop the caller runs: [`run_once`](Self::run_once) until it
/// returns `false`. Dropping it stops the node.
pub struct MainLoopDriver<C: MyDHTConf> {
    /// `None` once stopped.
    main_loop: Option<MainLoop<C>>,
    events: Events,
    /// The thread that turns the loop, as the handles see it.
    thread: ThreadId,
    shared_thread: DriverThread,
}

/// Builds a node on the caller's thread: binds its transport, makes its
/// identity and services. The node runs while the caller turns the
/// driver. The handle's blocking calls wait for the loop, so on the driving
/// thread they are refused at once (`Config`): use its futures there (or
/// ask from another thread). A
/// configuration whose main loop has a thread of its own
/// ([`MainLoopSpawn::Thread`]) is a `Config` error.
pub fn start_driven<C: MyDHTConf>(conf: C) -> Result<(MainLoopDriver<C>, NodeHandle<C>)> {
    if conf.main_loop_spawn() != MainLoopSpawn::Caller {
        return Err(Error::new(
            ErrorKind::Config,
            ErrorLevel::ShutDown,
            "the main loop has a thread of its own: use start_loop",
        ));
    }
    let main_loop = MainLoop::new(conf)?;
    let thread = thread::current().id();
    let shared_thread = DriverThread::new(std::sync::Mutex::new(Some(thread)));
    let handle = NodeHandle::new(
        main_loop.sender(),
        main_loop.local_peer().clone(),
        (
            (
                main_loop.services.direct.clone(),
                main_loop.services.global_door.clone(),
            ),
            main_loop.core_constants().caller_spin,
        ),
        None,
        shared_thread.clone(),
    );
    let events = Events::with_capacity(main_loop.core_constants().events_capacity);
    Ok((
        MainLoopDriver {
            main_loop: Some(main_loop),
            events,
            thread,
            shared_thread,
        },
        handle,
    ))
}

impl<C: MyDHTConf> MainLoopDriver<C> {
    /// One turn of the loop, waiting for events at most `max_wait`. False
    /// once the node has stopped (a handle's `stop`): its services are
    /// then stopped and its connections closed.
    pub fn run_once(&mut self, max_wait: Duration) -> Result<bool> {
        let Some(main_loop) = self.main_loop.as_mut() else {
            return Ok(false);
        };
        let me = thread::current().id();
        if me != self.thread {
            // The driver moved to another thread (a `Send` configuration).
            self.thread = me;
            *self.shared_thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(me);
        }
        main_loop.turn(&mut self.events, Some(max_wait));
        if main_loop.is_running() {
            return Ok(true);
        }
        match self.main_loop.take() {
            Some(main_loop) => main_loop.shutdown().map(|()| false),
            None => Ok(false),
        }
    }

    /// The longest the caller may wait before the next
    /// [`run_once`](Self::run_once) when it waits for the node's events
    /// itself (see the [`AsRawFd`](std::os::fd::AsRawFd) implementation):
    /// zero when the loop has work left, else until its next deadline.
    /// Zero once the node has stopped.
    pub fn next_wait(&self) -> Duration {
        self.main_loop
            .as_ref()
            .map_or(Duration::ZERO, MainLoop::next_wait)
    }

    /// Turns the loop until the node stops.
    pub fn run(mut self) -> Result<()> {
        // The loop's own timers bound each wait.
        while self.run_once(Duration::from_secs(1))? {}
        Ok(())
    }
}

impl<C: MyDHTConf> Drop for MainLoopDriver<C> {
    fn drop(&mut self) {
        if let Some(main_loop) = self.main_loop.take() {
            // No one is left to hear the error.
            let _ = main_loop.shutdown();
        }
    }
}

/// The descriptor of the loop's poller (epoll on Linux): readable when a
/// connection, the listener or a command wakes the node. A thread that
/// drives many nodes registers each one's descriptor in a poller of its
/// own, waits on all of them at most [`next_wait`](MainLoopDriver::next_wait)
/// of each, and turns the ready ones with `run_once(Duration::ZERO)`.
/// `-1` once the node has stopped.
#[cfg(unix)]
impl<C: MyDHTConf> std::os::fd::AsRawFd for MainLoopDriver<C> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.main_loop.as_ref().map_or(-1, MainLoop::poll_fd)
    }
}
