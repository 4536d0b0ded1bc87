//! The non-blocking TCP transport, on mio: what a node's main loop polls.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::Arc;

use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use mydht_base::{
    Accepted, ConnectCheck, ConnectStatus, Connected, ReadWait, Registerable, Result, Transport,
};

/// A non-blocking TCP transport: a mio listener, and connections whose read
/// and write halves share one mio socket.
///
/// Streams return `WouldBlock`; the node registers the listener and one half
/// of each connection with its `mio::Registry` ([`Registerable`]) and resumes
/// the read or write service on readiness. Every accepted or connected socket
/// has `TCP_NODELAY` set: MyDHT writes small framed messages and flushes them
/// itself.
///
/// ```
/// use mydht_base::Transport;
/// use mydht_tcp::TcpTransport;
///
/// let transport = TcpTransport::bind("127.0.0.1:0".parse().unwrap()).unwrap();
/// assert!(transport.is_nonblocking());
/// assert_ne!(transport.local_address().unwrap().port(), 0);
/// ```
#[derive(Debug)]
pub struct TcpTransport {
    listener: TcpListener,
}

impl TcpTransport {
    /// Listens on `address`; port 0 picks a free port, see
    /// [`Transport::local_address`].
    pub fn bind(address: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind(address)?;
        if address.ip().is_loopback() {
            // Accepted connections take the listener's congestion control.
            let _ = unpaced(listener.as_raw_fd());
        }
        Ok(TcpTransport { listener })
    }
}

/// Splits a socket into the two halves a read and a write service own.
fn split(stream: TcpStream) -> Result<(TcpReadStream, TcpWriteStream)> {
    stream.set_nodelay(true)?;
    let stream = Arc::new(stream);
    Ok((
        TcpReadStream {
            stream: stream.clone(),
        },
        TcpWriteStream { stream },
    ))
}

impl Transport for TcpTransport {
    type Address = SocketAddr;
    type ReadStream = TcpReadStream;
    type WriteStream = TcpWriteStream;

    fn is_nonblocking(&self) -> bool {
        true
    }

    fn local_address(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    fn accept(&self) -> Result<Option<Accepted<Self>>> {
        match self.listener.accept() {
            Ok((stream, from)) => {
                let (read, write) = split(stream)?;
                Ok(Some(Accepted {
                    read,
                    write: Some(write),
                    from,
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Starts connecting and returns at once: the write service learns the
    /// outcome from [`TcpWriteStream::check_connect`] on writable readiness.
    fn connect_with(&self, address: &SocketAddr) -> Result<Connected<Self>> {
        let stream = if address.ip().is_loopback() {
            connect_unpaced(address)?
        } else {
            TcpStream::connect(*address)?
        };
        let (read, write) = split(stream)?;
        Ok(Connected {
            write,
            read: Some(read),
        })
    }
}

impl Registerable<Registry> for TcpTransport {
    /// Registers the listener for readable readiness (a pending connection).
    fn register(&mut self, registry: &Registry, token: usize) -> Result<bool> {
        registry.register(&mut self.listener, Token(token), Interest::READABLE)?;
        Ok(true)
    }

    fn deregister(&mut self, registry: &Registry) -> Result<()> {
        Ok(registry.deregister(&mut self.listener)?)
    }
}

/// Registers the socket shared by both halves, for both directions.
fn register_socket(stream: &TcpStream, registry: &Registry, token: usize) -> Result<bool> {
    let fd = stream.as_raw_fd();
    registry.register(
        &mut SourceFd(&fd),
        Token(token),
        Interest::READABLE | Interest::WRITABLE,
    )?;
    Ok(true)
}

fn deregister_socket(stream: &TcpStream, registry: &Registry) -> Result<()> {
    let fd = stream.as_raw_fd();
    Ok(registry.deregister(&mut SourceFd(&fd))?)
}

/// The read half of a [`TcpTransport`] connection.
///
/// Shares its socket with the [`TcpWriteStream`] of the same connection (the
/// socket closes when both are dropped), so the two may be used from two
/// threads at once.
#[derive(Debug)]
pub struct TcpReadStream {
    stream: Arc<TcpStream>,
}

impl TcpReadStream {
    /// The remote address of the connection.
    pub fn peer_address(&self) -> Result<SocketAddr> {
        Ok(self.stream.peer_addr()?)
    }
}

impl Read for TcpReadStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.stream).read(buf)
    }
}

impl Registerable<Registry> for TcpReadStream {
    /// Registers the connection (both directions) under `token`.
    fn register(&mut self, registry: &Registry, token: usize) -> Result<bool> {
        register_socket(&self.stream, registry, token)
    }

    fn deregister(&mut self, registry: &Registry) -> Result<()> {
        deregister_socket(&self.stream, registry)
    }

    /// The socket, and its registration (both directions, under `token`)
    /// changed to writable readiness only while a thread waits in it.
    fn read_wait(
        &self,
        registry: &Arc<Registry>,
        token: usize,
    ) -> Option<Box<dyn ReadWait + Send>> {
        Some(Box::new(TcpReadWait {
            stream: self.stream.clone(),
            registry: registry.clone(),
            token: Token(token),
            reads: true,
        }))
    }
}

/// The [`ReadWait`] of a [`TcpReadStream`]: its socket, and its
/// registration in the node's poller.
struct TcpReadWait {
    stream: Arc<TcpStream>,
    registry: Arc<Registry>,
    token: Token,
    /// The registration has readable readiness.
    reads: bool,
}

impl ReadWait for TcpReadWait {
    fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// Re-registers the socket (`EPOLL_CTL_MOD`, which reports readiness
    /// already there) when the watch changes; nothing otherwise.
    fn poller_reads(&mut self, on: bool) -> Result<()> {
        if on == self.reads {
            return Ok(());
        }
        let interest = if on {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::WRITABLE
        };
        let fd = self.stream.as_raw_fd();
        self.registry
            .reregister(&mut SourceFd(&fd), self.token, interest)?;
        self.reads = on;
        Ok(())
    }
}

/// The write half of a [`TcpTransport`] connection.
///
/// Dropping it shuts the socket down for writing: the peer reads end of
/// stream while this side may still read what the peer sends.
#[derive(Debug)]
pub struct TcpWriteStream {
    stream: Arc<TcpStream>,
}

impl TcpWriteStream {
    /// The remote address of the connection (an error while connecting).
    pub fn peer_address(&self) -> Result<SocketAddr> {
        Ok(self.stream.peer_addr()?)
    }
}

impl Write for TcpWriteStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.stream).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.stream).flush()
    }
}

