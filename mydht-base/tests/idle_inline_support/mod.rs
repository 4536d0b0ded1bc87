//! What the `idle_inline_*` tests share: a service standing for a
//! connection's write service, whose socket is full whenever a sender
//! writes a `Full` command in place.

#![allow(dead_code)] // each test file uses its own part of this module

use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

use mydht_base::service::channel::IdleInlineChannel;
use mydht_base::service::spawn::InlineCall;
use mydht_base::{
    Error, ErrorKind, ErrorLevel, MpscChannel, Result, Service, ServiceRestartable, SpawnerYield,
    YieldReturn,
};

/// The name of `ThreadPark`'s threads.
const SERVICE_THREAD: &str = "mydht-thread-park";

/// A command for [`Wire`].
pub enum Cmd {
    /// Noted with the thread it ran on.
    Note(u64),
    /// Would block when a sender runs it in place (a full socket): the
    /// service's thread finishes it (by then the socket has room).
    Full(u64),
    /// Fails (a broken socket).
    Fail,
}

/// Notes each command with the thread that ran it.
#[derive(Default)]
pub struct Wire {
    pub seen: Arc<Mutex<Vec<(u64, ThreadId)>>>,
    stalled: Option<u64>,
}

impl Wire {
    fn note(&self, n: u64) -> u64 {
        self.seen.lock().unwrap().push((n, thread::current().id()));
        n
    }
}

impl Service for Wire {
    type CommandIn = Cmd;
    type CommandOut = u64;
    fn call<Y: SpawnerYield>(&mut self, cmd: Cmd, yld: &mut Y) -> Result<u64> {
        match cmd {
            Cmd::Note(n) => Ok(self.note(n)),
            Cmd::Full(n) if thread::current().name() == Some(SERVICE_THREAD) => Ok(self.note(n)),
            // In place, the yield answers `Return`.
            Cmd::Full(n) => match yld.spawn_yield() {
                YieldReturn::Return => {
                    self.stalled = Some(n);
                    Err(Error::yielded())
                }
                YieldReturn::Loop => Ok(self.note(n)),
            },
            Cmd::Fail => Err(Error::new(
                ErrorKind::Io(std::io::ErrorKind::BrokenPipe),
                ErrorLevel::ShutDown,
                "broken pipe (test)",
            )),
        }
    }
}

impl ServiceRestartable for Wire {
    fn resume<Y: SpawnerYield>(&mut self, _: &mut Y) -> Result<Option<u64>> {
        Ok(self.stalled.take().map(|n| self.note(n)))
    }
}

impl InlineCall for Wire {
    fn inline_ok(&self, _: &Cmd) -> bool {
        true
    }
}

/// The channel of an `IdleInline<ThreadPark>` service.
pub type Chan = IdleInlineChannel<MpscChannel>;

/// The thread that ran command `n`, if it ran.
pub fn ran_on(seen: &Mutex<Vec<(u64, ThreadId)>>, n: u64) -> Option<ThreadId> {
    let seen = seen.lock().unwrap();
    seen.iter().find(|(m, _)| *m == n).map(|(_, t)| *t)
}
