//! What the thread spawners share: the thread running the loop, its
//! park/notify state, its handles, and how a service crosses to the thread
//! ([`Carry`]: as it is, or as its [`SRef`] sendable form).

use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
use super::sock_wait::{self, EventFd};
use super::{barrier, service_died, thread_reuse, LoopCount, LoopYield, ServiceLoop};
use crate::error::{Error, ErrorKind, ErrorLevel, Result};
#[cfg(target_os = "linux")]
use crate::service::ReadWait;
use crate::service::{Service, SpawnHandle, SpawnRecv, SpawnSend, SpawnUnyield};
use crate::sref::{SRef, SToRef};

/// How a service, its destination, its receiver and its first command travel
/// to the service thread and back: [`Direct`] moves them (they are `Send`),
/// [`ViaSRef`] sends their [`SRef`] sendable form and rebuilds them there.
pub trait Carry<S: Service, D, R>: 'static {
    /// The service, destination and receiver in the form that crosses.
    type State: Send + 'static;
    /// The first command in the form that crosses.
    type Cmd: Send + 'static;
    /// Before crossing.
    fn pack(service: S, dest: D, recv: R) -> Self::State;
    /// After crossing.
    fn unpack(state: Self::State) -> (S, D, R);
    /// The first command, before crossing.
    fn pack_cmd(cmd: S::CommandIn) -> Self::Cmd;
    /// The first command, after crossing.
    fn unpack_cmd(cmd: Self::Cmd) -> S::CommandIn;
}

/// [`Carry`] for `Send` services: moved as they are.
#[derive(Debug, Clone, Copy)]
pub struct Direct;

/// [`Carry`] for [`SRef`] services (holding `Rc`s): sent as their sendable
/// form, rebuilt on the other side.
#[derive(Debug, Clone, Copy)]
pub struct ViaSRef;

impl<S, D, R> Carry<S, D, R> for Direct
where
    S: Service + Send + 'static,
    S::CommandIn: Send + 'static,
    D: Send + 'static,
    R: Send + 'static,
{
    type State = (S, D, R);
    type Cmd = S::CommandIn;
    fn pack(service: S, dest: D, recv: R) -> Self::State {
        (service, dest, recv)
    }
    fn unpack(state: Self::State) -> (S, D, R) {
        state
    }
    fn pack_cmd(cmd: S::CommandIn) -> Self::Cmd {
        cmd
    }
    fn unpack_cmd(cmd: Self::Cmd) -> S::CommandIn {
        cmd
    }
}

impl<S, D, R> Carry<S, D, R> for ViaSRef
where
    S: Service + SRef + 'static,
    S::Send: 'static,
    S::CommandIn: SRef,
    <S::CommandIn as SRef>::Send: 'static,
    D: SRef + 'static,
    D::Send: 'static,
    R: SRef + 'static,
    R::Send: 'static,
{
    type State = (S::Send, D::Send, R::Send);
    type Cmd = <S::CommandIn as SRef>::Send;
    fn pack(service: S, dest: D, recv: R) -> Self::State {
        (
            service.get_sendable(),
            dest.get_sendable(),
            recv.get_sendable(),
        )
    }
    fn unpack(state: Self::State) -> (S, D, R) {
        (state.0.to_ref(), state.1.to_ref(), state.2.to_ref())
    }
    fn pack_cmd(cmd: S::CommandIn) -> Self::Cmd {
        cmd.get_sendable()
    }
    fn unpack_cmd(cmd: Self::Cmd) -> S::CommandIn {
        cmd.to_ref()
    }
}

const RUNNING: u8 = 0;
const PARKED: u8 = 1;
const NOTIFIED: u8 = 2;
/// Waiting in a socket ([`Shared::wait_read`]): a notification signals the
/// thread's eventfd.
#[cfg(target_os = "linux")]
const POLLING: u8 = 3;

