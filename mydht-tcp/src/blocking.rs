//! The blocking TCP transport, on std: for the synchronous mode, where every
//! read and write service runs on a thread of its own.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use mydht_base::{
    Accepted, ConnectCheck, ConnectStatus, Connected, Registerable, Result, Transport,
};

/// A blocking TCP transport: [`accept`](Transport::accept) waits for a
/// connection, [`connect_with`](Transport::connect_with) returns once
/// connected, reads and writes block.
///
/// With [`with_io_timeout`](Self::with_io_timeout), connects, reads and
/// writes fail with `TimedOut`/`WouldBlock` instead of waiting forever on a
/// silent peer. `accept` has no timeout: to stop a thread blocked in it,
/// connect to [`local_address`](Transport::local_address) once.
///
/// It cannot be polled: [`Registerable::register`] answers `Ok(false)` for
/// any poller.
///
/// ```
/// use mydht_base::Transport;
/// use mydht_tcp::BlockingTcpTransport;
///
/// let transport = BlockingTcpTransport::bind("127.0.0.1:0".parse().unwrap()).unwrap();
/// assert!(!transport.is_nonblocking());
/// ```
#[derive(Debug)]
pub struct BlockingTcpTransport {
    listener: TcpListener,
    io_timeout: Option<Duration>,
}

impl BlockingTcpTransport {
    /// Listens on `address` (port 0 picks a free port), with no I/O timeout.
    pub fn bind(address: SocketAddr) -> Result<Self> {
        Ok(BlockingTcpTransport {
            listener: TcpListener::bind(address)?,
            io_timeout: None,
        })
    }

    /// The same transport, whose connects, reads and writes give up after
    /// `timeout` (`None`: wait forever). A zero duration is refused by std:
    /// use `None`.
    pub fn with_io_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.io_timeout = timeout;
        self
    }

    fn split(&self, stream: TcpStream) -> Result<(BlockingTcpReadStream, BlockingTcpWriteStream)> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(self.io_timeout)?;
        stream.set_write_timeout(self.io_timeout)?;
        let stream = Arc::new(stream);
        Ok((
            BlockingTcpReadStream {
                stream: stream.clone(),
            },
            BlockingTcpWriteStream { stream },
        ))
    }
}

impl Transport for BlockingTcpTransport {
    type Address = SocketAddr;
    type ReadStream = BlockingTcpReadStream;
    type WriteStream = BlockingTcpWriteStream;

    fn is_nonblocking(&self) -> bool {
        false
    }

    fn local_address(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Waits for a connection; never `Ok(None)`.
    fn accept(&self) -> Result<Option<Accepted<Self>>> {
        let (stream, from) = self.listener.accept()?;
        let (read, write) = self.split(stream)?;
        Ok(Some(Accepted {
            read,
            write: Some(write),
            from,
        }))
    }

    fn connect_with(&self, address: &SocketAddr) -> Result<Connected<Self>> {
        let stream = match self.io_timeout {
            Some(timeout) => TcpStream::connect_timeout(address, timeout)?,
            None => TcpStream::connect(address)?,
        };
        let (read, write) = self.split(stream)?;
        Ok(Connected {
            write,
            read: Some(read),
        })
    }
}

impl<P> Registerable<P> for BlockingTcpTransport {
    /// Cannot be polled.
    fn register(&mut self, _: &P, _: usize) -> Result<bool> {
        Ok(false)
    }

    fn deregister(&mut self, _: &P) -> Result<()> {
        Ok(())
    }
}

/// The read half of a [`BlockingTcpTransport`] connection; shares its socket
/// with the [`BlockingTcpWriteStream`], usable from another thread.
#[derive(Debug)]
pub struct BlockingTcpReadStream {
    stream: Arc<TcpStream>,
}

impl Read for BlockingTcpReadStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.stream).read(buf)
    }
}

impl<P> Registerable<P> for BlockingTcpReadStream {
    /// Cannot be polled.
    fn register(&mut self, _: &P, _: usize) -> Result<bool> {
        Ok(false)
    }

    fn deregister(&mut self, _: &P) -> Result<()> {
        Ok(())
    }
}

/// The write half of a [`BlockingTcpTransport`] connection.
///
/// Dropping it shuts the socket down for writing: the peer reads end of
/// stream, and when it closes in turn our read half reads end of stream.
#[derive(Debug)]
pub struct BlockingTcpWriteStream {
    stream: Arc<TcpStream>,
}

impl Write for BlockingTcpWriteStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.stream).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.stream).flush()
    }
}

impl ConnectCheck for BlockingTcpWriteStream {
    /// Connected before [`Transport::connect_with`] returned.
    fn check_connect(&self) -> Result<ConnectStatus> {
        Ok(ConnectStatus::Established)
    }
}

impl<P> Registerable<P> for BlockingTcpWriteStream {
    /// Cannot be polled.
    fn register(&mut self, _: &P, _: usize) -> Result<bool> {
        Ok(false)
    }

    fn deregister(&mut self, _: &P) -> Result<()> {
        Ok(())
    }
}

impl Drop for BlockingTcpWriteStream {
    fn drop(&mut self) {
        // Fails only when the peer already reset the connection: nothing to do.
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}
