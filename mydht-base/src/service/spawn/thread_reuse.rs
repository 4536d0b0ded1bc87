//! Service threads kept for the next service: a thread whose service ended
//! waits, idle, for another one to run instead of exiting, so starting a
//! service ([`ThreadPark`](super::ThreadPark), [`ThreadBlock`](super::ThreadBlock),
//! a connection's read and write services under `threaded!`) takes an idle
//! thread (a condvar wake-up, a few µs) rather than creating one (`clone3`,
//! its stack's `mmap`, and its first scheduling: 25–60 µs on a loaded
//! machine).
//!
//! Bounds: at most [`MAX_IDLE`] idle threads in the process, each exits
//! after [`IDLE_TIMEOUT`] without a service, and idle threads are kept only
//! while at least one service thread runs: when the last one ends, the idle
//! ones exit, so a process whose nodes all stopped holds no thread of ours.
//! Every thread has std's default stack size (no spawner asks for another),
//! so any idle thread fits any service. A thread whose service panicked
//! exits instead of waiting for another.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// The most idle threads kept in the process.
pub const MAX_IDLE: usize = 64;

/// How long an idle thread waits for a service before it exits.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a service thread runs; `true` when the thread may take another job
/// (the service did not panic).
pub(crate) type Job = Box<dyn FnOnce() -> bool + Send>;

/// What an idle thread is given.
enum Offer {
    /// Nothing yet.
    Waiting,
    Run(Job),
    /// The last service thread ended: exit.
    Exit,
}

/// One idle thread's mailbox.
struct Idle {
    offer: Mutex<Offer>,
    given: Condvar,
}

impl Idle {
    fn give(&self, offer: Offer) {
        *lock(&self.offer) = offer;
        self.given.notify_one();
    }
}

struct Pool {
    idle: Vec<Arc<Idle>>,
    /// Threads running a service.
    running: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    idle: Vec::new(),
    running: 0,
});

/// Jobs catch their panics, so no lock is poisoned while held by one; a
/// poisoned lock still holds consistent data (each update is one step).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Service runs started since the process began.
static RUNS: AtomicU64 = AtomicU64::new(0);

/// How many idle service threads the process holds now.
pub fn idle_service_threads() -> usize {
    lock(&POOL).idle.len()
}

/// How many service runs the process has started on service threads (an
/// idle thread taken, or a new one made): the thread hand-offs a workload
/// costs, read before and after it.
pub fn service_runs_started() -> u64 {
    RUNS.load(Ordering::Relaxed)
}

/// Runs `job` on an idle service thread, or on a new one named `name`.
pub(crate) fn run(name: &'static str, job: Job) -> io::Result<()> {
    RUNS.fetch_add(1, Ordering::Relaxed);
    let idle = {
        let mut pool = lock(&POOL);
        pool.running += 1;
        pool.idle.pop()
    };
    if let Some(idle) = idle {
        idle.give(Offer::Run(job));
        return Ok(());
    }
    let started = thread::Builder::new()
        .name(name.to_string())
        .spawn(move || serve(job));
    if started.is_err() {
        ended();
    }
    started.map(drop)
}

/// A service ended on its thread (or its thread could not start): the last
/// one tells every idle thread to exit.
fn ended() {
    let exits = {
        let mut pool = lock(&POOL);
        pool.running -= 1;
        if pool.running == 0 {
            std::mem::take(&mut pool.idle)
        } else {
            Vec::new()
        }
    };
    for idle in exits {
        idle.give(Offer::Exit);
    }
}

/// A service thread's life: its job, then, while kept, the next ones.
fn serve(mut job: Job) {
    let me = Arc::new(Idle {
        offer: Mutex::new(Offer::Waiting),
        given: Condvar::new(),
    });
    loop {
        let reusable = job();
        {
            let mut pool = lock(&POOL);
            pool.running -= 1;
            if !reusable || pool.running == 0 || pool.idle.len() >= MAX_IDLE {
                let exits = if pool.running == 0 {
                    std::mem::take(&mut pool.idle)
                } else {
                    Vec::new()
                };
                drop(pool);
                for idle in exits {
                    idle.give(Offer::Exit);
                }
                return;
            }
            *lock(&me.offer) = Offer::Waiting;
            pool.idle.push(me.clone());
        }
        match wait(&me) {
            Some(next) => job = next,
            None => return,
        }
    }
}

/// Waits for a job; `None` to exit (told so, or timed out and withdrawn
/// from the idle list before anyone took this thread).
fn wait(me: &Arc<Idle>) -> Option<Job> {
    let deadline = Instant::now() + IDLE_TIMEOUT;
    let mut offer = lock(&me.offer);
    loop {
        match std::mem::replace(&mut *offer, Offer::Waiting) {
            Offer::Run(job) => return Some(job),
            Offer::Exit => return None,
            Offer::Waiting => {}
        }
        let now = Instant::now();
        if now >= deadline {
            drop(offer);
            {
                let mut pool = lock(&POOL);
                if let Some(i) = pool.idle.iter().position(|t| Arc::ptr_eq(t, me)) {
                    pool.idle.swap_remove(i);
                    return None;
                }
            }
            // Taken meanwhile: its offer is on the way.
            offer = lock(&me.offer);
            while matches!(*offer, Offer::Waiting) {
                offer = me.given.wait(offer).unwrap_or_else(|p| p.into_inner());
            }
            continue;
        }
        offer = me
            .given
            .wait_timeout(offer, deadline - now)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}
