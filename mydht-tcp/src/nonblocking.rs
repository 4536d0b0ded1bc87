//! The non-blocking TCP transport, on mio: what a node's main loop polls.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
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
        Ok(TcpTransport {
            listener: TcpListener::bind(address)?,
        })
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
        let (read, write) = split(TcpStream::connect(*address)?)?;
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
