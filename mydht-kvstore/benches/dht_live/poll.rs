//! poll(2), for a thread that waits on many nodes' pollers at once.
//!
//! The C library std links provides `poll`; declared here rather than
//! adding a crate for one call.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// `struct pollfd` of `<poll.h>`.
#[repr(C)]
struct PollFd {
    fd: RawFd,
    events: i16,
    revents: i16,
}

const POLLIN: i16 = 0x1;

extern "C" {
    fn poll(fds: *mut PollFd, nfds: u64, timeout: i32) -> i32;
}

/// Waits at most `wait` (rounded up to the millisecond) until one of `fds`
/// is readable; for each, whether it is. Negative descriptors are ignored.
pub fn readable(fds: &[RawFd], wait: Duration) -> io::Result<Vec<bool>> {
    let mut polled: Vec<PollFd> = fds
        .iter()
        .map(|&fd| PollFd {
            fd,
            events: POLLIN,
            revents: 0,
        })
        .collect();
    let ms = wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    // SAFETY: `polled` is a live array of `polled.len()` `pollfd`s, which
    // poll(2) only reads and writes within.
    let n = unsafe { poll(polled.as_mut_ptr(), polled.len() as u64, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(polled.iter().map(|p| p.revents & POLLIN != 0).collect())
}