/// Empty receives in a row after which a service whose channel is empty
/// waits for a notification; before, it polls its channel again after the
/// backoff of std's channels: `1 << (n - 1)` spin hints for the first
/// [`EMPTY_SPINS`] (127 in all: about 10 µs on the 2-vCPU VM of the mydht
/// README, where a `pause` takes 84 ns), then a `yield_now` (which lets a
/// sender on the same core run). Meanwhile a sender finds a notification
/// pending and its `unyield` is a load, no write. A service whose polls
/// keep finding nothing stops polling ([`WASTED_POLLS`]).
const EMPTY_POLLS: u32 = 11;
const EMPTY_SPINS: u32 = 7;

/// Idle periods in a row that ended in a long park ([`SHORT_PARK`] or
/// more), the polls before them having found nothing, after which a
/// service parks at once on an empty channel (no spin, no `yield_now`). It
/// polls again after a short park, or once it takes [`PILED_UP`] commands
/// after a wake-up: its input came faster than a park and a wake-up (a
/// sender on the same core, say, which the polls' `yield_now` let run).
///
/// Measured (mydht-base README, "Waking a service that waits"): under
/// mydht's latency bench the global service, one command per request,
/// polled in vain before nearly every park (4 `sched_yield` and about
/// 10 µs of spin each time), or, preempted while it polled, stayed
/// runnable across the whole request on one of the two cores.
const WASTED_POLLS: u8 = 4;

/// Commands taken after a wake-up from which a service that parks at once
/// polls again (see [`WASTED_POLLS`]).
const PILED_UP: u32 = 4;

/// A park shorter than this (from the park to the thread running again)
/// ended about when the polls before it would have: it does not count as
/// polls in vain, and a service that parks at once polls again after it.
const SHORT_PARK: Duration = Duration::from_micros(20);

/// How long one `poll(2)` of [`Shared::wait_read`] lasts before it polls
/// again (a notification ends it at once: this only bounds a wait that
/// nothing ends).
#[cfg(target_os = "linux")]
const POLL_SLICE: Duration = Duration::from_secs(60);

/// The park state alone on its cache line(s): written by whoever notifies,
/// it must not invalidate the line of the read-mostly fields (stop,
/// finished, thread) the service thread reads.
#[repr(align(128))]
struct ParkState(AtomicU8);

/// The state a service thread shares with its handles.
///
/// Protocol: a waker (`notify`) writes what the service must see (a command
/// in its channel, a stop request, a ready stream), then, past the cheap
/// half of [`barrier`], reads the park state: a pending notification
/// (NOTIFIED) is left as it is, no write, else it sets NOTIFIED and unparks
/// the thread if it was PARKED. The service thread takes notifications
/// (NOTIFIED to RUNNING) and, before it parks, runs the expensive half of
/// the barrier once since the last notification it took and looks at its
/// input again: a waker that saw an already taken notification as pending
/// has its writes seen by that look.
pub(crate) struct Shared {
    /// RUNNING, PARKED or NOTIFIED.
    state: ParkState,
    /// The owner asked the loop to end once its channel is empty.
    pub(crate) stop: AtomicBool,
    finished: AtomicBool,
    thread: OnceLock<Thread>,
    /// The service thread's eventfd, set before it first waits in a socket
    /// (POLLING).
    #[cfg(target_os = "linux")]
    efd: OnceLock<Arc<EventFd>>,
}

/// The service thread's own side of the protocol of [`Shared`], and how
/// its last idle periods went.
pub(crate) struct Waiter {
    /// The expensive half of the barrier ran since the last notification
    /// was taken: the thread may park.
    fenced: bool,
    /// The service polls its empty channel before it parks.
    polls: bool,
    /// Idle periods in a row that ended in a long park.
    parked_in_row: u8,
    /// This idle period (empty receives since the last command) parked
    /// for [`SHORT_PARK`] or more.
    parked: bool,
    /// This idle period parked for less than [`SHORT_PARK`].
    parked_short: bool,
    /// Commands taken since the last park.
    taken: u32,
}

