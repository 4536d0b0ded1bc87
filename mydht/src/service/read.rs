//! The read service: one per authenticated connection.

use std::io::{self, Read};
use std::sync::{Arc, Mutex, PoisonError};

#[cfg(unix)]
use mydht_base::ReadWait;
use mydht_base::{
    Error, ErrorKind, ErrorLevel, ReadYield, Result, Service, ServiceRestartable, SpawnerYield,
    YieldReturn,
};

use super::{LocalCommand, LocalDest, ServiceCtx, ServiceSlot};
use crate::command::{ConnRef, MainLoopCommand, MainLoopSender};
use crate::conf::MyDHTConf;
use crate::frame::BufferedFrameReader;
use crate::frame::WireMessage;
use crate::stream::{ConnReadStream, Home, LendHome, LentStream, Returned};

/// What starts a read service: read until the connection ends.
#[derive(Debug, Clone, Copy)]
pub enum ReadCommand {
    /// Read frames, yielding while the stream has no bytes.
    Run,
}

/// The local service of a read service, as a slot.
pub type LocalSlot<C> = ServiceSlot<
    <C as MyDHTConf>::LocalService,
    LocalDest<C>,
    <C as MyDHTConf>::LocalSpawn,
    <C as MyDHTConf>::LocalChannel,
>;

/// Reads the frames of one authenticated connection through its shadow and
/// gives each application message to the connection's local service. It
/// answers once, when the connection ends (cleanly or not), so the main loop
/// drops the connection.
///
/// Every read is resumable (frame and shadow keep partial input), so the
/// service runs on a thread, as a coroutine or restartable alike.
///
/// A message followed by raw bytes ([`WireMessage::AppStream`]) reaches
/// the local service with the stream lent ([`LentStream`]); the service
/// then reads nothing and passes the connection's readiness on to the
/// local service, until the stream comes back (frames again) or is dropped
/// (the connection ends).
///
/// # A send-once connection's close
///
/// A send-once dialler ends its session right after its message (and any
/// stream behind it), then reads until this side's session end, which
/// (sealed under the session keys) is what confirms its message: this side
/// must close only once it has read the dialler's end, for a TCP close
/// with unread bytes in the socket sends a reset instead of a FIN, and a
/// reset discards what this side sent that the network had not delivered
/// yet (its session end: the dialler would report a message that arrived
/// as lost). Frames are read to the peer's end anyway; a lent stream
/// dropped on a connection whose peer said it sends one message
/// ([`WireMessage::Once`]) comes back to be read to that end: at most
/// 64 KiB more bytes (more ends the connection at once, an error),
/// and no longer than the connection's send-once timeout (the node drops
/// it then). Once the peer's end is read, this side's session end and FIN
/// go out with nothing unread: an orderly close, whose `TIME_WAIT` is this
/// side's (the acceptor's, that closes first).
pub struct ReadService<C: MyDHTConf> {
    conn: ConnRef,
    peer: C::PeerRef,
    /// `None` while lent.
    stream: Option<Box<ConnReadStream<C>>>,
    /// Where a lent stream comes back.
    lent: Option<LendHome<C>>,
    /// The connection's stream carries only frames: they are read ahead
    /// and decoded where the shadow opened them.
    frames: BufferedFrameReader,
    enc: C::MsgEnc,
    local: Option<LocalSlot<C>>,
    /// Where the node's own messages (peer store, discovery) go.
    to_loop: MainLoopSender<C>,
    in_call: bool,
    /// The peer said it sends one message, then ends its session
    /// ([`WireMessage::Once`]).
    once: bool,
    /// A dropped lent stream being read to the peer's session end: how
    /// many more bytes it may bring.
    drain: Option<usize>,
    logger: slog::Logger,
    /// The connection's socket, for a spawner whose thread waits in it
    /// ([`SpawnerYield::spawn_yield_read`]).
    #[cfg(unix)]
    wait: Option<Box<dyn ReadWait + Send>>,
}

impl<C: MyDHTConf> ReadService<C> {
    /// The read service of connection `conn` with the authenticated `peer`.
    pub fn new(
        conn: ConnRef,
        peer: C::PeerRef,
        stream: ConnReadStream<C>,
        local: LocalSlot<C>,
        ctx: ServiceCtx<C>,
    ) -> Self {
        ReadService {
            conn,
            peer,
            stream: Some(Box::new(stream)),
            lent: None,
            frames: BufferedFrameReader::new(ctx.max_frame),
            enc: ctx.enc,
            local: Some(local),
            to_loop: ctx.to_loop,
            in_call: false,
            once: false,
            drain: None,
            logger: ctx.logger,
            #[cfg(unix)]
            wait: None,
        }
    }

