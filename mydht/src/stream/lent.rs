//! [`LentStream`]: the read half of a connection, lent by its read service.

use std::io::{self, Read};
use std::sync::{Arc, Mutex, PoisonError};

#[cfg(unix)]
use mydht_base::ReadWait;
use mydht_base::{SpawnerYield, Transport, YieldReturn};
use readwrite_comp::{CompR, ExtRead};

use crate::command::{ConnRef, MainLoopCommand, MainLoopSender};
use crate::conf::MyDHTConf;
use crate::service::Reply;
use crate::service::TimeoutAsBlock;
use crate::shadow::Shadow;
use crate::stream::ReadAhead;

/// The read half of an authenticated connection, inside its shadow.
pub type ConnReadStream<C> = CompR<
    ReadAhead<TimeoutAsBlock<<<C as MyDHTConf>::Transport as Transport>::ReadStream>>,
    <<C as MyDHTConf>::Shadow as Shadow>::Reader,
>;

/// The read half of a connection whose session starts: its stream read
/// ahead ([`ReadAhead`]) and opened by its shadow's `reader`.
pub(crate) fn conn_read_stream<C: MyDHTConf>(
    read: TimeoutAsBlock<<<C as MyDHTConf>::Transport as Transport>::ReadStream>,
    reader: <<C as MyDHTConf>::Shadow as Shadow>::Reader,
) -> ConnReadStream<C> {
    CompR::new(ReadAhead::new(read), reader)
}

/// The connection's socket as its read service holds it, lent along with
/// the stream ([`ReadWait`]): whoever reads the stream sets the poller's
/// watch of its reads.
#[cfg(unix)]
pub(crate) type SocketWait = Option<Box<dyn ReadWait + Send>>;
/// No socket to wait in off unix.
#[cfg(not(unix))]
pub(crate) type SocketWait = ();

/// A lent stream, as it comes home: the stream and its socket.
pub(crate) struct Returned<C: MyDHTConf> {
    /// The stream.
    pub(crate) stream: Box<ConnReadStream<C>>,
    /// Its socket, with the poller's watch of its reads on.
    pub(crate) wait: SocketWait,
}

/// Where a lent stream stands, shared by the read service and the
/// [`LentStream`].
pub(crate) enum Home<C: MyDHTConf> {
    /// Lent and not back yet.
    Lent,
    /// Given back, with the bytes read ahead that its borrower did not
    /// read.
    Back(Returned<C>, Vec<u8>),
    /// Dropped by its borrower: the connection ends. The stream comes
    /// back with the count of bytes read ahead that its borrower left
    /// unread, for a read service that reads its peer's session end before
    /// the connection closes (a send-once connection, whose peer ends its
    /// session after its message: closing with that end unread would reset
    /// the connection).
    Dropped(Returned<C>, usize),
    /// Answered with [`LentStream::send_back`]: the connection ends once
    /// the answer is written (its write service ends it).
    Closing,
}

/// The read service's side of a lent stream.
pub(crate) type LendHome<C> = Arc<Mutex<Home<C>>>;

/// The read half of a connection, lent by its read service to the service
/// a message with a stream behind it reached (see the [module](super)).
///
/// Reading gives first the bytes the read service had already read after
/// the message, then the connection's, opened by its shadow. On a
/// non-blocking transport a read returns `WouldBlock` when nothing is there:
/// read it through [`ReadYield`](mydht_base::ReadYield) with the yielder of
/// the service holding it; the connection's readiness wakes that service
/// (the local service the stream was lent to, or the write service pumping
/// it, see [`OutStream::woken_by`](super::OutStream::woken_by)).
///
/// While it is read, the node's poller does not watch the socket's reads:
/// a read that would block turns that watch on (the readiness that follows
/// wakes the reader), the next read that brings bytes turns it off again.
/// A reader busy with the data that keeps coming (a relay's pump) is then
/// not woken for each packet, nor is the read service that lent it.
///
/// [`give_back`](Self::give_back) returns it to its read service, which
/// reads frames again; dropping it ends the connection (on a send-once
/// connection, once its read service has read the peer's session end, at
/// most a bounded number of bytes and the send-once timeout later).
pub struct LentStream<C: MyDHTConf> {
    conn: ConnRef,
    ahead: Vec<u8>,
    pos: usize,
    stream: Option<Box<ConnReadStream<C>>>,
    /// The socket, lent with the stream.
    wait: SocketWait,
    home: LendHome<C>,
    to_loop: MainLoopSender<C>,
    logger: slog::Logger,
}

impl<C: MyDHTConf> LentStream<C> {
    /// Lends `stream` of `conn`, with the bytes `ahead` already read from
    /// it and its socket `wait` (the poller's watch of its reads on);
    /// `home` is the read service's side.
    pub(crate) fn new(
        conn: ConnRef,
        stream: Box<ConnReadStream<C>>,
        wait: SocketWait,
        ahead: Vec<u8>,
        home: LendHome<C>,
        to_loop: MainLoopSender<C>,
        logger: slog::Logger,
    ) -> Self {
        let mut stream = stream;
        // Pumped or read on and on while lent: its chunk buffer is kept
        // between two chunks instead of given back and grown again.
        stream.layer_mut().keep_buffers(true);
        LentStream {
            conn,
            ahead,
            pos: 0,
            stream: Some(stream),
            wait,
            home,
            to_loop,
            logger,
        }
    }

