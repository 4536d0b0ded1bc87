//! A connection in the driver's slab: its streams while the core runs its
//! handshake (the driver reads and writes the plain handshake frames), then
//! its read and write services.

use std::io::{self, Read};
use std::time::Instant;

use mydht_base::{ConnectCheck, ConnectStatus, NoChannel, Result, Transport};

use crate::auth::SessionKeys;
use crate::command::MainLoopSender;
use crate::conf::MyDHTConf;
use crate::frame::{FrameReader, FrameWriter};
use crate::service::{Activity, ReadService, ServiceSlot, TimeoutAsBlock, WriteService};
use crate::shadow::Shadow;

/// The read service of a connection, as a slot.
pub(crate) type ReadSlot<C> =
    ServiceSlot<ReadService<C>, MainLoopSender<C>, <C as MyDHTConf>::ReadSpawn, NoChannel>;
/// The write service of a connection, as a slot.
pub(crate) type WriteSlot<C> = ServiceSlot<
    WriteService<C>,
    MainLoopSender<C>,
    <C as MyDHTConf>::WriteSpawn,
    <C as MyDHTConf>::WriteChannel,
>;

pub(crate) type ReadStream<C> = <<C as MyDHTConf>::Transport as Transport>::ReadStream;
pub(crate) type WriteStream<C> = <<C as MyDHTConf>::Transport as Transport>::WriteStream;

/// The largest handshake frame accepted: the three messages are well under
/// it in any encoder, and a peer that has not authenticated cannot make the
/// node buffer more.
pub(crate) const AUTH_MAX_FRAME: usize = 8 * 1024;

/// A connection's session shadows, built ahead of its services.
pub(crate) struct Shadows<C: MyDHTConf> {
    pub(crate) reader: <C::Shadow as Shadow>::Reader,
    pub(crate) writer: <C::Shadow as Shadow>::Writer,
}

impl<C: MyDHTConf> Shadows<C> {
    pub(crate) fn new(shadow: &C::Shadow, keys: &SessionKeys) -> Result<Self> {
        Ok(Shadows {
            reader: shadow.reader(keys)?,
            writer: shadow.writer(keys)?,
        })
    }
}

/// The two halves of a connection the transport dialled: a transport that
/// gives no read half cannot serve a node.
pub(crate) fn dialled_halves<C: MyDHTConf>(
    c: mydht_base::Connected<<C as MyDHTConf>::Transport>,
) -> Result<(ReadStream<C>, WriteStream<C>)> {
    let read = c.read.ok_or_else(|| {
        mydht_base::Error::new(
            mydht_base::ErrorKind::Config,
            mydht_base::ErrorLevel::ShutDown,
            "transport gave no read half",
        )
    })?;
    Ok((read, c.write))
}

/// The streams of a connection whose handshake runs.
pub(crate) struct HandshakeIo<C: MyDHTConf> {
    pub(crate) read: ReadStream<C>,
    pub(crate) write: WriteStream<C>,
    pub(crate) reader: FrameReader,
    pub(crate) writer: FrameWriter,
    /// An outbound connect not yet established.
    pub(crate) connecting: bool,
    /// Built while the peer checks this side's last message: their
    /// buffers' first touch (page faults) is then off the critical path.
    pub(crate) shadows: Option<Shadows<C>>,
}

/// What a readable handshaking connection gave.
pub(crate) enum HandshakeRead {
    /// A whole frame.
    Frame(Vec<u8>),
    /// Nothing more for now.
    Blocked,
}

impl<C: MyDHTConf> HandshakeIo<C> {
    /// Streams of a connection, with the frame writer that may already hold
    /// its first frame.
    pub(crate) fn new(
        read: ReadStream<C>,
        write: WriteStream<C>,
        writer: FrameWriter,
        connecting: bool,
    ) -> Self {
        HandshakeIo {
            read,
            write,
            reader: FrameReader::new(AUTH_MAX_FRAME),
            writer,
            connecting,
            shadows: None,
        }
    }

