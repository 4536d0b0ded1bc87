//! The readiness thread of the may transport: one edge-triggered `epoll`
//! instance for the process, whose thread unparks the may coroutine waiting
//! on a socket when the socket becomes readable or writable.
//!
//! A socket enters it at the first wait of a coroutine on it (a socket only
//! used from plain threads never does) and leaves it when closed. A waiting
//! coroutine leaves its handle in the socket's slot, one per direction, and
//! parks; the thread takes the handle out and unparks it. Waits need no
//! timer: a wait ends when the socket is ready, or when something else
//! unparks the coroutine (its service's stop, an unyield): it then answers
//! `WouldBlock`, and the caller's yield decides. A wait is idle
//! (`MayCoroutine::park_idle`): when the coroutine's service suspends
//! during it (`MayIdle`, idle for `IDLE_AFTER`), the slot keeps the
//! service's `MayWaker` instead, and the socket's readiness restarts the
//! service on a new coroutine.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use may::coroutine::{self, Coroutine};
use mydht_base::service::spawn::{MayCoroutine, MayWaker};

/// The direction a coroutine waits for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Dir {
    /// Readable (or an accept pending), end of stream and errors included.
    Read = 0,
    /// Writable, errors included.
    Write = 1,
}

impl Dir {
    /// The `poll(2)` events of this direction, for a plain thread's wait.
    pub(super) fn poll_events(self) -> libc::c_short {
        match self {
            Dir::Read => libc::POLLIN,
            Dir::Write => libc::POLLOUT,
        }
    }
}

const NO_SLOT: usize = usize::MAX;
/// Events that wake a reader: data, the peer's end, an error.
const READ_EVENTS: u32 =
    (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
/// Events that wake a writer: room, a hang-up, an error.
const WRITE_EVENTS: u32 = (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32;
/// Events taken from the kernel per turn of the thread.
const BATCH: usize = 256;

/// A socket's place in the reactor, made at its first coroutine wait.
#[derive(Debug)]
pub(super) struct Registration(AtomicUsize);

impl Registration {
    /// Not in the reactor yet.
    pub(super) fn new() -> Self {
        Registration(AtomicUsize::new(NO_SLOT))
    }
}

/// What waits on a socket in one direction.
enum Waiter {
    /// A parked coroutine, unparked when the socket is ready.
    Parked(Coroutine),
    /// A suspended service (`mydht_base::service::spawn::MayIdle`),
    /// restarted when the socket is ready.
    Suspended(MayWaker),
}

impl Waiter {
    fn wake(self) {
        match self {
            Waiter::Parked(co) => co.unpark(),
            Waiter::Suspended(waker) => waker.wake(),
        }
    }
}

/// What waits on one socket, by direction.
type Waiters = [Option<Waiter>; 2];

#[derive(Default)]
struct Slots {
    waiters: Vec<Waiters>,
    free: Vec<usize>,
}

struct Reactor {
    epoll: OwnedFd,
    slots: Mutex<Slots>,
}

/// The reactor, started with its thread on first use.
fn reactor() -> io::Result<&'static Reactor> {
    static REACTOR: OnceLock<Result<&'static Reactor, io::ErrorKind>> = OnceLock::new();
    (*REACTOR.get_or_init(|| start().map_err(|e| e.kind()))).map_err(io::Error::from)
}

fn start() -> io::Result<&'static Reactor> {
    // SAFETY: no pointer argument.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // The process's only reactor, for its whole life.
    let reactor: &'static Reactor = Box::leak(Box::new(Reactor {
        // SAFETY: `fd` was just made and is owned by nobody else.
        epoll: unsafe { OwnedFd::from_raw_fd(fd) },
        slots: Mutex::default(),
    }));
    std::thread::Builder::new()
        .name("mydht-may-io".into())
        .spawn(move || reactor.run())?;
    Ok(reactor)
}

