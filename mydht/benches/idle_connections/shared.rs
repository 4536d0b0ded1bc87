//! What the idle-connections bench and test (`tests/node_idle_connections.rs`,
//! which includes this file) both use: the heap counting allocator, the
//! open-file limit, and the peers' configuration.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::task::{Context, Poll, Waker};

use mydht::{MainLoopSpawn, MyDHTConf};
use mydht_base::Result;
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::touch_conf_items;
use mydht_tcp::TcpTransport;

/// Counts the heap bytes asked for and not yet given back, in total and as
/// live allocations per size class (powers of two), by the whole process
/// or by the threads that opt in ([`start_counting`]).
pub struct Counting;

thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
    /// Not counted even when every thread is.
    static EXCLUDED: Cell<bool> = const { Cell::new(false) };
}

/// Every thread is counted.
static ALL: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
const CLASSES: usize = 40;
static LIVE_CLASSES: [AtomicIsize; CLASSES] = [const { AtomicIsize::new(0) }; CLASSES];

/// Counts from now on every thread's allocations (`whole_process`), or this
/// thread's.
pub fn start_counting(whole_process: bool) {
    if whole_process {
        ALL.store(true, Ordering::Relaxed);
    } else {
        COUNTED.with(|c| c.set(true));
    }
}

/// Only the threads that opted in ([`start_counting`]) are counted from now on.
#[allow(dead_code)] // the test's
pub fn stop_counting_whole_process() {
    ALL.store(false, Ordering::Relaxed);
}

/// This thread is not counted when every other is.
#[allow(dead_code)] // the test's
pub fn exclude_this_thread() {
    EXCLUDED.with(|c| c.set(true));
}

fn count(size: usize, sign: isize) {
    let counted = if ALL.load(Ordering::Relaxed) {
        !EXCLUDED.try_with(Cell::get).unwrap_or(false)
    } else {
        COUNTED.try_with(Cell::get).unwrap_or(false)
    };
    if counted {
        LIVE.fetch_add(sign * size as isize, Ordering::Relaxed);
        let class = (usize::BITS - size.leading_zeros()).min(CLASSES as u32 - 1) as usize;
        LIVE_CLASSES[class].fetch_add(sign, Ordering::Relaxed);
    }
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

/// The counted heap at one moment.
pub struct Heap {
    /// Bytes asked for and live.
    pub live: isize,
    classes: [isize; CLASSES],
}

impl Heap {
    /// Now.
    pub fn now() -> Self {
        Heap {
            live: LIVE.load(Ordering::Relaxed),
            classes: std::array::from_fn(|i| LIVE_CLASSES[i].load(Ordering::Relaxed)),
        }
    }

    /// The size classes with at least one more (or fewer) live allocation
    /// than in `base` for every other of `n` connections, with those counts
    /// per connection: where a connection's heap goes.
    pub fn breakdown(&self, base: &Heap, n: usize) -> String {
        let mut out = String::new();
        for (class, (now, then)) in self.classes.iter().zip(&base.classes).enumerate() {
            let per = (now - then) as f64 / n as f64;
            if per.abs() >= 0.5 {
                let (low, high) = ((1usize << class) >> 1, 1usize << class);
                out += &format!("{per:.2} × {}–{}; ", human(low), human(high));
            }
        }
        out
    }
}

/// Bytes, in B, KiB or MiB.
fn human(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// Raises the soft limit of open files to the hard one: each peer holds
/// four (its poll, waker, listener and connection), the hub one per peer.
pub fn raise_open_files() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// A peer: a `restartable!` touch node whose loop its thread turns.
pub struct Spoke;

impl MyDHTConf for Spoke {
    touch_conf_items!(restartable, TcpTransport);

    fn main_loop_spawn(&self) -> MainLoopSpawn {
        MainLoopSpawn::Caller
    }
    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
}

/// Polls `f` once, with a waker that does nothing: the caller turns the
/// loops and polls again.
pub fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}