    /// True once an outbound connect is established (it then writes what
    /// waits).
    pub(crate) fn check_connected(&mut self) -> Result<bool> {
        if self.connecting {
            match self.write.check_connect()? {
                ConnectStatus::Pending => return Ok(false),
                ConnectStatus::Established => self.connecting = false,
            }
        }
        self.flush()?;
        Ok(true)
    }

    /// The next whole frame, if one is in.
    pub(crate) fn read_frame(&mut self) -> Result<HandshakeRead> {
        self.read_frame_until(None)
    }

    /// [`read_frame`](Self::read_frame), blocked (`Blocked`, the partial
    /// frame kept) once `deadline` has passed, whatever the peer still
    /// sends: a blocking stream's reads return bytes as long as they come
    /// within its I/O timeout, so a peer trickling a frame in would
    /// otherwise hold its handshake thread far past the handshake's
    /// deadline.
    pub(crate) fn read_frame_until(&mut self, deadline: Option<Instant>) -> Result<HandshakeRead> {
        let mut stream = UntilDeadline {
            inner: TimeoutAsBlock::new(&mut self.read),
            deadline,
        };
        match self.reader.read_frame(&mut stream) {
            Ok(Some(frame)) => Ok(HandshakeRead::Frame(frame.to_vec())),
            Ok(None) => Err(mydht_base::Error::new(
                mydht_base::ErrorKind::Io(std::io::ErrorKind::UnexpectedEof),
                mydht_base::ErrorLevel::ShutDown,
                "connection closed during authentication",
            )),
            Err(e) if e.is_would_block() => Ok(HandshakeRead::Blocked),
            Err(e) => Err(e),
        }
    }

    /// Queues a frame and writes what the stream takes.
    pub(crate) fn send(&mut self, frame: &[u8]) -> Result<()> {
        self.writer.push_frame(frame)?;
        if self.connecting {
            return Ok(());
        }
        self.flush()
    }

    fn flush(&mut self) -> Result<()> {
        match self
            .writer
            .write_to(&mut TimeoutAsBlock::new(&mut self.write))
        {
            Err(e) if !e.is_would_block() => Err(e),
            _ => Ok(()),
        }
    }
}

/// A stream that reads as `WouldBlock` once `deadline` (if any) has
/// passed.
struct UntilDeadline<R> {
    inner: R,
    deadline: Option<Instant>,
}

impl<R: Read> Read for UntilDeadline<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.inner.read(buf)
    }
}

/// A connection whose services run.
pub(crate) struct OpenIo<C: MyDHTConf> {
    pub(crate) read: ReadSlot<C>,
    pub(crate) write: WriteSlot<C>,
    /// When its streams last moved bytes (marked by its services, read
    /// when its idle check is due).
    pub(crate) activity: Activity,
    /// The connection whose write service pumps this one's lent read
    /// stream ([`OutStream::woken_by`](crate::stream::OutStream::woken_by)):
    /// this one's readiness wakes it too.
    pub(crate) feeds: Option<usize>,
    /// The online peer whose entry in the global service's direct table
    /// ([`DirectPeers`](crate::service::DirectPeers)) is this connection's.
    pub(crate) direct_peer: Option<crate::identity::PeerId>,
}

/// One connection of the slab.
pub(crate) enum ConnIo<C: MyDHTConf> {
    /// Its handshake runs (or it awaits its verdict).
    Handshaking(Box<HandshakeIo<C>>),
    /// Its services run.
    Open(Box<OpenIo<C>>),
}

impl<C: MyDHTConf> ConnIo<C> {
    /// Stops the services of an open connection (joins their threads); the
    /// streams are dropped, which closes the socket.
    pub(crate) fn close(self) -> Result<()> {
        match self {
            ConnIo::Handshaking(_) => Ok(()),
            ConnIo::Open(open) => {
                let OpenIo { read, write, .. } = *open;
                let r = read.stop();
                let w = write.stop();
                r.and(w)
            }
        }
    }
}