impl ConnectCheck for TcpWriteStream {
    /// `take_error` first (a refused or unreachable connect), then
    /// `peer_addr`: `NotConnected` means the readiness came before the
    /// handshake finished.
    fn check_connect(&self) -> Result<ConnectStatus> {
        if let Some(e) = self.stream.take_error()? {
            return Err(e.into());
        }
        match self.stream.peer_addr() {
            Ok(_) => Ok(ConnectStatus::Established),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(ConnectStatus::Pending),
            Err(e) => Err(e.into()),
        }
    }
}

impl Registerable<Registry> for TcpWriteStream {
    /// Registers the connection (both directions) under `token`.
    fn register(&mut self, registry: &Registry, token: usize) -> Result<bool> {
        register_socket(&self.stream, registry, token)
    }

    fn deregister(&mut self, registry: &Registry) -> Result<()> {
        deregister_socket(&self.stream, registry)
    }
}

impl Drop for TcpWriteStream {
    fn drop(&mut self) {
        // Not connected (a failed connect) is the only expected error, and
        // there is nothing to do about it in a drop.
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Sets `fd`'s TCP congestion control to reno, which does not pace: on
/// loopback there is no bottleneck to pace for, and with bbr (a common
/// system default) and no fq qdisc, TCP paces by itself with a timer.
fn unpaced(fd: RawFd) -> io::Result<()> {
    let name = b"reno";
    // SAFETY: `fd` is an open socket; `name` outlives the call.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            name.as_ptr().cast(),
            name.len() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A non-blocking connect to a loopback `address` whose socket is
/// [`unpaced`] before its handshake (the congestion control a connection
/// starts with decides its pacing).
fn connect_unpaced(address: &SocketAddr) -> io::Result<TcpStream> {
    let domain = match address {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: plain socket creation; the descriptor is owned below.
    let fd = unsafe {
        libc::socket(
            domain,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nobody else.
    let socket = unsafe { std::net::TcpStream::from_raw_fd(fd) };
    let _ = unpaced(fd);
    // SAFETY: an all-zero sockaddr_storage is valid; each arm writes a
    // complete sockaddr of its family into it.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match address {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    // SAFETY: `storage` holds a sockaddr of `len` bytes.
    let r = unsafe {
        libc::connect(
            fd,
            (&storage as *const libc::sockaddr_storage).cast(),
            len as libc::socklen_t,
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
    }
    Ok(TcpStream::from_std(socket))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `fd`'s TCP congestion control.
    fn congestion(fd: RawFd) -> String {
        let mut name = [0u8; 16];
        let mut len = name.len() as libc::socklen_t;
        // SAFETY: `fd` is an open socket; `name` and `len` outlive the call.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_CONGESTION,
                name.as_mut_ptr().cast(),
                &mut len,
            )
        };
        assert_eq!(r, 0, "{}", io::Error::last_os_error());
        let name = &name[..len as usize];
        String::from_utf8_lossy(name.split(|&b| b == 0).next().unwrap_or(name)).into_owned()
    }

    /// A connection to a loopback address is reno on both sides from its
    /// start (dialled and accepted), IPv4 and IPv6, and carries bytes.
    #[test]
    fn loopback_connections_are_unpaced_on_both_sides() {
        for address in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(transport) = TcpTransport::bind(address.parse().unwrap()) else {
                // No IPv6 loopback on this machine.
                continue;
            };
            let to = transport.local_address().unwrap();
            let mut dialled = transport.connect_with(&to).unwrap();
            let accepted = loop {
                if let Some(a) = transport.accept().unwrap() {
                    break a;
                }
                std::thread::yield_now();
            };
            assert_eq!(congestion(transport.listener.as_raw_fd()), "reno");
            assert_eq!(congestion(dialled.write.stream.as_raw_fd()), "reno");
            assert_eq!(congestion(accepted.read.stream.as_raw_fd()), "reno");
            let mut write = accepted.write.unwrap();
            while write.write(b"x").map_or(true, |n| n == 0) {
                std::thread::yield_now();
            }
            let mut read = dialled.read.take().unwrap();
            let mut byte = [0u8; 1];
            loop {
                match read.read(&mut byte) {
                    Ok(1) => break,
                    Ok(_) => panic!("end of stream"),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!(&byte, b"x");
        }
    }
}
