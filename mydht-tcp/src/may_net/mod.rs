//! The TCP transport for may coroutines (feature `may`): blocking-looking
//! streams on non-blocking std sockets, whose waits park the calling may
//! coroutine instead of its thread, for read and write services run as
//! coroutines on may's worker threads.

mod reactor;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use may::coroutine;
use mydht_base::{
    Accepted, ConnectCheck, ConnectStatus, Connected, Registerable, Result, Transport,
};

use reactor::{Dir, Registration};

/// A TCP transport for may coroutines: [`accept`](Transport::accept)
/// waits for a connection, [`connect_with`](Transport::connect_with)
/// returns once connected, reads and writes wait for the socket. Called
/// from a may coroutine, a wait parks the coroutine and frees its worker
/// thread for others; called from a plain thread, the thread waits in
/// `poll(2)`. For the node that is the blocking style
/// ([`is_nonblocking`](Transport::is_nonblocking) is false): a listener
/// thread and connector threads authenticate, the read and write services
/// wait in their streams, as coroutines in the may profile.
///
/// A connection is one socket (one file descriptor) shared by its two
/// halves, so a read half and a write half may wait at once, from two
/// coroutines or threads. A coroutine's wait is served by a thread of the
/// transport's (one `epoll` instance for the process, started with the
/// first wait of a coroutine), not by may's event loop, and has no timer:
/// it lasts until the socket is ready, or until something else unparks the
/// coroutine (a `MayCoroutine` service's stop, an unyield), which answers
/// `WouldBlock`. So a stop wakes a service waiting in its stream at once,
/// and an idle connection costs no wake-up.
///
/// With [`with_io_timeout`](Self::with_io_timeout), connects give up after
/// the timeout (`TimedOut`), and so do reads and writes on plain threads
/// (`WouldBlock`, as std's blocking sockets on Unix): the node's listener
/// and connector threads, which authenticate, never wait forever on a
/// silent peer. `accept` has no timeout: to stop a thread or coroutine
/// waiting in it, connect to [`local_address`](Transport::local_address)
/// once.
///
/// The listener is bound by std (`SO_REUSEADDR` only): a port another node
/// listens on is refused, never shared. It cannot be polled:
/// [`Registerable::register`] answers `Ok(false)` for any poller.
///
/// ```
/// use mydht_base::Transport;
/// use mydht_tcp::MayTcpTransport;
///
/// let transport = MayTcpTransport::bind("127.0.0.1:0".parse().unwrap()).unwrap();
/// assert!(!transport.is_nonblocking());
/// ```
#[derive(Debug)]
pub struct MayTcpTransport {
    listener: Socket<TcpListener>,
    io_timeout: Option<Duration>,
}

impl MayTcpTransport {
    /// Listens on `address` (port 0 picks a free port), with no I/O timeout.
    pub fn bind(address: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        Ok(MayTcpTransport {
            listener: Socket::new(listener),
            io_timeout: None,
        })
    }

    /// The same transport, whose connects, and reads and writes on plain
    /// threads, give up after `timeout` (`None`: wait forever). A zero
    /// duration is refused: use `None`.
    pub fn with_io_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.io_timeout = timeout;
        self
    }

    fn split(&self, stream: TcpStream) -> Result<(MayTcpReadStream, MayTcpWriteStream)> {
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let socket = Arc::new(Socket::new(stream));
        let timeout = self.io_timeout;
        Ok((
            MayTcpReadStream {
                socket: socket.clone(),
                timeout,
            },
            MayTcpWriteStream { socket, timeout },
        ))
    }
}

impl Transport for MayTcpTransport {
    type Address = SocketAddr;
    type ReadStream = MayTcpReadStream;
    type WriteStream = MayTcpWriteStream;

    fn is_nonblocking(&self) -> bool {
        false
    }

    fn local_address(&self) -> Result<SocketAddr> {
        Ok(self.listener.io.local_addr()?)
    }

    /// Waits for a connection; never `Ok(None)`.
    fn accept(&self) -> Result<Option<Accepted<Self>>> {
        let (stream, from) = self.listener.wait(Dir::Read, None, |l| l.accept())?;
        let (read, write) = self.split(stream)?;
        Ok(Some(Accepted {
            read,
            write: Some(write),
            from,
        }))
    }