    /// The connection it is the read half of.
    pub fn conn(&self) -> ConnRef {
        self.conn
    }

    /// Gives the stream back to its read service, which reads frames again,
    /// starting with the bytes read ahead that were not read here. Call it
    /// once exactly the raw bytes the message announced are read.
    pub fn give_back(mut self) {
        if let Some(mut stream) = self.stream.take() {
            // Back to frames: an idle connection gives its buffer back.
            stream.layer_mut().keep_buffers(false);
            let rest = self.ahead.split_off(self.pos);
            let back = self.returned(stream);
            self.go_home(Home::Back(back, rest));
        }
    }

    /// Ends the connection with an answer: `msg` is written on it (after
    /// what was sent on it before), then its session ends; nothing more is
    /// read from it. For a hop that must tell the one before it why it
    /// stops reading (an error report upstream), from wherever the stream
    /// is read, a pump's source included.
    pub fn send_back(mut self, msg: C::ProtoMsg) {
        if self.stream.take().is_none() {
            return;
        }
        *self.home.lock().unwrap_or_else(PoisonError::into_inner) = Home::Closing;
        let reply = Reply::Many(vec![Reply::SendOn(self.conn, msg), Reply::Close(self.conn)]);
        if let Err(e) = self.to_loop.send_cmd(MainLoopCommand::Reply(reply)) {
            slog::warn!(self.logger, "answer on a lent stream not sent"; "conn" => self.conn.id, "error" => %e);
        }
    }

    /// The stream and its socket as they go home: the poller's watch of
    /// its reads on again (the read service's way to wait for it).
    fn returned(&mut self, stream: Box<ConnReadStream<C>>) -> Returned<C> {
        #[cfg(unix)]
        let wait = {
            let mut wait = self.wait.take();
            if let Some(w) = wait.as_mut() {
                if let Err(e) = w.poller_reads(true) {
                    // The read service's own wait turns it on again, or
                    // fails the connection.
                    slog::debug!(self.logger, "lent socket's watch not restored"; "conn" => self.conn.id, "error" => %e);
                }
            }
            wait
        };
        #[cfg(not(unix))]
        let wait = ();
        Returned { stream, wait }
    }

    /// Turns the poller's watch of the socket's reads `on` (a read would
    /// block: the readiness wakes the reader) or off (the reader reads on).
    #[cfg(unix)]
    fn watch(&mut self, on: bool) -> io::Result<()> {
        match self.wait.as_mut() {
            Some(w) => w.poller_reads(on).map_err(io::Error::other),
            None => Ok(()),
        }
    }

    fn go_home(&mut self, home: Home<C>) {
        *self.home.lock().unwrap_or_else(PoisonError::into_inner) = home;
        // The read service may be parked or suspended: the loop wakes it.
        if let Err(e) = self
            .to_loop
            .send_cmd(MainLoopCommand::StreamReturned(self.conn))
        {
            // The node is stopping: its read service ends with it.
            slog::debug!(self.logger, "lent stream returned to a stopped loop"; "conn" => self.conn.id, "error" => %e);
        }
    }
}

impl<C: MyDHTConf> Read for LentStream<C> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.ahead.len() {
            let n = buf.len().min(self.ahead.len() - self.pos);
            buf[..n].copy_from_slice(&self.ahead[self.pos..self.pos + n]);
            self.pos += n;
            if self.pos == self.ahead.len() {
                self.ahead = Vec::new();
                self.pos = 0;
            }
            return Ok(n);
        }
        let Some(s) = self.stream.as_mut() else {
            return Ok(0);
        };
        let got = s.read(buf);
        #[cfg(unix)]
        match &got {
            // Woken by the poller when the bytes come.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.watch(true)?,
            // Reading on: no wake-up for each packet meanwhile.
            Ok(n) if *n > 0 => self.watch(false)?,
            _ => {}
        }
        got
    }
}

impl<C: MyDHTConf> super::PumpSource for LentStream<C> {
    /// Waits in the connection's socket when the pump's spawner can
    /// ([`SpawnerYield::spawn_yield_read`]: the poller's watch of its reads
    /// off meanwhile, the data waking the pump's thread itself); else the
    /// poller, whose watch the read that would block turned on, wakes it.
    fn wait_readable(&mut self, yld: &mut dyn SpawnerYield) -> YieldReturn {
        #[cfg(unix)]
        if let Some(w) = self.wait.as_mut() {
            return yld.spawn_yield_read(&mut **w);
        }
        yld.spawn_yield()
    }

    /// A read that would block returns `WouldBlock`: the profiles whose
    /// senders pump in place ([`threaded!`](crate::threaded)'s write
    /// service) take non-blocking transports only.
    fn never_waits(&self) -> bool {
        true
    }
}

impl<C: MyDHTConf> Drop for LentStream<C> {
    fn drop(&mut self) {
        if let Some(mut stream) = self.stream.take() {
            stream.layer_mut().keep_buffers(false);
            let unread = self.ahead.len() - self.pos;
            let back = self.returned(stream);
            self.go_home(Home::Dropped(back, unread));
        }
    }
}

impl<C: MyDHTConf> std::fmt::Debug for LentStream<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LentStream")
            .field("conn", &self.conn)
            .field("ahead", &(self.ahead.len() - self.pos))
            .finish()
    }
}