impl Default for Waiter {
    fn default() -> Self {
        Waiter {
            fenced: false,
            polls: true,
            parked_in_row: 0,
            parked: false,
            parked_short: false,
            taken: 0,
        }
    }
}

impl Waiter {
    /// A command was taken from the channel.
    #[inline]
    pub(crate) fn took(&mut self) {
        self.taken = self.taken.saturating_add(1);
    }

    /// A new idle period: whether the service polls in it, from how the
    /// last ones went.
    fn idle_begins(&mut self) {
        if std::mem::take(&mut self.parked) {
            self.parked_in_row = self.parked_in_row.saturating_add(1);
        } else {
            // The last idle period found a command while polling, or
            // parked briefly (or this is the first).
            self.parked_in_row = 0;
        }
        let short = std::mem::take(&mut self.parked_short);
        // Commands of the busy period that just ended, when the idle
        // period before it parked.
        let piled_up = self.taken >= PILED_UP;
        if self.polls && self.parked_in_row >= WASTED_POLLS && !piled_up {
            self.polls = false;
        } else if !self.polls && (piled_up || short) {
            self.polls = true;
            self.parked_in_row = 0;
        }
    }
}

impl Shared {
    fn new() -> Self {
        barrier::init();
        Shared {
            state: ParkState(AtomicU8::new(RUNNING)),
            stop: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            thread: OnceLock::new(),
            #[cfg(target_os = "linux")]
            efd: OnceLock::new(),
        }
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Wakes the service thread, now or at its next park.
    fn notify(&self) {
        barrier::light();
        if self.state.0.load(Ordering::Relaxed) == NOTIFIED {
            return;
        }
        match self.state.0.swap(NOTIFIED, Ordering::AcqRel) {
            // PARKED is only ever set by the service thread after it stored
            // its `Thread`.
            PARKED => {
                if let Some(t) = self.thread.get() {
                    t.unpark();
                }
            }
            // POLLING only after it stored its eventfd.
            #[cfg(target_os = "linux")]
            POLLING => {
                if let Some(efd) = self.efd.get() {
                    efd.signal();
                }
            }
            _ => {}
        }
    }

    fn take_notification(&self, w: &mut Waiter) -> bool {
        let taken = self
            .state
            .0
            .compare_exchange(NOTIFIED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if taken {
            w.fenced = false;
        }
        taken
    }

    /// On the service thread, its channel empty for the `empties`-th time
    /// in a row: polls it again after a short backoff while `empties` is
    /// at most [`EMPTY_POLLS`] (unless its polls kept finding nothing,
    /// [`WASTED_POLLS`]), then waits for a notification.
    pub(crate) fn wait_for_input(&self, empties: u32, w: &mut Waiter) {
        if empties == 1 {
            w.idle_begins();
        }
        if w.polls && empties <= EMPTY_SPINS {
            for _ in 0..1u32 << (empties - 1) {
                std::hint::spin_loop();
            }
        } else if w.polls && empties <= EMPTY_POLLS {
            thread::yield_now();
        } else if let Some(parked) = self.wait(w) {
            if parked < SHORT_PARK {
                w.parked_short = true;
            } else {
                w.parked = true;
            }
        }
    }

    /// For a thread that otherwise waits in its own I/O
    /// ([`ThreadBlock`](super::ThreadBlock)): returns at once when a
    /// notification is pending, else parks until one comes or `timeout`
    /// passes. Without the fence of [`Shared::wait`] a notification may be
    /// seen late, by at most `timeout`.
    pub(crate) fn park_timeout(&self, timeout: Duration, w: &mut Waiter) {
        if self.take_notification(w) {
            return;
        }
        if self
            .state
            .0
            .compare_exchange(RUNNING, PARKED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            thread::park_timeout(timeout);
            if self
                .state
                .0
                .compare_exchange(PARKED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return;
            }
        }
        // NOTIFIED, the only other value.
        self.take_notification(w);
    }

    /// For a yield inside `call`: [`Shared::wait`], with no spin before it.
    /// A spin of 200 `pause`s on the notification (about 17 µs on the
    /// 2-vCPU VM of the mydht README's "`threaded!` latency", where a
    /// `pause` takes 84 ns) held a core that the waker or another woken
    /// thread needed: without it, 28 alternated pairs of the latency bench
    /// in three series gave CPU per request −6 to −11%, the 1 in flight
    /// p50 0.89–1.02×.
    pub(crate) fn yield_until_notified(&self, w: &mut Waiter) {
        self.wait(w);
    }

    /// For a yield inside `call` whose read of `io`'s socket would block:
    /// [`Shared::wait`], but the thread waits in the socket itself
    /// (`poll(2)` on it and the thread's eventfd, which a notification
    /// signals), the poller's watch of its reads off: data that comes wakes
    /// this thread, not the poller's thread which would then wake it.
    /// Returns once data came, or a notification was taken, or a stop
    /// request is seen after the expensive half of the barrier; `false`
    /// when it cannot wait so (no eventfd, the watch not turned off, `poll`
    /// failed): the caller turns the watch on and waits as before.
    ///
    /// Unlike [`Shared::wait`], no look at the input between the barrier
    /// and the wait: inside `call` a service acts on a wake-up only by its
    /// stop request, looked at here; its input is the socket, which the
    /// wait itself watches.
    #[cfg(target_os = "linux")]
    pub(crate) fn wait_read(&self, io: &mut dyn ReadWait, w: &mut Waiter) -> bool {
        if self.take_notification(w) {
            return true;
        }
        if !w.fenced {
            barrier::heavy();
            w.fenced = true;
            if self.stopping() {
                return true;
            }
        }
        let efd = match self.efd.get() {
            Some(efd) => efd,
            None => match EventFd::of_thread() {
                Some(efd) => self.efd.get_or_init(|| efd),
                None => return false,
            },
        };
        if io.poller_reads(false).is_err() {
            return false;
        }
        loop {
            if self
                .state
                .0
                .compare_exchange(RUNNING, POLLING, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                // The only other value is NOTIFIED.
                self.take_notification(w);
                return true;
            }
            let polled = sock_wait::poll_read(io.fd(), efd, POLL_SLICE);
            if self
                .state
                .0
                .compare_exchange(POLLING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                self.take_notification(w);
                return true;
            }
            match polled {
                Ok(p) if p.socket => return true,
                // A stale signal of an earlier notification, EINTR, or
                // the slice over: nothing came, wait again.
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }

    /// On the service thread: returns once a notification is taken (at
    /// once if one is pending), or after the expensive half of the barrier,
    /// for one more look at the input before the thread parks. How long
    /// the thread parked, if it did.
    fn wait(&self, w: &mut Waiter) -> Option<Duration> {
        if self.take_notification(w) {
            return None;
        }
        if !w.fenced {
            barrier::heavy();
            w.fenced = true;
            return None;
        }
        if self
            .state
            .0
            .compare_exchange(RUNNING, PARKED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // The only other value is NOTIFIED.
            self.take_notification(w);
            return None;
        }
        w.taken = 0;
        let parked = Instant::now();
        // `park` may wake spuriously: only a notification ends the wait.
        while !self.take_notification(w) {
            thread::park();
        }
        Some(parked.elapsed())
    }
}

/// Marks the service finished when its thread ends, panics included.
struct FinishGuard<'a>(&'a Shared);

impl Drop for FinishGuard<'_> {
    fn drop(&mut self) {
        self.0.finished.store(true, Ordering::Release);
    }
}

/// The yield behaviour of a thread spawner.
pub(crate) trait ThreadMode: 'static {
    /// The spawner's yield on its thread.
    type Yield<'a>: LoopYield;
    /// The thread's name, for debuggers and panic messages.
    const NAME: &'static str;
    fn yielder(shared: &Shared) -> Self::Yield<'_>;
}

/// Starts the service loop on a thread of its own: an idle service thread
/// if the process holds one, else a new thread (see `thread_reuse`).
pub(crate) fn spawn_thread<S, D, R, K, M>(
    service: S,
    dest: D,
    first_cmd: Option<S::CommandIn>,
    recv: R,
    nb_loop: usize,
) -> Result<ThreadHandle<S, D, R, K>>
where
    S: Service + 'static,
    D: SpawnSend<S::CommandOut> + 'static,
    R: SpawnRecv<S::CommandIn> + 'static,
    K: Carry<S, D, R>,
    M: ThreadMode,
{
    let shared = Arc::new(Shared::new());
    let state = K::pack(service, dest, recv);
    let first = first_cmd.map(K::pack_cmd);
    let on_thread = shared.clone();
    // Room for the one result: the thread never waits to give it.
    let (done, join) = sync_channel(1);
    thread_reuse::run(
        M::NAME,
        Box::new(move || {
            let end = catch_unwind(AssertUnwindSafe(|| {
                run_on_thread::<S, D, R, K, M>(state, first, nb_loop, &on_thread)
            }));
            let reusable = end.is_ok();
            // The owner may have dropped its handle: nobody to tell.
            let _ = done.send(end);
            reusable
        }),
    )?;
    Ok(ThreadHandle {
        join: Some(join),
        shared,
        _service: PhantomData,
    })
}

fn run_on_thread<S, D, R, K, M>(
    state: K::State,
    first: Option<K::Cmd>,
    nb_loop: usize,
    shared: &Shared,
) -> (K::State, Result<()>)
where
    S: Service,
    D: SpawnSend<S::CommandOut>,
    R: SpawnRecv<S::CommandIn>,
    K: Carry<S, D, R>,
    M: ThreadMode,
{
    let _finished = FinishGuard(shared);
    // Set before the thread can park, so `notify` always finds it.
    let _ = shared.thread.set(thread::current());
    let (service, dest, recv) = K::unpack(state);
    let first = first.map(K::unpack_cmd);
    let mut lp = ServiceLoop::new(service, dest, first, recv, LoopCount::new(nb_loop));
    let step = lp.run(&mut M::yielder(shared));
    let end = lp.end_result(step);
    let (service, dest, recv) = lp.into_parts();
    (K::pack(service, dest, recv), end)
}

/// What a service thread gives back: its state and end result, or its
/// panic.
type ThreadEnd<State> = thread::Result<(State, Result<()>)>;

/// Marks what a handle gives back, keeping the handle `Send` whatever
/// `S`, `D` and `R` are (only `K::State` is stored).
type Parts<S, D, R> = fn() -> (S, D, R);

/// The owner's handle on a service running on its own thread
/// ([`ThreadPark`](super::ThreadPark), [`ThreadParkRef`](super::ThreadParkRef),
/// [`ThreadBlock`](super::ThreadBlock)). It is `Send`.
///
/// [`SpawnHandle::unwrap_state`] asks the loop to end once its channel is
/// empty (queued commands are still processed; a yield inside `call` then
/// answers `Return`), waits for the thread and gives the state back; a
/// panicked service is `ErrorKind::ServiceDied`. Dropping the handle asks the
/// same stop and lets the thread end on its own.
pub struct ThreadHandle<S: Service, D, R, K: Carry<S, D, R>> {
    /// The thread's end: its state and end result, or its panic.
    join: Option<Receiver<ThreadEnd<K::State>>>,
    shared: Arc<Shared>,
    _service: PhantomData<Parts<S, D, R>>,
}

/// A clonable handle on a service thread, usable from any thread to wake it
/// ([`SpawnUnyield::unyield`]) or check whether it ended.
#[derive(Clone)]
pub struct ThreadWeakHandle {
    shared: Arc<Shared>,
}

impl<S: Service, D, R, K: Carry<S, D, R>> ThreadHandle<S, D, R, K> {
    fn request_stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.notify();
    }
}

