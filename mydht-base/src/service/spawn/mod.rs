//! Spawners: the ways a [`Service`] runs. The service loop is written once,
//! here; each spawner only says what its yield does.
//!
//! | spawner | runs on | empty channel | `spawn_yield` in `call` | `unyield` |
//! |---|---|---|---|---|
//! | [`Blocker`] | the caller, inline | loop ends | `Loop` (retries in place) | nothing |
//! | [`RestartOrError`] | the caller | `Return`: state kept in the handle | `Return` | `resume` then the loop again |
//! | [`ThreadPark`], [`ThreadParkRef`] | its own thread | polls a few µs, then the thread parks (at once while its polls keep finding nothing) | thread parks, `Loop` | unparks (a load if a wake-up is pending) |
//! | [`ThreadIdle`] | its own thread while busy | as `ThreadPark`; idle for its `idle_after`: `Suspend`, the thread back to the reuse pool | as `ThreadPark`; `Return` once suspending | unparks it, or restarts a suspended one on a pool thread |
//! | [`ThreadBlock`] | its own thread | waits on `recv_wait` | `Loop` (retries) | nothing needed |
//! | [`ThreadPool`] | a pool worker | `Return`: the worker is freed | `Return` | resubmits to the pool |
//! | `CoRoutine` | a coroutine of the caller's thread | switches out | switches out, `Loop` | resumes it |
//! | [`IdleInline`] | its sender's thread while idle; a thread of its inner spawner started only when a command must queue or be finished | the thread ends (back to the reuse pool) once the channel stays empty | as the inner spawner; `Return` when run by a sender | starts a thread, only when something is queued or half done |
//! | `MayCoroutine` | a coroutine on may's worker threads | coroutine parks | coroutine parks, `Loop` | unparks it (may schedules it) |
//! | `MayIdle` | as `MayCoroutine`; idle for `IDLE_AFTER`, the coroutine ends | parks; after `IDLE_AFTER`: `Suspend`, state kept in the handle | parks, `Loop`; `Return` once suspending | unparks it, or restarts a suspended one on a new coroutine |
//!
//! [`ThreadPark`] and [`ThreadBlock`] threads are reused: a thread whose
//! service ended waits idle (at most [`MAX_IDLE`] in the process, for
//! [`IDLE_TIMEOUT`] at most, and only while another service thread runs)
//! and the next service started runs on it instead of a new thread.
//!
//! Loop rules, shared by every spawner:
//! - the first command, then commands from the receiver; each result goes to
//!   the destination; after `nb_loop` commands the loop ends (0: never);
//! - a closed receiver is a normal end (`Ok(())`);
//! - an error of level [`ErrorLevel::Ignore`] from `call` skips that command
//!   (it counts as processed) and the loop goes on: the service chose that
//!   level to say the error does not matter to anyone;
//! - any other error from `call`, the receiver or the destination ends the
//!   loop and is the end result given back by
//!   [`SpawnHandle::unwrap_state`](crate::SpawnHandle::unwrap_state);
//! - [`Error::yielded`] from `call` suspends the service in the middle of a
//!   command; a restarting spawner calls
//!   [`ServiceRestartable::resume`] before taking new commands, the others
//!   end with `Err(yielded)` so the caller can restart it elsewhere.
//! - a service that panics on another thread (or coroutine) is reported as
//!   [`ErrorKind::ServiceDied`];
//! - `unwrap_state` on a service that is still running (thread, coroutine)
//!   asks it to end once its channel is empty: queued commands are still
//!   processed, and a yield inside `call` then answers `Return`.

pub(crate) mod barrier;
mod blocker;
#[cfg(feature = "coroutine")]
mod coroutine;
mod idle_inline;
#[cfg(feature = "may-sched")]
mod may_sched;
mod pool;
mod restart;
#[cfg(target_os = "linux")]
mod sock_wait;
mod suspendable;
mod thread;
mod thread_block;
mod thread_idle;
mod thread_park;
mod thread_reuse;