    /// The connection's socket, for a read service whose spawner waits in
    /// it when a read would block ([`SpawnerYield::spawn_yield_read`]:
    /// `threaded!`'s `ThreadIdle`) instead of being woken by the main
    /// loop's poll. `None`: the poll wakes it.
    #[cfg(unix)]
    pub fn with_read_wait(mut self, wait: Option<Box<dyn ReadWait + Send>>) -> Self {
        self.wait = wait;
        self
    }

    fn ended(&mut self, error: Option<Error>) -> MainLoopCommand<C> {
        self.in_call = false;
        self.stop_local();
        if let Some(e) = &error {
            slog::debug!(self.logger, "read service ended"; "conn" => self.conn.id, "error" => %e);
        }
        MainLoopCommand::ConnectionEnded {
            conn: self.conn,
            error,
        }
    }

    /// Gives a message to the local service; an error that is not
    /// ignorable ends the connection.
    fn give_local(&mut self, msg: C::ProtoMsg, stream: Option<LentStream<C>>) -> Result<()> {
        let Some(local) = self.local.as_mut() else {
            return Ok(());
        };
        let cmd = LocalCommand {
            from: self.peer.clone(),
            msg,
            conn: self.conn,
            stream,
        };
        if let Err(e) = local.send(cmd) {
            if e.level() != ErrorLevel::Ignore {
                return Err(e);
            }
            slog::warn!(self.logger, "local service refused a message"; "error" => %e);
        }
        // Inline (between two commands): its replies wait for the next
        // read of the stream, to go out together.
        if let Some(dest) = local.idle_dest() {
            dest.hold();
        }
        if let Some(e) = local.take_error() {
            slog::warn!(self.logger, "local service failed"; "error" => %e);
            if e.level() != ErrorLevel::Ignore {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Stops the local service (joins its thread, if it has one).
    fn stop_local(&mut self) {
        if let Some(local) = self.local.take() {
            if let Err(e) = local.stop() {
                slog::warn!(self.logger, "local service ended with an error"; "error" => %e);
            }
        }
    }

    /// Lends the stream, with what was read after the message, to the
    /// local service along with the message.
    fn lend(&mut self, msg: C::ProtoMsg) -> Result<()> {
        // The borrower is woken by the loop's poll: it must watch the
        // socket's reads again.
        #[cfg(unix)]
        if let Some(wait) = self.wait.as_mut() {
            wait.poller_reads(true)?;
        }
        let Some(stream) = self.stream.take() else {
            return Err(not_home());
        };
        // The local service may hold on to the stream in its call: what
        // it answered before goes first.
        release_held(&mut self.local)?;
        let home: LendHome<C> = Arc::new(Mutex::new(Home::Lent));
        self.lent = Some(home.clone());
        let ahead = self.frames.take_read_ahead();
        // The socket goes with the stream: its reader sets the poller's
        // watch (see `LentStream`).
        #[cfg(unix)]
        let wait = self.wait.take();
        #[cfg(not(unix))]
        let wait = ();
        let lent = LentStream::new(
            self.conn,
            stream,
            wait,
            ahead,
            home,
            self.to_loop.clone(),
            self.logger.clone(),
        );
        self.give_local(msg, Some(lent))
    }

    /// While the stream is lent: `Ok(true)` once it is back (to read
    /// frames, or to read to the peer's end: [`drain`](Self::drain)),
    /// `Ok(false)` when it was dropped and the connection ends at once, a
    /// yield while it is out (the connection's readiness passed on to the
    /// local service).
    fn wait_home<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<bool> {
        loop {
            let Some(home) = self.lent.as_ref() else {
                return Ok(true);
            };
            let state = std::mem::replace(
                &mut *home.lock().unwrap_or_else(PoisonError::into_inner),
                Home::Lent,
            );
            match state {
                Home::Back(back, rest) => {
                    self.frames.put_back(&rest);
                    self.come_home(back);
                    self.lent = None;
                    return Ok(true);
                }
                Home::Dropped(back, unread) => {
                    self.lent = None;
                    if !self.once {
                        return Ok(false);
                    }
                    if unread > DRAIN_MAX {
                        return Err(past_end(unread));
                    }
                    self.come_home(back);
                    self.drain = Some(DRAIN_MAX - unread);
                    return Ok(true);
                }
                Home::Lent => {
                    // Readiness of the connection is the borrower's now.
                    if let Some(local) = self.local.as_mut() {
                        local.unyield()?;
                    }
                }
                // Its write service ends the connection.
                Home::Closing => {
                    *home.lock().unwrap_or_else(PoisonError::into_inner) = Home::Closing
                }
            }
            // The stream is out: no read will release held replies.
            release_held(&mut self.local)?;
            if let YieldReturn::Return = yld.spawn_yield() {
                return Err(Error::yielded());
            }
        }
    }

    /// The lent stream and its socket are back.
    fn come_home(&mut self, back: Returned<C>) {
        self.stream = Some(back.stream);
        #[cfg(unix)]
        {
            self.wait = back.wait;
        }
    }

    fn run<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<MainLoopCommand<C>> {
        self.in_call = true;
        loop {
            match self.wait_home(yld) {
                Ok(true) => {}
                Ok(false) => return Ok(self.ended(None)),
                Err(e) if e.kind() == ErrorKind::Yielded => return Err(e),
                Err(e) => return Ok(self.ended(Some(e))),
            }
            if self.drain.is_some() {
                return self.drain(yld);
            }
            let read = self.read_home(yld, |mut stream, frames, enc| {
                frames.read_msg::<WireMessage<C::ProtoMsg>, _, _>(enc, &mut stream)
            });
            let Some(msg) = read else {
                return Ok(self.ended(Some(not_home())));
            };
            match msg {
                Ok(Some(WireMessage::App(msg))) => {
                    if let Err(e) = self.give_local(msg, None) {
                        return Ok(self.ended(Some(e)));
                    }
                }
                Ok(Some(WireMessage::AppStream(msg, _))) => {
                    if let Err(e) = self.lend(msg) {
                        return Ok(self.ended(Some(e)));
                    }
                }
                Ok(Some(WireMessage::Admitted)) => {
                    if let Err(e) = self.to_loop.send_cmd(MainLoopCommand::Admitted(self.conn)) {
                        return Ok(self.ended(Some(e)));
                    }
                }
                Ok(Some(WireMessage::Once)) => {
                    self.once = true;
                    if let Err(e) = self.to_loop.send_cmd(MainLoopCommand::SendOnce(self.conn)) {
                        return Ok(self.ended(Some(e)));
                    }
                }
                Ok(Some(WireMessage::Refused)) => {
                    if let Err(e) = self.to_loop.send_cmd(MainLoopCommand::Refused(self.conn)) {
                        return Ok(self.ended(Some(e)));
                    }
                }
                Ok(Some(other)) => {
                    let cmd = MainLoopCommand::Wire(self.peer.clone(), other);
                    if let Err(e) = self.to_loop.send_cmd(cmd) {
                        return Ok(self.ended(Some(e)));
                    }
                }
                Ok(None) => return Ok(self.ended(None)),
                // A `Return` yield: keep the partial frame, restart later.
                Err(e) if e.is_would_block() => return Err(Error::yielded()),
                Err(e) => return Ok(self.ended(Some(e))),
            }
        }
    }
}

impl<C: MyDHTConf> ReadService<C> {
    /// Runs `read` on the connection's stream as the service reads it:
    /// the inline local service's held replies released first, a read
    /// that would block yielding on the connection's socket; `None` when
    /// the stream is not home.
    fn read_home<Y: SpawnerYield, T>(
        &mut self,
        yld: &mut Y,
        read: impl FnOnce(&mut dyn Read, &mut BufferedFrameReader, &C::MsgEnc) -> T,
    ) -> Option<T> {
        let stream = self.stream.as_mut()?;
        let mut yld = SocketYield {
            yld,
            #[cfg(unix)]
            wait: self.wait.as_mut(),
        };
        let mut stream = ReleaseFirst {
            inner: ReadYield::new(&mut **stream, &mut yld),
            local: &mut self.local,
        };
        Some(read(&mut stream, &mut self.frames, &self.enc))
    }

    /// Reads the stream its borrower dropped to the peer's session end
    /// (`Ok(0)` through the shadow: only the peer can seal it), discarding
    /// at most what is left of [`DRAIN_MAX`]; then the connection ends
    /// cleanly. A yield while nothing is there (the node's send-once
    /// timeout bounds the wait); more bytes than that, a cut stream or a
    /// broken seal end it with the error.
    fn drain<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<MainLoopCommand<C>> {
        let mut buf = [0u8; DRAIN_BUF];
        loop {
            let Some(left) = self.drain else {
                return Ok(self.ended(Some(not_home())));
            };
            let Some(got) = self.read_home(yld, |stream, _, _| stream.read(&mut buf)) else {
                return Ok(self.ended(Some(not_home())));
            };
            match got {
                Ok(0) => {
                    self.drain = None;
                    return Ok(self.ended(None));
                }
                Ok(n) if n <= left => self.drain = Some(left - n),
                Ok(n) => {
                    self.drain = None;
                    let e = past_end(DRAIN_MAX - left + n);
                    slog::debug!(self.logger, "send-once peer did not end its session"; "conn" => self.conn.id, "error" => %e);
                    return Ok(self.ended(Some(e)));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A `Return` yield: restart later, the budget kept.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(Error::yielded()),
                Err(e) => {
                    self.drain = None;
                    return Ok(self.ended(Some(e.into())));
                }
            }
        }
    }
}

/// Most bytes a send-once connection's read service reads, after its lent
/// stream was dropped, to find the peer's session end: a chunk of the
/// default session shadow. A borrower reads what it was sent, so the peer's
/// end normally comes next; more is a borrower that stopped early (or a
/// peer that sends past its message), whose connection is closed with
/// those bytes unread (a reset, as for any connection cut).
const DRAIN_MAX: usize = 64 << 10;

/// The buffer of one read while reading to the peer's end.
const DRAIN_BUF: usize = 1024;

/// A send-once peer sent `n` bytes past what the borrower of its stream
/// read, more than [`DRAIN_MAX`].
fn past_end(n: usize) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        ErrorLevel::ShutDown,
        format!("send-once peer sent {n} bytes past its message, not its session's end"),
    )
}

/// The connection's stream, read only after the local service's held
/// replies are released ([`LocalDest::release`]): whatever the read does
/// (yield, block in the socket, return at once), no reply waits for it.
struct ReleaseFirst<'a, R, C: MyDHTConf> {
    inner: R,
    local: &'a mut Option<LocalSlot<C>>,
}

impl<R: Read, C: MyDHTConf> Read for ReleaseFirst<'_, R, C> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        release_held(self.local).map_err(io::Error::other)?;
        self.inner.read(buf)
    }
}

