//! [`ServiceSlot`]: one service held by its owner whatever its spawner.

use mydht_base::{
    Error, ErrorKind, ErrorLevel, Result, Service, SpawnChannel, SpawnHandle, SpawnSend,
    SpawnUnyield, Spawner,
};

/// Where the service of a slot stands.
enum State<S, D, R, H> {
    /// Not running: its parts wait for the next command.
    Idle(S, D, R),
    /// Spawned.
    Running(H),
    /// Its state could not be taken back (its thread died).
    Gone,
}

/// A service, its spawner and its input channel.
///
/// Commands go through [`send`](Self::send): while the service loop runs
/// they are queued and the service is woken; once the loop has ended (a
/// `Blocker` ends as soon as its queue is empty) the service is spawned
/// again on its saved state with the command as its first. So the same
/// owner code drives a service inline, on a thread, restartable or as a
/// coroutine.
///
/// The iteration count is kept here, not by the spawner: after that many
/// commands the slot stops the loop (which first takes what is queued) and
/// spawns it again on its state, so no command waits in a channel nobody
/// reads.
pub struct ServiceSlot<S, D, Sp, Ch>
where
    S: Service,
    D: SpawnSend<S::CommandOut>,
    Ch: SpawnChannel<S::CommandIn>,
    Sp: Spawner<S, D, Ch::Recv>,
{
    spawner: Sp,
    send: Ch::Send,
    state: State<S, D, Ch::Recv, Sp::Handle>,
    /// Commands after which the loop is stopped and spawned again (0:
    /// never).
    nb_loop: usize,
    /// Commands given to the running loop.
    since_spawn: usize,
    /// The end result of the last loop that failed, for the owner's logs.
    last_error: Option<Error>,
}

impl<S, D, Sp, Ch> ServiceSlot<S, D, Sp, Ch>
where
    S: Service,
    D: SpawnSend<S::CommandOut>,
    Ch: SpawnChannel<S::CommandIn>,
    Sp: Spawner<S, D, Ch::Recv>,
{
    /// A slot for `service`, not running yet; its results go to `dest`.
    pub fn new(service: S, dest: D, spawner: Sp, mut channel: Ch, nb_loop: usize) -> Result<Self> {
        let (send, recv) = channel.new_channel()?;
        Ok(ServiceSlot {
            spawner,
            send,
            state: State::Idle(service, dest, recv),
            nb_loop,
            since_spawn: 0,
            last_error: None,
        })
    }

    /// Spawns the service now, on `first` if given. Does nothing if it runs.
    pub fn start(&mut self, first: Option<S::CommandIn>) -> Result<()> {
        self.reclaim()?;
        match std::mem::replace(&mut self.state, State::Gone) {
            State::Idle(s, d, r) => {
                self.since_spawn = usize::from(first.is_some());
                let h = self.spawner.spawn(s, d, first, r, 0)?;
                self.state = State::Running(h);
                Ok(())
            }
            other => {
                self.state = other;
                match first {
                    Some(cmd) => self.queue(cmd),
                    None => Ok(()),
                }
            }
        }
    }

    /// Gives `cmd` to the service, spawning it again if its loop ended.
    pub fn send(&mut self, cmd: S::CommandIn) -> Result<()> {
        self.reclaim()?;
        if self.nb_loop != 0 && self.since_spawn >= self.nb_loop {
            self.respawn()?;
        }
        match self.state {
            State::Idle(..) => self.start(Some(cmd)),
            State::Running(_) => self.queue(cmd),
            State::Gone => Err(gone()),
        }
    }

    /// Wakes the service (its stream became ready).
    pub fn unyield(&mut self) -> Result<()> {
        match &mut self.state {
            State::Running(h) => {
                if h.is_finished() {
                    Ok(())
                } else {
                    h.unyield()
                }
            }
            _ => Ok(()),
        }
    }

    /// True when the service loop has ended (or never ran).
    pub fn is_finished(&mut self) -> bool {
        match &mut self.state {
            State::Running(h) => h.is_finished(),
            _ => true,
        }
    }

    /// Takes back the state of a loop that has ended (so that its end is
    /// seen now, not at the next command); an error when its thread died.
    pub fn check(&mut self) -> Result<()> {
        self.reclaim()
    }

    /// True when the service's state is lost (its thread panicked): the
    /// owner must make a new service.
    pub fn is_gone(&self) -> bool {
        matches!(self.state, State::Gone)
    }

    /// The error the last loop ended with, taken.
    pub fn take_error(&mut self) -> Option<Error> {
        self.last_error.take()
    }

    /// The destination, while the service is not running (a `Blocker`
    /// between commands): the owner may act on it. `None` while the
    /// service runs (on a thread, say) or is gone.
    pub fn idle_dest(&mut self) -> Option<&mut D> {
        if self.reclaim().is_err() {
            return None;
        }
        match &mut self.state {
            State::Idle(_, d, _) => Some(d),
            _ => None,
        }
    }

    /// A clonable sender that reaches the service directly, when its channel
    /// allows it.
    pub fn weak_send(&self) -> Option<Ch::WeakSend> {
        Ch::get_weak_send(&self.send)
    }

    /// A clonable handle that wakes the running service, when its spawner
    /// allows it.
    pub fn weak_handle(&self) -> Option<<Sp::Handle as SpawnHandle<S, D, Ch::Recv>>::WeakHandle> {
        match &self.state {
            State::Running(h) => h.get_weak_handle(),
            _ => None,
        }
    }

    /// Stops the service and waits for its loop to end (joins its thread).
    pub fn stop(mut self) -> Result<()> {
        match std::mem::replace(&mut self.state, State::Gone) {
            State::Running(h) => {
                let (_, _, _, end) = h.unwrap_state()?;
                match end {
                    Err(e) if !e.is_yielded() => Err(e),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    fn queue(&mut self, cmd: S::CommandIn) -> Result<()> {
        self.send.send(cmd)?;
        self.since_spawn += 1;
        self.unyield()
    }

    /// Ends the running loop (after what is queued) and keeps its state for
    /// the next spawn.
    fn respawn(&mut self) -> Result<()> {
        self.take_back()
    }

    /// Takes back the parts of a loop that has ended.
    fn reclaim(&mut self) -> Result<()> {
        let finished = match &mut self.state {
            State::Running(h) => h.is_finished(),
            _ => false,
        };
        if !finished {
            return Ok(());
        }
        self.take_back()
    }

    /// A running loop's state back in the slot, its end error (a yield is
    /// none) kept for [`take_error`](Self::take_error).
    fn take_back(&mut self) -> Result<()> {
        if !matches!(self.state, State::Running(_)) {
            return Ok(());
        }
        if let State::Running(h) = std::mem::replace(&mut self.state, State::Gone) {
            let (s, d, r, end) = h.unwrap_state()?;
            if let Err(e) = end {
                if !e.is_yielded() {
                    self.last_error = Some(e);
                }
            }
            self.state = State::Idle(s, d, r);
        }
        Ok(())
    }
}

fn gone() -> Error {
    Error::new(
        ErrorKind::ServiceDied,
        ErrorLevel::ShutDown,
        "service state lost",
    )
}