pub use blocker::{Blocker, BlockerHandle};
#[cfg(feature = "coroutine")]
pub use coroutine::{CoRoutine, CoRoutineHandle};
pub use idle_inline::{
    IdleInline, IdleInlineHandle, IdleInlineWeak, InlineCall, NoOut, Proxy, ReturnYield,
};
#[cfg(feature = "may-sched")]
pub use may_sched::{
    MayCoroutine, MayHandle, MayIdle, MayIdleHandle, MayIdleWeak, MayWaker, MayWeakHandle,
    IDLE_AFTER,
};
pub use pool::{PoolHandle, PoolWeakHandle, ThreadPool};
pub use restart::{RestartHandle, RestartOrError};
pub use thread::{Carry, Direct, ThreadHandle, ThreadWeakHandle, ViaSRef};
pub use thread_block::{ThreadBlock, BLOCK_SLICE};
pub use thread_idle::{ThreadIdle, ThreadIdleHandle, ThreadIdleWeak, THREAD_IDLE_AFTER};
pub use thread_park::{ThreadPark, ThreadParkRef};
pub use thread_reuse::{idle_service_threads, service_runs_started, IDLE_TIMEOUT, MAX_IDLE};

use crate::error::{Error, ErrorKind, ErrorLevel, Result};
use crate::service::{
    Service, ServiceRestartable, SpawnRecv, SpawnSend, SpawnUnyield, SpawnerYield,
};

/// The weak handle of spawners whose handles cannot be shared (the service
/// runs on its owner's thread): `get_weak_handle` always answers `None`, so
/// no value of this type is ever made.
#[derive(Debug, Clone, Copy)]
pub enum NoWeakHandle {}

impl SpawnUnyield for NoWeakHandle {
    fn is_finished(&mut self) -> bool {
        match *self {}
    }
    fn unyield(&mut self) -> Result<()> {
        match *self {}
    }
}

/// What a spawner does when its service's channel is empty.
pub(crate) enum OnEmpty {
    /// Something may have arrived (woken, or a wait slice ended): look again.
    Retry,
    /// Hand the state back to the handle; `unyield` restarts it.
    Suspend,
    /// End the loop normally.
    End,
}

/// The yield of a spawner, as the shared loop sees it.
pub(crate) trait LoopYield: SpawnerYield {
    /// True when the loop should wait on `recv_wait` instead of `recv`.
    const WAITS: bool = false;
    /// The channel is empty; `empties` counts the empty receives in a row
    /// (1 the first time since the last command), for a spawner that polls
    /// its channel briefly before it really waits.
    fn on_empty(&mut self, empties: u32) -> OnEmpty;
    /// A command was taken from the receiver (the first command aside).
    #[inline]
    fn took(&mut self) {}
}

/// How a run of the loop stopped.
pub(crate) enum Step {
    /// The loop is over with this result.
    End(Result<()>),
    /// The service is suspended (empty channel or `Return` yield in `call`).
    Suspended,
}

/// The counters of a loop, plain data so they cross threads with the
/// sendable form of a service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoopCount {
    nb_loop: usize,
    done: usize,
    /// `call` returned `Error::yielded`: a command is half done.
    in_call: bool,
    /// Never run by a restarting spawner yet: `resume` may have work left
    /// from a previous spawner.
    fresh: bool,
}

impl LoopCount {
    pub(crate) fn new(nb_loop: usize) -> Self {
        LoopCount {
            nb_loop,
            done: 0,
            in_call: false,
            fresh: true,
        }
    }

    /// What `unwrap_state` reports for a loop that was suspended: a half-done
    /// command is `Err(yielded)` so the caller restarts it with `resume`.
    pub(crate) fn suspended_result(&self) -> Result<()> {
        if self.in_call {
            Err(Error::yielded())
        } else {
            Ok(())
        }
    }
}

/// The service loop, written once for every spawner.
pub(crate) struct ServiceLoop<S: Service, D, R> {
    pub(crate) service: S,
    pub(crate) dest: D,
    pub(crate) recv: R,
    first: Option<S::CommandIn>,
    pub(crate) count: LoopCount,
}

