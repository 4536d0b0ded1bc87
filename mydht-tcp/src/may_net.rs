//! The TCP transport on `may::net` (feature `may`): blocking-looking
//! streams whose waits park the calling may coroutine instead of its
//! thread, for read and write services run as coroutines on may's worker
//! threads.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use may::coroutine;

use may::io::{SplitIo, SplitReader, SplitWriter};
use may::net::{TcpListener, TcpStream};
use mydht_base::{
    Accepted, ConnectCheck, ConnectStatus, Connected, Error, ErrorKind, ErrorLevel, Registerable,
    Result, Transport,
};

/// A TCP transport on may's sockets: [`accept`](Transport::accept) waits
/// for a connection, [`connect_with`](Transport::connect_with) returns once
/// connected, reads and writes wait for the socket. Called from a may
/// coroutine, a wait parks the coroutine and frees its worker thread for
/// others (may's event loop wakes it); called from a plain thread, the
/// thread waits in `poll(2)`. For the node that is the blocking style
/// ([`is_nonblocking`](Transport::is_nonblocking) is false): a listener
/// thread and connector threads authenticate, the read and write services
/// wait in their streams, as coroutines in the may profile.
///
/// With [`with_io_timeout`](Self::with_io_timeout), connects, reads and
/// writes give up after the timeout: a connect fails with `TimedOut`, a
/// read or write answers `WouldBlock` (as std's blocking sockets do on
/// Unix), so a silent peer never holds a service forever. `accept` has no
/// timeout: to stop a thread or coroutine waiting in it, connect to
/// [`local_address`](Transport::local_address) once.
///
/// The listener is bound by std (`SO_REUSEADDR` only, not the
/// `SO_REUSEPORT` of `may::net::TcpListener::bind`): a port another node
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
    listener: TcpListener,
    io_timeout: Option<Duration>,
}

impl MayTcpTransport {
    /// Listens on `address` (port 0 picks a free port), with no I/O timeout.
    pub fn bind(address: SocketAddr) -> Result<Self> {
        let listener = adopt(std::net::TcpListener::bind(address)?)?;
        Ok(MayTcpTransport {
            listener,
            io_timeout: None,
        })
    }

    /// The same transport, whose connects, reads and writes give up after
    /// `timeout` (`None`: wait forever). A zero duration is refused: use
    /// `None`.
    pub fn with_io_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.io_timeout = timeout;
        self
    }

    fn split(&self, stream: TcpStream) -> Result<(MayTcpReadStream, MayTcpWriteStream)> {
        stream.set_nodelay(true)?;
        // Two descriptors of one socket, each registered with may's event
        // loop for its own direction, so a coroutine may wait to read while
        // another waits to write.
        let (read, write) = stream.split()?;
        read.inner().set_read_timeout(self.io_timeout)?;
        write.inner().set_write_timeout(self.io_timeout)?;
        Ok((MayTcpReadStream { read }, MayTcpWriteStream { write }))
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
        Ok(self.listener.local_addr()?)
    }

    /// Waits for a connection; never `Ok(None)`.
    fn accept(&self) -> Result<Option<Accepted<Self>>> {
        if !coroutine::is_coroutine() {
            // may's accept tries at once, then waits through its proxy.
            wait_ready(self.listener.as_raw_fd(), libc::POLLIN, None)?;
        }
        let (stream, from) = self.listener.accept()?;
        let (read, write) = self.split(stream)?;
        Ok(Some(Accepted {
            read,
            write: Some(write),
            from,
        }))
    }

    fn connect_with(&self, address: &SocketAddr) -> Result<Connected<Self>> {
        let stream = if coroutine::is_coroutine() {
            match self.io_timeout {
                Some(timeout) => TcpStream::connect_timeout(address, timeout)?,
                None => TcpStream::connect(address)?,
            }
        } else {
            let std_stream = match self.io_timeout {
                Some(timeout) => std::net::TcpStream::connect_timeout(address, timeout)?,
                None => std::net::TcpStream::connect(address)?,
            };
            adopt(std_stream)?
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

/// Hands a socket opened by std to may (which makes it non-blocking and
/// registers it with its event loop). may panics when it cannot register
/// it: a typed error instead (the socket is closed on unwind).
fn adopt<S: IntoRawFd, M: FromRawFd>(socket: S) -> Result<M> {
    let fd = socket.into_raw_fd();
    // SAFETY: `fd` was just released by std, owned by nobody else.
    panic::catch_unwind(AssertUnwindSafe(|| unsafe { M::from_raw_fd(fd) })).map_err(|_| {
        Error::new(
            ErrorKind::Io(io::ErrorKind::Other),
            ErrorLevel::ShutDown,
            "may could not register the socket",
        )
    })
}

/// On a plain thread, waits until `fd` is ready for `events` (`poll(2)`),
/// at most until `deadline`: `Ok(false)` when it passed. may would serve
/// the wait through a proxy coroutine (the thread sends it the wait, a
/// worker runs it and unparks the thread): two more wake-ups per wait for
/// the node's listener and connector threads.
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

/// One read or write of a non-blocking socket from a plain thread: tried at
/// once, then after each readiness, until the timeout (`WouldBlock`).
fn on_thread<T>(
    fd: RawFd,
    events: libc::c_short,
    timeout: Option<Duration>,
    mut op: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !wait_ready(fd, events, deadline)? {
                    return Err(e);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// may reports an expired I/O timeout as `TimedOut`; std's blocking
/// sockets (and what the node's frames resume on) say `WouldBlock`.
fn timeout_as_block(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::TimedOut {
        io::Error::from(io::ErrorKind::WouldBlock)
    } else {
        e
    }
}

/// The read half of a [`MayTcpTransport`] connection: its own descriptor
/// of the socket, usable from another coroutine or thread than the write
/// half.
pub struct MayTcpReadStream {
    read: SplitReader<TcpStream>,
}

impl std::fmt::Debug for MayTcpReadStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MayTcpReadStream")
            .field(self.read.inner())
            .finish()
    }
}

impl Read for MayTcpReadStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if coroutine::is_coroutine() {
            return self.read.read(buf).map_err(timeout_as_block);
        }
        let stream = self.read.inner();
        let mut sys = stream.inner();
        let timeout = stream.read_timeout()?;
        on_thread(sys.as_raw_fd(), libc::POLLIN, timeout, || sys.read(buf))
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
pub struct MayTcpWriteStream {
    write: SplitWriter<TcpStream>,
}

impl std::fmt::Debug for MayTcpWriteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MayTcpWriteStream")
            .field(self.write.inner())
            .finish()
    }
}

impl Write for MayTcpWriteStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if coroutine::is_coroutine() {
            return self.write.write(buf).map_err(timeout_as_block);
        }
        let stream = self.write.inner();
        let mut sys = stream.inner();
        let timeout = stream.write_timeout()?;
        on_thread(sys.as_raw_fd(), libc::POLLOUT, timeout, || sys.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write.flush().map_err(timeout_as_block)
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
        let _ = self.write.inner().shutdown(Shutdown::Write);
    }
}
