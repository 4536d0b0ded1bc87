//! Waits bounded by the time this process was not kept waiting for a CPU.
//!
//! A test of many nodes does a fixed amount of work (25 nodes and a ping
//! through 23 relays: about 1.7 s of CPU in a debug build), and on an idle
//! machine its waits end in a few seconds. On a machine kept busy by other
//! processes it gets what the scheduler gives it: beside 4 busy loops at
//! nice 0, a test run at nice 19 gets about 3% of a core, and the same
//! work took 49 s of wall time (an api wait of 20 s, or the tunnel's 10 s,
//! then ended it with a `Timeout` although nothing had stalled).
//!
//! [`WorkClock`] counts wall time minus the time the process's threads
//! spent runnable but waiting for a CPU (`/proc/self/task/*/schedstat`,
//! second field: the run-queue wait), so a wait on it follows the work
//! the process is let do: on an idle machine it is the wall time; while
//! the process is starved it barely moves. A real stall (a lost wake-up:
//! every thread asleep, none waiting for a CPU) is counted in full and
//! fails the test as quickly as on an idle machine. What it cannot tell
//! from starvation is a livelock of two or more spinning threads on 2
//! cores (they wait for each other's CPU): [`HANG_GUARD`], in wall time,
//! ends that.

use std::collections::HashMap;
use std::fs;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// The wall-time bound of every wait on the work clock, and the timeouts
/// the patient nodes (`PingPong::patient`) use for their own waits (the
/// tunnel's, the handshake's, the api's): far beyond any wait of a test
/// that works, so that the test's own bound, on the [`WorkClock`], is the
/// one that fails it.
pub const HANG_GUARD: Duration = Duration::from_secs(600);

/// How often a wait looks at the clock (and at the answer, if its waker
/// did not come). A reading opens one file per thread (about 4 ms for the
/// 400 threads of two 25-node tests): once a second costs under 1% of a
/// core, where 5 a second took 4 of the 8 s of CPU a starved run of
/// `ping_pong` used.
const SLICE: Duration = Duration::from_secs(1);

/// Wall time minus the time this process waited for a CPU, from its
/// start.
pub struct WorkClock {
    /// Each thread's run-queue wait (ns) when last read.
    waited: HashMap<u32, u64>,
    last: Instant,
    counted: Duration,
}

impl WorkClock {
    /// A clock at zero now.
    pub fn start() -> Self {
        let mut waited = HashMap::new();
        read_waits(&mut waited);
        WorkClock {
            waited,
            last: Instant::now(),
            counted: Duration::ZERO,
        }
    }

    /// The time counted so far: since the last reading, the wall time less
    /// what the process's threads waited for a CPU meanwhile (their waits
    /// added up, at most the wall time: the process was starved whenever
    /// one of them waited).
    pub fn read(&mut self) -> Duration {
        let now = Instant::now();
        let wall = now - self.last;
        let mut now_waited = HashMap::with_capacity(self.waited.len());
        read_waits(&mut now_waited);
        // A thread that started since the last reading waited all its
        // wait in between; a thread that ended is not counted (the clock
        // then runs faster, never slower, than it should).
        let waited: u64 = now_waited
            .iter()
            .map(|(tid, w)| w.saturating_sub(*self.waited.get(tid).unwrap_or(&0)))
            .sum();
        self.counted += wall.saturating_sub(Duration::from_nanos(waited));
        self.waited = now_waited;
        self.last = now;
        self.counted
    }
}

/// Each thread's run-queue wait in ns (`/proc/self/task/<tid>/schedstat`:
/// time on a CPU, time waiting for one, time slices). Threads whose file
/// cannot be read (ended meanwhile) are left out.
fn read_waits(into: &mut HashMap<u32, u64>) {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        if let Some(wait) = stat.split_whitespace().nth(1).and_then(|w| w.parse().ok()) {
            into.insert(tid, wait);
        }
    }
}

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `fut` on this thread until it is ready, or until `budget` passed
/// on a [`WorkClock`] started now, or [`HANG_GUARD`] of wall time: `None`
/// then.
pub fn wait_working<F: Future>(fut: F, budget: Duration) -> Option<F::Output> {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    let mut clock = WorkClock::start();
    let started = Instant::now();
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Some(out);
        }
        if clock.read() >= budget || started.elapsed() >= HANG_GUARD {
            return None;
        }
        thread::park_timeout(SLICE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_future_never_ready_ends_by_its_budget() {
        // The clock counts at most the wall time: the budget is a floor.
        let started = Instant::now();
        let got = wait_working(std::future::pending::<()>(), Duration::from_millis(500));
        assert!(got.is_none());
        assert!(started.elapsed() >= Duration::from_millis(500));
    }
}
