//! An asymmetric sequentially consistent fence: a cheap half for the side
//! that runs often (whoever wakes a service thread, once per command) and
//! an expensive half for the side that runs rarely (the service thread,
//! once before it parks). Together the halves order like two
//! `fence(SeqCst)`: of a waker that wrote something then read the service's
//! park state, and a service thread that wrote its park state then reads
//! what wakers write, at least one sees the other's write.
//!
//! On Linux the expensive half is `membarrier(2)` (private expedited): the
//! kernel makes every running thread of the process execute a full memory
//! barrier, so the cheap half only has to stop the compiler from moving
//! memory accesses across it. Where `membarrier` is missing or refused
//! (other systems, old kernels, seccomp, valgrind), both halves are
//! `fence(SeqCst)`.

use std::sync::atomic::{compiler_fence, fence, Ordering};
use std::sync::OnceLock;

/// Whether the process registered for `membarrier`; decided once, by
/// [`init`], before any service thread starts.
static ASYMMETRIC: OnceLock<bool> = OnceLock::new();

/// Decides how the halves work. Called before a service thread is spawned,
/// so every thread that will use the halves sees the decision.
pub(crate) fn init() {
    ASYMMETRIC.get_or_init(sys::register);
}

/// Whether the cheap half is only a compiler fence (the expensive half a
/// `membarrier`): a side that skips even the cheap half's hardware order
/// relies on it.
pub(crate) fn asymmetric() -> bool {
    ASYMMETRIC.get() == Some(&true)
}

/// The cheap half, for the side that runs often.
#[inline]
pub(crate) fn light() {
    if ASYMMETRIC.get() == Some(&true) {
        compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// The expensive half, for the side that runs rarely.
pub(crate) fn heavy() {
    if ASYMMETRIC.get() == Some(&true) {
        sys::barrier();
    } else {
        fence(Ordering::SeqCst);
    }
}

#[cfg(target_os = "linux")]
mod sys {
    const MEMBARRIER_CMD_GLOBAL: libc::c_long = 1;
    const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 8;
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 16;

    fn membarrier(cmd: libc::c_long) -> bool {
        // SAFETY: membarrier takes two integers and touches no memory of
        // ours; a refused command is reported by its return value.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                cmd,
                0 as libc::c_long,
                0 as libc::c_long,
            ) == 0
        }
    }

    /// Registers the process for private expedited barriers: true when the
    /// kernel accepts them, then a barrier must follow.
    pub(super) fn register() -> bool {
        membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)
            && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)
    }

    /// A full barrier on every running thread of the process.
    pub(super) fn barrier() {
        // Registered (`register` succeeded), so the expedited command does
        // not fail; the global one (slower) is the kernel's other way to
        // give the same guarantee.
        if !membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) && !membarrier(MEMBARRIER_CMD_GLOBAL) {
            panic!("membarrier refused after registration");
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    pub(super) fn register() -> bool {
        false
    }

    pub(super) fn barrier() {
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }
}