impl<S: Service, D, R, K: Carry<S, D, R>> Drop for ThreadHandle<S, D, R, K> {
    fn drop(&mut self) {
        if self.join.is_some() {
            self.request_stop();
        }
    }
}

impl<S: Service, D, R, K: Carry<S, D, R>> SpawnUnyield for ThreadHandle<S, D, R, K> {
    fn is_finished(&mut self) -> bool {
        self.shared.finished.load(Ordering::Acquire)
    }

    /// Unparks the thread if it is parked, or makes its next park return at
    /// once: no syscall while the service is running.
    fn unyield(&mut self) -> Result<()> {
        self.shared.notify();
        Ok(())
    }
}

impl SpawnUnyield for ThreadWeakHandle {
    fn is_finished(&mut self) -> bool {
        self.shared.finished.load(Ordering::Acquire)
    }

    fn unyield(&mut self) -> Result<()> {
        self.shared.notify();
        Ok(())
    }
}

impl<S: Service, D, R, K: Carry<S, D, R>> SpawnHandle<S, D, R> for ThreadHandle<S, D, R, K> {
    type WeakHandle = ThreadWeakHandle;

    fn unwrap_state(mut self) -> Result<(S, D, R, Result<()>)> {
        self.request_stop();
        // Only `unwrap_state` takes it, and it consumes the handle.
        let join = self.join.take().ok_or_else(|| {
            Error::new(
                ErrorKind::Other,
                ErrorLevel::ShutDown,
                "handle already used",
            )
        })?;
        match join.recv() {
            Ok(Ok((state, end))) => {
                let (service, dest, recv) = K::unpack(state);
                Ok((service, dest, recv, end))
            }
            Ok(Err(panic)) => Err(service_died(panic)),
            // The job was dropped unrun: cannot happen once it started.
            Err(_) => Err(Error::new(
                ErrorKind::ServiceDied,
                ErrorLevel::ShutDown,
                "service thread gone without a result",
            )),
        }
    }