/// The read service's yield for a read of its stream that would block:
/// [`SpawnerYield::spawn_yield_read`] on the connection's socket when
/// there is one.
struct SocketYield<'a, Y> {
    yld: &'a mut Y,
    #[cfg(unix)]
    wait: Option<&'a mut Box<dyn ReadWait + Send>>,
}

impl<Y: SpawnerYield> SpawnerYield for SocketYield<'_, Y> {
    fn spawn_yield(&mut self) -> YieldReturn {
        #[cfg(unix)]
        if let Some(wait) = self.wait.as_mut() {
            return self.yld.spawn_yield_read(&mut ***wait);
        }
        self.yld.spawn_yield()
    }
}

/// Sends what the inline local service's destination holds.
fn release_held<C: MyDHTConf>(local: &mut Option<LocalSlot<C>>) -> Result<()> {
    match local.as_mut().and_then(|l| l.idle_dest()) {
        Some(dest) if dest.holds() => dest.release(),
        _ => Ok(()),
    }
}

/// The stream is not there to read: a bug of the read service.
fn not_home() -> Error {
    Error::new(
        ErrorKind::Other,
        ErrorLevel::ShutDown,
        "the connection's stream is lent",
    )
}

impl<C: MyDHTConf> Service for ReadService<C> {
    type CommandIn = ReadCommand;
    type CommandOut = MainLoopCommand<C>;

    fn call<Y: SpawnerYield>(&mut self, _: ReadCommand, yld: &mut Y) -> Result<MainLoopCommand<C>> {
        self.run(yld)
    }
}

impl<C: MyDHTConf> Drop for ReadService<C> {
    fn drop(&mut self) {
        self.stop_local();
    }
}

impl<C: MyDHTConf> ServiceRestartable for ReadService<C> {
    fn resume<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Option<MainLoopCommand<C>>> {
        if self.in_call {
            self.run(yld).map(Some)
        } else {
            Ok(None)
        }
    }
}
