//! epoll(7), for a thread that waits on many nodes' pollers at once: each
//! node's poller descriptor is registered once (level-triggered), and a
//! wait costs what is ready, not one entry per node as poll(2) did.
//!
//! The C library std links provides the calls; declared here rather than
//! adding a crate for three calls.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// `struct epoll_event` of `<sys/epoll.h>` (packed on x86-64).
#[cfg_attr(target_arch = "x86_64", repr(C, packed))]
#[cfg_attr(not(target_arch = "x86_64"), repr(C))]
#[derive(Clone, Copy)]
struct EpollEvent {
    events: u32,
    data: u64,
}

const EPOLLIN: u32 = 0x1;
const EPOLL_CTL_ADD: i32 = 1;
const EPOLL_CTL_DEL: i32 = 2;
const EPOLL_CLOEXEC: i32 = 0o2000000;

extern "C" {
    fn epoll_create1(flags: i32) -> i32;
    fn epoll_ctl(epfd: i32, op: i32, fd: i32, event: *mut EpollEvent) -> i32;
    fn epoll_wait(epfd: i32, events: *mut EpollEvent, maxevents: i32, timeout: i32) -> i32;
    fn close(fd: i32) -> i32;
}

/// An epoll instance; closed when dropped.
pub struct Epoll {
    fd: RawFd,
    events: Vec<EpollEvent>,
}

impl Epoll {
    /// A new instance, reporting at most `capacity` descriptors a wait.
    pub fn new(capacity: usize) -> io::Result<Epoll> {
        // SAFETY: no pointer argument.
        let fd = unsafe { epoll_create1(EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let empty = EpollEvent { events: 0, data: 0 };
        Ok(Epoll {
            fd,
            events: vec![empty; capacity.max(1)],
        })
    }

    /// Watches `fd` for reading, reported as `token`.
    pub fn add(&mut self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut e = EpollEvent {
            events: EPOLLIN,
            data: token,
        };
        // SAFETY: `e` is a live `epoll_event` the call only reads.
        if unsafe { epoll_ctl(self.fd, EPOLL_CTL_ADD, fd, &mut e) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Stops watching `fd` (before it is closed).
    pub fn remove(&mut self, fd: RawFd) -> io::Result<()> {
        let mut e = EpollEvent { events: 0, data: 0 };
        // SAFETY: as in `add` (older kernels want a non-null pointer).
        if unsafe { epoll_ctl(self.fd, EPOLL_CTL_DEL, fd, &mut e) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits at most `wait` (rounded up to the millisecond) until a
    /// watched descriptor is readable; puts the tokens of those that are
    /// in `ready` (cleared first).
    pub fn wait(&mut self, wait: Duration, ready: &mut Vec<u64>) -> io::Result<()> {
        ready.clear();
        let ms = wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        let max = self.events.len().min(i32::MAX as usize) as i32;
        // SAFETY: `events` is a live array of at least `max` entries, which
        // epoll_wait only writes within.
        let n = unsafe { epoll_wait(self.fd, self.events.as_mut_ptr(), max, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            };
        }
        ready.extend(self.events[..n as usize].iter().map(|e| e.data));
        Ok(())
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: `fd` is this instance's own descriptor, closed once.
        unsafe { close(self.fd) };
    }
}