    fn connect_with(&self, address: &SocketAddr) -> Result<Connected<Self>> {
        let stream = if coroutine::is_coroutine() {
            // may's connect parks the coroutine; its socket then leaves
            // may's event loop for this transport.
            let stream = match self.io_timeout {
                Some(timeout) => may::net::TcpStream::connect_timeout(address, timeout)?,
                None => may::net::TcpStream::connect(address)?,
            };
            // SAFETY: the descriptor was just released by may, owned by
            // nobody else.
            unsafe { TcpStream::from_raw_fd(stream.into_raw_fd()) }
        } else {
            match self.io_timeout {
                Some(timeout) => TcpStream::connect_timeout(address, timeout)?,
                None => TcpStream::connect(address)?,
            }
        };
        let (read, write) = self.split(stream)?;
        Ok(Connected {
            write,
            read: Some(read),
        })
    }
}

impl<P> Registerable<P> for MayTcpTransport {
    /// Cannot be polled.
    fn register(&mut self, _: &P, _: usize) -> Result<bool> {
        Ok(false)
    }

    fn deregister(&mut self, _: &P) -> Result<()> {
        Ok(())
    }
}

/// A non-blocking socket and its place in the reactor, left when it closes.
#[derive(Debug)]
struct Socket<T: AsRawFd> {
    io: T,
    reg: Registration,
}

impl<T: AsRawFd> Socket<T> {
    fn new(io: T) -> Self {
        Socket {
            io,
            reg: Registration::new(),
        }
    }

    /// Runs `op` until it does not answer `WouldBlock`, waiting for `dir`
    /// in between: a coroutine parks (see `reactor::in_coroutine`), a
    /// plain thread polls, at most `timeout` (then `WouldBlock`).
    fn wait<R>(
        &self,
        dir: Dir,
        timeout: Option<Duration>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let fd = self.io.as_raw_fd();
        if coroutine::is_coroutine() {
            return reactor::in_coroutine(fd, &self.reg, dir, || op(&self.io));
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            match op(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !wait_ready(fd, dir.poll_events(), deadline)? {
                        return Err(e);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }
}

impl<T: AsRawFd> Drop for Socket<T> {
    fn drop(&mut self) {
        reactor::release(self.io.as_raw_fd(), &self.reg);
    }
}

/// On a plain thread, waits until `fd` is ready for `events` (`poll(2)`),
/// at most until `deadline`: `Ok(false)` when it passed.
fn wait_ready(fd: RawFd, events: libc::c_short, deadline: Option<Instant>) -> io::Result<bool> {
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(false);
                }
                // Rounded up: never a busy loop on a sub-millisecond rest.
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid `pollfd`, alive for the call.
        match unsafe { libc::poll(&mut pfd, 1, ms) } {
            -1 => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            0 => {}
            // Ready, or an error or hang-up the next read or write reports.
            _ => return Ok(true),
        }
    }
}

/// The read half of a [`MayTcpTransport`] connection, usable from another
/// coroutine or thread than the write half.
#[derive(Debug)]
pub struct MayTcpReadStream {
    socket: Arc<Socket<TcpStream>>,
    timeout: Option<Duration>,
}

impl Read for MayTcpReadStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.socket
            .wait(Dir::Read, self.timeout, |mut s| s.read(buf))
    }
}

impl<P> Registerable<P> for MayTcpReadStream {
    /// Cannot be polled.
    fn register(&mut self, _: &P, _: usize) -> Result<bool> {
        Ok(false)
    }

    fn deregister(&mut self, _: &P) -> Result<()> {
        Ok(())
    }
}

/// The write half of a [`MayTcpTransport`] connection.
///
/// Dropping it shuts the socket down for writing: the peer reads end of
/// stream, and when it closes in turn our read half reads end of stream.
/// The socket closes when both halves are gone.
#[derive(Debug)]
pub struct MayTcpWriteStream {
    socket: Arc<Socket<TcpStream>>,
    timeout: Option<Duration>,
}

impl Write for MayTcpWriteStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.socket
            .wait(Dir::Write, self.timeout, |mut s| s.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ConnectCheck for MayTcpWriteStream {
    /// Connected before [`Transport::connect_with`] returned.
    fn check_connect(&self) -> Result<ConnectStatus> {
        Ok(ConnectStatus::Established)
    }
}

impl<P> Registerable<P> for MayTcpWriteStream {
    /// Cannot be polled.
    fn register(&mut self, _: &P, _: usize) -> Result<bool> {
        Ok(false)
    }

    fn deregister(&mut self, _: &P) -> Result<()> {
        Ok(())
    }
}

impl Drop for MayTcpWriteStream {
    fn drop(&mut self) {
        // Fails only when the peer already reset the connection: nothing to do.
        let _ = self.socket.io.shutdown(Shutdown::Write);
    }
}
