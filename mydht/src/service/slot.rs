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
/// With an iteration count (`nb_loop`), each loop ends by itself after
/// that many commands and the slot spawns the next one on the saved state.
/// A running loop is never stopped and joined to do so: under a threaded
/// profile it may be waiting for room in its owner's channel, which only
/// the owner, returning, makes (a node's loop joining its global service
/// that way waited forever). Commands given while the running loop has its
/// count already wait in the channel (the backlog) for the next loop,
/// spawned as soon as the slot sees the running one ended: at its next
/// [`send`](Self::send), [`check`](Self::check) or
/// [`unyield`](Self::unyield); an owner with a backlog
/// ([`has_backlog`](Self::has_backlog)) calls `check` until it is gone.
/// An owner that no service waits on (a read service owning its local
/// service) may instead wait for the running loop to end
/// ([`joining`](Self::joining)): no backlog then.
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
    /// Commands after which a loop ends and the next is spawned (0: never).
    nb_loop: usize,
    /// Commands given to the running loop (at most `nb_loop` when set).
    since_spawn: usize,
    /// Commands queued for the next loop: the running one has its count.
    backlog: usize,
    /// A command past the running loop's count waits for that loop to end
    /// (joined) instead of going to the backlog.
    joining: bool,
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
            backlog: 0,
            joining: false,
            last_error: None,
        })
    }

    /// This slot's owner waits for a loop that has its count to end, and
    /// spawns the next on the command: for an owner no service of the slot
    /// waits on (see the type's doc).
    pub fn joining(mut self) -> Self {
        self.joining = true;
        self
    }

    /// Spawns the service now, on `first` if given. Does nothing if it runs.
    pub fn start(&mut self, first: Option<S::CommandIn>) -> Result<()> {
        self.reclaim()?;
        match std::mem::replace(&mut self.state, State::Gone) {
            State::Idle(s, d, r) => {
                self.since_spawn = usize::from(first.is_some());
                let h = self.spawner.spawn(s, d, first, r, self.nb_loop)?;
                self.state = State::Running(h);
                Ok(())
            }
            other => {
                self.state = other;
                match first {
                    Some(cmd) => self.give(cmd),
                    None => Ok(()),
                }
            }
        }
    }

    /// Gives `cmd` to the service, spawning it again if its loop ended.
    pub fn send(&mut self, cmd: S::CommandIn) -> Result<()> {
        self.reclaim()?;
        match self.state {
            State::Idle(..) => self.start(Some(cmd)),
            State::Running(_) => self.give(cmd),
            State::Gone => Err(gone()),
        }
    }

    /// True while commands wait for the next loop (see the type's doc).
    pub fn has_backlog(&self) -> bool {
        self.backlog > 0
    }

    /// Wakes the service (its stream became ready).
    pub fn unyield(&mut self) -> Result<()> {
        match &mut self.state {
            State::Running(h) => {
                if !h.is_finished() {
                    h.unyield()
                } else if self.backlog > 0 {
                    self.reclaim()
                } else {
                    Ok(())
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
    /// seen now, not at the next command), and spawns the next one on the
    /// backlog; an error when its thread died.
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

    /// A way for others to give the service commands without this slot:
    /// its channel's weak sender and its loop's weak handle, when both
    /// exist and the loop never ends on a count. A counted loop
    /// (`nb_loop` > 0) ends after the commands this slot gave it, and the
    /// next loop starts only when the slot has more: a command given
    /// around the slot could wait in the channel with no loop to read it.
    #[allow(clippy::type_complexity)]
    pub fn direct_way(
        &self,
    ) -> Option<(
        Ch::WeakSend,
        <Sp::Handle as SpawnHandle<S, D, Ch::Recv>>::WeakHandle,
    )> {
        if self.nb_loop != 0 {
            return None;
        }
        let handle = match &self.state {
            State::Running(h) => h.get_weak_handle()?,
            _ => return None,
        };
        Some((Ch::get_weak_send(&self.send)?, handle))
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

    /// Gives `cmd` to the running loop, or to the backlog when that loop
    /// has its count.
    fn give(&mut self, cmd: S::CommandIn) -> Result<()> {
        let counted = self.nb_loop != 0 && self.since_spawn >= self.nb_loop;
        if counted && self.joining {
            // It reads no more: its end is near, and nothing it waits on
            // is this owner.
            self.take_back()?;
            return self.start(Some(cmd));
        }
        self.send.send(cmd)?;
        if counted {
            self.backlog += 1;
            return Ok(());
        }
        self.since_spawn += 1;
        self.unyield()
    }

    /// Takes back the parts of a loop that has ended, and spawns the next
    /// one on the backlog.
    fn reclaim(&mut self) -> Result<()> {
        let finished = match &mut self.state {
            State::Running(h) => h.is_finished(),
            _ => false,
        };
        if !finished {
            return Ok(());
        }
        self.take_back()?;
        if self.backlog == 0 {
            return Ok(());
        }
        if let State::Idle(s, d, r) = std::mem::replace(&mut self.state, State::Gone) {
            // The next loop reads the backlog from the channel, in order.
            let taken = self.backlog.min(self.nb_loop);
            self.backlog -= taken;
            self.since_spawn = taken;
            let h = self.spawner.spawn(s, d, None, r, self.nb_loop)?;
            self.state = State::Running(h);
        }
        Ok(())
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