    fn get_weak_handle(&self) -> Option<ThreadWeakHandle> {
        Some(ThreadWeakHandle {
            shared: self.shared.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    //! The wake-up protocol of [`Shared`] alone, a waker's commands a
    //! counter of its own written with plain stores (`Relaxed`, no
    //! read-modify-write: on x86 a locked instruction would order the
    //! waker's write itself): only the protocol's barriers order it before
    //! the service's look, so a missing one shows as a command never
    //! served (a wait past [`WAIT`]). On x86 a store waits in the store
    //! buffer for nanoseconds only, so such a loss is rare here: the tests
    //! check the switches between polling and parking at once, and that
    //! no wake-up is lost across them; the ordering itself rests on the
    //! protocol's argument (doc of [`Shared`]).

    use std::sync::atomic::{AtomicU64, AtomicUsize};
    use std::sync::Arc;

    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    /// What the test threads and the service share.
    struct Bench {
        shared: Shared,
        /// Commands sent by each waker (its channel).
        sent: [AtomicU64; 2],
        /// Commands of each waker served.
        done: [AtomicU64; 2],
        /// Switches of the service to parking at once, and back to polling.
        to_park: AtomicUsize,
        to_poll: AtomicUsize,
    }

    impl Bench {
        fn new() -> Arc<Self> {
            Arc::new(Bench {
                shared: Shared::new(),
                sent: Default::default(),
                done: Default::default(),
                to_park: AtomicUsize::new(0),
                to_poll: AtomicUsize::new(0),
            })
        }

        /// The service: one command at a time, the shared loop's way.
        fn serve(self: Arc<Self>) -> std::thread::JoinHandle<()> {
            std::thread::spawn(move || {
                let _ = self.shared.thread.set(thread::current());
                let mut w = Waiter::default();
                let (mut served, mut empties, mut polls) = ([0u64; 2], 0, true);
                loop {
                    let queued = (0..2).find(|&i| served[i] < self.sent[i].load(Ordering::Relaxed));
                    if let Some(i) = queued {
                        served[i] += 1;
                        w.took();
                        empties = 0;
                        self.done[i].store(served[i], Ordering::Relaxed);
                        continue;
                    }
                    if self.shared.stopping() {
                        return;
                    }
                    empties += 1;
                    self.shared.wait_for_input(empties, &mut w);
                    if w.polls != polls {
                        polls = w.polls;
                        if polls {
                            self.to_poll.fetch_add(1, Ordering::Relaxed);
                        } else {
                            self.to_park.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        }

        /// `n` more commands of waker `i` (its own counter), one
        /// notification; then until they are served (a lost wake-up
        /// fails).
        fn send(&self, i: usize, n: u64) {
            let to = self.sent[i].load(Ordering::Relaxed) + n;
            self.sent[i].store(to, Ordering::Relaxed);
            self.shared.notify();
            let deadline = Instant::now() + WAIT;
            while self.done[i].load(Ordering::Relaxed) < to {
                assert!(
                    Instant::now() < deadline,
                    "command {to} of waker {i} not served within {WAIT:?} (served {})",
                    self.done[i].load(Ordering::Relaxed)
                );
                thread::yield_now();
            }
        }

        /// Until the service is parked.
        fn parked(&self) {
            let deadline = Instant::now() + WAIT;
            while self.shared.state.0.load(Ordering::Relaxed) != PARKED {
                assert!(Instant::now() < deadline, "the service never parked");
                thread::yield_now();
            }
        }

        /// Until the service has been parked for longer than a short park.
        fn parked_long(&self) {
            self.parked();
            let long = Instant::now() + 2 * SHORT_PARK;
            while Instant::now() < long {
                thread::yield_now();
            }
        }

        fn stop(&self, service: std::thread::JoinHandle<()>) {
            self.shared.stop.store(true, Ordering::Release);
            self.shared.notify();
            service.join().unwrap();
        }
    }

    /// A deterministic pause of 0 to ~1,000 spin hints.
    fn pause(state: &mut u64) {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        for _ in 0..(*state >> 54) {
            std::hint::spin_loop();
        }
    }

    /// Rounds of: commands one at a time each sent once the service has
    /// been parked a while (it stops polling), then at random moments
    /// (racing it as it parks at once; a short park and it polls again),
    /// then a batch sent as it parks (it polls), then one at a time at
    /// random moments (racing a service that polls, then parks).
    #[test]
    fn a_service_switching_between_polls_and_parks_loses_no_wake_up() {
        const ROUNDS: usize = 150;
        let b = Bench::new();
        let service = b.clone().serve();
        let mut rng = 11;
        for _ in 0..ROUNDS {
            for _ in 0..WASTED_POLLS + 1 {
                b.parked_long();
                b.send(0, 1);
            }
            for _ in 0..20 {
                pause(&mut rng);
                b.send(0, 1);
            }
            b.parked();
            b.send(0, 2 * PILED_UP as u64);
            for _ in 0..3 {
                pause(&mut rng);
                b.send(0, 1);
            }
        }
        b.stop(service);
        let (to_park, to_poll) = (
            b.to_park.load(Ordering::Relaxed),
            b.to_poll.load(Ordering::Relaxed),
        );
        assert!(
            to_park >= ROUNDS && to_poll >= ROUNDS,
            "switches to parking at once {to_park}, back to polling {to_poll}"
        );
    }

    /// Two wakers, each sending a command and waiting for it before the
    /// next after a random pause, against one service that parks at once
    /// or polls as the race goes.
    #[test]
    fn two_wakers_racing_a_parker_lose_nothing() {
        const EACH: u64 = 10_000;
        let b = Bench::new();
        let service = b.clone().serve();
        let wakers: Vec<_> = (0..2)
            .map(|i| {
                let b = b.clone();
                std::thread::spawn(move || {
                    let mut rng = i as u64 + 5;
                    for _ in 0..EACH {
                        pause(&mut rng);
                        b.send(i, 1);
                    }
                })
            })
            .collect();
        for w in wakers {
            w.join().unwrap();
        }
        b.stop(service);
        for i in 0..2 {
            assert_eq!(b.done[i].load(Ordering::Relaxed), EACH);
        }
    }
}
