//! What the hub's process holds: heap asked for (the counting allocator of
//! `shared`), resident memory and threads (`/proc/self/status`), and the
//! CPU time it used (`getrusage`).

use std::time::Duration;

use crate::shared::Heap;

/// The process at one moment.
pub struct Snapshot {
    /// The heap, counted.
    pub heap: Heap,
    /// Resident memory, bytes.
    pub rss: isize,
    /// Threads of the process.
    pub threads: isize,
    /// CPU time of the process so far, user and system.
    pub cpu: Duration,
}

impl Snapshot {
    /// Now.
    pub fn now() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse::<isize>().ok())
                .unwrap_or(-1)
        };
        Snapshot {
            heap: Heap::now(),
            rss: field("VmRSS:") * 1024,
            threads: field("Threads:"),
            cpu: process_cpu(),
        }
    }
}

/// CPU time (user and system) of this process.
fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}
