//! What the hub's process holds: heap asked for (a counting allocator),
//! resident memory and threads (`/proc/self/status`), and the CPU time it
//! used (`getrusage`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

/// Counts the heap bytes asked for and not yet given back, in total and
/// as live allocations per size class (powers of two).
pub struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static CLASSES: [AtomicIsize; 40] = [const { AtomicIsize::new(0) }; 40];

fn count(size: usize, sign: isize) {
    LIVE.fetch_add(sign * size as isize, Ordering::Relaxed);
    let class = (usize::BITS - size.leading_zeros()).min(39) as usize;
    CLASSES[class].fetch_add(sign, Ordering::Relaxed);
}

// SAFETY: every call goes to `System`; the counting only reads sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            count(layout.size(), 1);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            count(layout.size(), 1);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(layout.size(), -1);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            count(layout.size(), -1);
            count(new_size, 1);
        }
        p
    }
}

/// The process at one moment.
pub struct Snapshot {
    /// Heap bytes asked for and live.
    pub heap: isize,
    classes: [isize; 40],
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
            heap: LIVE.load(Ordering::Relaxed),
            classes: std::array::from_fn(|i| CLASSES[i].load(Ordering::Relaxed)),
            rss: field("VmRSS:") * 1024,
            threads: field("Threads:"),
            cpu: process_cpu(),
        }
    }

    /// Size classes with at least `per` more live allocations than in
    /// `base` for every connection of `n`, with those counts per
    /// connection: where a connection's heap goes.
    pub fn breakdown(&self, base: &Snapshot, n: usize) -> String {
        let mut out = String::new();
        for (class, (now, then)) in self.classes.iter().zip(&base.classes).enumerate() {
            let per = (now - then) as f64 / n as f64;
            if per >= 0.5 {
                let (low, high) = ((1usize << class) >> 1, 1usize << class);
                out += &format!("{per:.2} × {}–{}; ", human(low), human(high));
            }
        }
        out
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

/// Bytes, in B, KiB or MiB.
fn human(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}
