//! What a [`ThreadIdle`](super::ThreadIdle) or
//! [`ThreadPark`](super::ThreadPark) thread waiting in its socket needs of
//! the system (Linux): an eventfd per thread, which a waker
//! writes to end the wait, and `poll(2)` on the socket and that eventfd.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

/// An eventfd: readable once written, until read.
pub(super) struct EventFd(OwnedFd);

impl EventFd {
    fn new() -> io::Result<Self> {
        // SAFETY: eventfd takes two integers and returns a new descriptor
        // or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor just made, owned by nothing else.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// This thread's eventfd (made at its first use, closed with the
    /// thread and the last waker holding it); `None` when the process is
    /// out of descriptors.
    pub(super) fn of_thread() -> Option<Arc<EventFd>> {
        thread_local! {
            static OWN: Option<Arc<EventFd>> = EventFd::new().ok().map(Arc::new);
        }
        OWN.with(Clone::clone)
    }

    /// Makes the eventfd readable (a waiting thread's `poll` returns).
    pub(super) fn signal(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live buffer to our descriptor. A
        // failure (the count at its maximum) leaves it readable anyway.
        unsafe { libc::write(self.0.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }

    /// Reads the eventfd back to not readable.
    fn drain(&self) {
        let mut buf = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a live buffer of 8 from our
        // descriptor; non-blocking, a failure means nothing was there.
        unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    }
}

/// What ended a [`poll_read`].
pub(super) struct Polled {
    /// The socket has data, an end or an error.
    pub(super) socket: bool,
}

/// Waits at most `timeout` for `socket` to be readable (or hung up, or in
/// error) or `wake` to be signalled (then drained). `EINTR` is a return
/// with nothing ready.
pub(super) fn poll_read(socket: RawFd, wake: &EventFd, timeout: Duration) -> io::Result<Polled> {
    let mut fds = [
        libc::pollfd {
            fd: socket,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: wake.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // Rounded up: a wait never ends before its deadline for want of a ms.
    let ms = timeout
        .as_micros()
        .div_ceil(1000)
        .min(libc::c_int::MAX as u128) as libc::c_int;
    // SAFETY: two pollfd entries of a live array, its length given.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(Polled { socket: false });
        }
        return Err(e);
    }
    if fds[1].revents != 0 {
        wake.drain();
    }
    Ok(Polled {
        socket: fds[0].revents != 0,
    })
}