impl Reactor {
    fn slots(&self) -> MutexGuard<'_, Slots> {
        // The lock is never held across a call that can panic.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run(&self) {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; BATCH];
        let mut woken: Vec<Waiter> = Vec::new();
        loop {
            // SAFETY: `events` holds `BATCH` entries for the kernel to fill.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    BATCH as libc::c_int,
                    -1,
                )
            };
            if n < 0 {
                // Only a signal can interrupt a wait on a valid instance.
                continue;
            }
            {
                let mut slots = self.slots();
                for event in &events[..n as usize] {
                    let (bits, slot) = (event.events, event.u64 as usize);
                    // A slot freed since is empty, or another socket's now:
                    // a spurious wake, which a waiter takes for a retry.
                    let Some(waiters) = slots.waiters.get_mut(slot) else {
                        continue;
                    };
                    if bits & READ_EVENTS != 0 {
                        woken.extend(waiters[Dir::Read as usize].take());
                    }
                    if bits & WRITE_EVENTS != 0 {
                        woken.extend(waiters[Dir::Write as usize].take());
                    }
                }
            }
            for waiter in woken.drain(..) {
                waiter.wake();
            }
        }
    }

    /// The socket's slot, registering it on its first wait.
    fn slot(&self, fd: RawFd, reg: &Registration) -> io::Result<usize> {
        let slot = reg.0.load(Ordering::Acquire);
        if slot != NO_SLOT {
            return Ok(slot);
        }
        let mut slots = self.slots();
        // The other half of the socket may have registered meanwhile.
        let slot = reg.0.load(Ordering::Acquire);
        if slot != NO_SLOT {
            return Ok(slot);
        }
        let slot = match slots.free.pop() {
            Some(slot) => slot,
            None => {
                slots.waiters.push(Waiters::default());
                slots.waiters.len() - 1
            }
        };
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: slot as u64,
        };
        // SAFETY: `event` lives for the call; `fd` is the caller's open socket.
        if unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) }
            < 0
        {
            slots.free.push(slot);
            return Err(io::Error::last_os_error());
        }
        reg.0.store(slot, Ordering::Release);
        Ok(slot)
    }

    /// Puts `waiter` as the waiter of `slot` in `dir`, or takes it out
    /// (`None`): what was there (dropped by the caller, outside the lock).
    fn swap(&self, slot: usize, dir: Dir, waiter: Option<Waiter>) -> Option<Waiter> {
        std::mem::replace(&mut self.slots().waiters[slot][dir as usize], waiter)
    }

    /// The suspended service's waker in the place of its coroutine, if the
    /// coroutine is still the waiter (no readiness took it): true if so.
    fn suspend(&self, slot: usize, dir: Dir, waker: MayWaker) -> bool {
        let mut slots = self.slots();
        let place = &mut slots.waiters[slot][dir as usize];
        if matches!(place, Some(Waiter::Parked(_))) {
            let _parked = place.replace(Waiter::Suspended(waker));
            true
        } else {
            false
        }
    }
}

/// Runs `op` on a non-blocking socket from a may coroutine: tried at once,
/// then after each readiness of `dir`, parking the coroutine meanwhile. A
/// wake that is not the socket's (an unpark by someone else), or a stop
/// asked of the coroutine's service (`MayCoroutine::stop_asked`), ends
/// the wait with `WouldBlock`. One coroutine at a time may wait on a socket
/// in a direction.
pub(super) fn in_coroutine<T>(
    fd: RawFd,
    reg: &Registration,
    dir: Dir,
    mut op: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    let would_block =
        |r: &io::Result<T>| matches!(r, Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    loop {
        let first = op();
        if !would_block(&first) {
            return first;
        }
        let reactor = reactor()?;
        let slot = reactor.slot(fd, reg)?;
        reactor.swap(slot, dir, Some(Waiter::Parked(coroutine::current())));
        // Tried again once waiting: readiness that came after the first try
        // and before the waiter was in its slot is not lost.
        let again = op();
        if !would_block(&again) || MayCoroutine::stop_asked() {
            if reactor.swap(slot, dir, None).is_none() {
                // The thread took the waiter meanwhile: take its unpark
                // here, not at the next wait.
                coroutine::park();
            }
            return again;
        }
        if let Some(waker) = MayCoroutine::park_idle() {
            // Its service suspends: the socket's readiness restarts it.
            if !reactor.suspend(slot, dir, waker.clone()) {
                // Ready meanwhile: restart it as soon as it is out.
                waker.wake();
            }
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if reactor.swap(slot, dir, None).is_some() {
            // Still in its slot: unparked by someone else.
            return Err(io::ErrorKind::WouldBlock.into());
        }
    }
}

/// Takes a closing socket out of the reactor (nothing if it never waited
/// in a coroutine).
pub(super) fn release(fd: RawFd, reg: &Registration) {
    let slot = reg.0.swap(NO_SLOT, Ordering::AcqRel);
    if slot == NO_SLOT {
        return;
    }
    // Registered, so the reactor is there.
    let Ok(reactor) = reactor() else {
        return;
    };
    let mut slots = reactor.slots();
    // SAFETY: `fd` is still open (closed after this); a null event is
    // accepted for a deletion.
    unsafe {
        libc::epoll_ctl(
            reactor.epoll.as_raw_fd(),
            libc::EPOLL_CTL_DEL,
            fd,
            std::ptr::null_mut(),
        );
    }
    let waiters = std::mem::take(&mut slots.waiters[slot]);
    slots.free.push(slot);
    drop(slots);
    // A suspended service's waker may hold the last reference to it.
    drop(waiters);
}