impl<S, D, R> ServiceLoop<S, D, R>
where
    S: Service,
    D: SpawnSend<S::CommandOut>,
    R: SpawnRecv<S::CommandIn>,
{
    pub(crate) fn new(
        service: S,
        dest: D,
        first: Option<S::CommandIn>,
        recv: R,
        count: LoopCount,
    ) -> Self {
        ServiceLoop {
            service,
            dest,
            recv,
            first,
            count,
        }
    }

    /// Runs commands until the loop ends or the spawner suspends it.
    pub(crate) fn run<Y: LoopYield>(&mut self, yld: &mut Y) -> Step {
        let mut empties = 0u32;
        // The spawner said End after an empty receive, and the channel was
        // looked at once more since (see `OnEmpty::End` below).
        let mut looked_again = false;
        loop {
            if self.count.nb_loop != 0 && self.count.done >= self.count.nb_loop {
                return Step::End(Ok(()));
            }
            let cmd = match self.first.take() {
                Some(cmd) => cmd,
                None => {
                    let next = if Y::WAITS {
                        self.recv.recv_wait()
                    } else {
                        self.recv.recv()
                    };
                    match next {
                        Ok(Some(cmd)) => {
                            empties = 0;
                            looked_again = false;
                            yld.took();
                            cmd
                        }
                        Ok(None) => match yld.on_empty({
                            empties = empties.saturating_add(1);
                            empties
                        }) {
                            OnEmpty::Retry => continue,
                            OnEmpty::Suspend => return Step::Suspended,
                            // A stop request read after the empty receive
                            // may come after commands sent in between: they
                            // were queued before the request, so one more
                            // look finds them and they still run.
                            OnEmpty::End if !looked_again => {
                                looked_again = true;
                                continue;
                            }
                            OnEmpty::End => return Step::End(Ok(())),
                        },
                        Err(e) if e.kind() == ErrorKind::ChannelClosed => return Step::End(Ok(())),
                        Err(e) => return Step::End(Err(e)),
                    }
                }
            };
            let res = self.service.call(cmd, yld);
            if let Some(step) = self.finish(res) {
                return step;
            }
        }
    }

    /// Restarts a suspended (or freshly spawned) restartable service: the
    /// half-done command first, then the loop.
    pub(crate) fn restart<Y: LoopYield>(&mut self, yld: &mut Y) -> Step
    where
        S: ServiceRestartable,
    {
        if self.count.in_call || self.count.fresh {
            let was_in_call = self.count.in_call;
            self.count.in_call = false;
            self.count.fresh = false;
            match self.service.resume(yld) {
                Ok(Some(out)) => {
                    if let Some(step) = self.finish(Ok(out)) {
                        return step;
                    }
                }
                Ok(None) => {
                    if was_in_call {
                        self.count.done += 1;
                    }
                }
                Err(e) => {
                    if let Some(step) = self.finish(Err(e)) {
                        return step;
                    }
                }
            }
        }
        self.run(yld)
    }

    /// Books the result of one command; `Some` when the loop must stop.
    fn finish(&mut self, res: Result<S::CommandOut>) -> Option<Step> {
        match res {
            Ok(out) => {
                self.count.done += 1;
                self.dest.send(out).err().map(|e| Step::End(Err(e)))
            }
            Err(e) if e.is_yielded() => {
                self.count.in_call = true;
                Some(Step::Suspended)
            }
            Err(e) if e.level() == ErrorLevel::Ignore => {
                self.count.done += 1;
                None
            }
            Err(e) => {
                self.count.done += 1;
                Some(Step::End(Err(e)))
            }
        }
    }
}

impl<S: Service, D, R> ServiceLoop<S, D, R> {
    /// The end result of a run that stopped at `step`.
    pub(crate) fn end_result(&self, step: Step) -> Result<()> {
        match step {
            Step::End(r) => r,
            Step::Suspended => self.count.suspended_result(),
        }
    }

    pub(crate) fn into_parts(self) -> (S, D, R) {
        (self.service, self.dest, self.recv)
    }
}

/// The error for a service whose thread or coroutine panicked.
pub(crate) fn service_died(panic: Box<dyn std::any::Any + Send>) -> Error {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    Error::new(
        ErrorKind::ServiceDied,
        ErrorLevel::ShutDown,
        format!("service panicked: {what}"),
    )
}
