//! The write service: one per authenticated connection.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use mydht_base::service::spawn::{InlineCall, ReturnYield};
use mydht_base::{
    Error, ErrorKind, ErrorLevel, Result, Service, ServiceRestartable, SpawnerYield, Transport,
    WriteYield,
};
use readwrite_comp::{CompW, ExtWrite};

use super::stream_pump::StreamPump;
use crate::command::{ConnRef, MainLoopCommand};
use crate::conf::MyDHTConf;
use crate::frame::{FrameWriter, WireMessage};
use crate::service::{ServiceCtx, TimeoutAsBlock};
use crate::shadow::Shadow;

/// A command for a write service.
pub enum WriteCommand<C: MyDHTConf> {
    /// Encode and send this message.
    Send(WireMessage<C::ProtoMsg>),
    /// Encode these messages and send them with one flush (the main loop
    /// gathers what one of its turns routed to a peer).
    Batch(Vec<WireMessage<C::ProtoMsg>>),
    /// Write what is pending (the handshake's last bytes).
    Flush,
    /// Once everything before it is written, end the session (its last
    /// chunk) and report the connection ended: a send-once connection's
    /// close.
    Finish,
}

/// Bytes encoded before they are written, for a shadow that cannot hold
/// (frames are then encoded into the frame writer's buffer): a few bulk
/// messages, yet few enough that the frame buffer (this plus one frame)
/// stays within the capacity it keeps instead of growing to the frame
/// maximum. The shadow is flushed only when the queue is empty, so chunks
/// stay full across batches.
const WRITE_BATCH: usize = 128 << 10;

/// Sealed bytes a shadow that holds may keep before the service stops
/// encoding to write them out: above the four 64 KiB chunks it keeps while
/// the stream takes its writes, so encoding stops only when the stream
/// blocked; what it holds is then at most this and one frame.
const HELD_BATCH: usize = 512 << 10;

/// How long closing a connection may go on writing the session's end
/// ([`WriteService::close`]) to a stream that keeps taking a few bytes at a
/// time (a slow reader behind a blocking transport). A stream that takes
/// nothing stops it sooner: at once when non-blocking, after one I/O
/// timeout when blocking.
const CLOSE_WAIT: Duration = Duration::from_millis(100);

/// Bytes of a stream's source a sender may pump in place
/// ([`InlineCall`]) before it leaves the rest to the service's thread:
/// a tunnel query or reply (one header and a cell, about 21 KiB) is
/// pumped whole by the sender, a transfer does not keep the sender (the
/// main loop, say) from its other work for longer than about this much
/// copying.
const IN_PLACE_PUMP: usize = 256 << 10;

/// A stream that refuses writes (`WouldBlock`) once its deadline is past.
struct Until<W> {
    inner: W,
    deadline: Instant,
}

impl<W: Write> Until<W> {
    fn new(inner: W, deadline: Instant) -> Self {
        Until { inner, deadline }
    }
}

impl<W: Write> Write for Until<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if Instant::now() >= self.deadline {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

type Stream<C> = CompW<
    TimeoutAsBlock<<<C as MyDHTConf>::Transport as Transport>::WriteStream>,
    <<C as MyDHTConf>::Shadow as Shadow>::Writer,
>;

/// Encodes messages into frames and writes them through the connection's
/// shadow. It answers only when the connection failed (then the main loop
/// drops the connection and the service drops later commands).
pub struct WriteService<C: MyDHTConf> {
    conn: ConnRef,
    stream: Stream<C>,
    /// Handshake bytes not yet written when the connection was handed over:
    /// they go first, in clear.
    preamble: FrameWriter,
    frames: FrameWriter,
    /// Messages not yet encoded: a batch larger than the frame writer
    /// holds is encoded as it drains.
    queue: VecDeque<WireMessage<C::ProtoMsg>>,
    /// The stream that follows the message written last, being pumped:
    /// the queue waits for it.
    pumping: Option<StreamPump>,
    enc: C::MsgEnc,
    in_call: bool,
    failed: bool,
    /// A `Finish` came: the session ends once the queue is written.
    finishing: bool,
    /// Run in place by a sender: the bytes its stream pump may still read
    /// ([`IN_PLACE_PUMP`]). `None` on the service's own thread.
    in_place: Option<usize>,
    logger: slog::Logger,
}

impl<C: MyDHTConf> WriteService<C> {
    /// The write service of connection `conn`; `preamble` holds what the
    /// handshake left to write.
    pub fn new(
        conn: ConnRef,
        stream: Stream<C>,
        preamble: FrameWriter,
        ctx: ServiceCtx<C>,
    ) -> Self {
        WriteService {
            conn,
            stream,
            preamble,
            frames: FrameWriter::new(ctx.max_frame),
            queue: VecDeque::new(),
            pumping: None,
            enc: ctx.enc,
            in_call: false,
            failed: false,
            finishing: false,
            in_place: None,
            logger: ctx.logger,
        }
    }

    /// Encodes what is queued and writes it, as much as the frame writer
    /// or the shadow holds at a time. Messages are encoded straight into
    /// the shadow, which seals them there ([`FrameWriter::push_msg_into`]),
    /// once the handshake's last bytes are out (they go first, in clear).
    ///
    /// A message with a stream behind it ([`WireMessage::AppStream`]) stops
    /// the encoding: its frame is written, then its stream is pumped
    /// ([`StreamPump`]), then the queue goes on.
    fn pump<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Option<MainLoopCommand<C>>> {
        self.in_call = true;
        loop {
            if self.pumping.is_some() && (self.frames.pending() > 0 || self.preamble.pending() > 0)
            {
                // The stream's message first.
                if let Some(end) = self.flush(yld, true)? {
                    return Ok(Some(end));
                }
            }
            if let Some(pump) = self.pumping.as_mut() {
                match pump.run(&mut self.stream, yld, self.in_place.as_mut()) {
                    Ok(()) => self.pumping = None,
                    Err(e) if e.is_would_block() => return Err(Error::yielded()),
                    Err(e) => return Ok(Some(self.fail(e))),
                }
            }
            while let Some(msg) = self.queue.front() {
                if self.frames.pending() >= WRITE_BATCH || self.stream.held() >= HELD_BATCH {
                    break;
                }
                let pushed = if self.preamble.pending() > 0 {
                    self.frames.push_msg(&self.enc, msg)
                } else {
                    self.frames.push_msg_into(&self.enc, msg, &mut self.stream)
                };
                match pushed {
                    Ok(()) => {}
                    // Write what is pending first.
                    Err(e) if e.kind() == ErrorKind::ChannelFull && self.frames.pending() > 0 => {
                        break
                    }
                    // A shadow whose header blocks took nothing: later.
                    Err(e) if e.is_would_block() => break,
                    // The shadow failed half-way through a frame.
                    Err(e) if e.level() != ErrorLevel::Ignore => return Ok(Some(self.fail(e))),
                    // Nothing was queued: the stream is still in sync.
                    Err(e) => slog::warn!(self.logger, "message not sent"; "error" => %e),
                }
                if let Some(WireMessage::AppStream(_, slot)) = self.queue.pop_front() {
                    match slot.take() {
                        Some(stream) => {
                            self.pumping = Some(StreamPump::new(stream));
                            break;
                        }
                        None => {
                            // Its receiver waits for bytes that will not
                            // come: the connection cannot go on.
                            let e = Error::new(
                                ErrorKind::Other,
                                ErrorLevel::ShutDown,
                                "a message announced a stream it no longer has",
                            );
                            return Ok(Some(self.fail(e)));
                        }
                    }
                }
            }
            // While more messages wait, write without flushing: the shadow
            // keeps its partial chunk for them instead of sealing a short
            // one; the queue's end is flushed.
            let more = !self.queue.is_empty() || self.pumping.is_some();
            if let Some(end) = self.flush(yld, more)? {
                return Ok(Some(end));
            }
            if self.queue.is_empty() && self.pumping.is_none() {
                return Ok(None);
            }
        }
    }

    /// Writes what is encoded; `more` (messages still queued) skips the
    /// final flush.
    fn flush<Y: SpawnerYield>(
        &mut self,
        yld: &mut Y,
        more: bool,
    ) -> Result<Option<MainLoopCommand<C>>> {
        self.in_call = true;
        let res = if self.preamble.pending() > 0 {
            let mut raw = WriteYield::new(self.stream.get_mut(), yld);
            self.preamble.write_to(&mut raw)
        } else {
            Ok(())
        };
        let res = res.and_then(|()| {
            if more {
                let mut stream = WriteYield::new(&mut self.stream, yld);
                self.frames.write_unflushed(&mut stream)?;
                // What the shadow holds, its partial chunk kept open.
                let mut held_out = HeldOut(&mut self.stream);
                let mut held = WriteYield::new(&mut held_out, yld);
                held.flush().map_err(Error::from)
            } else {
                let mut stream = WriteYield::new(&mut self.stream, yld);
                self.frames.write_to(&mut stream)
            }
        });
        match res {
            Ok(()) if self.queue.is_empty() && self.pumping.is_none() && self.finishing => {
                // Everything is out: the session's end, then the loop
                // drops the connection.
                self.close()?;
                Ok(Some(MainLoopCommand::ConnectionEnded {
                    conn: self.conn,
                    error: None,
                }))
            }
            Ok(()) => {
                self.in_call = !self.queue.is_empty() || self.pumping.is_some();
                Ok(None)
            }
            Err(e) if e.is_would_block() => Err(Error::yielded()),
            Err(e) => Ok(Some(self.fail(e))),
        }
    }

    /// Ends the session on the wire: what is already encoded, then the
    /// shadow's end, its last chunk (authenticated by the session shadow),
    /// so that the peer reads a clean end of stream, not a cut. Messages
    /// not encoded yet are dropped. Best effort and bounded: it gives up at
    /// the first write the stream does not take (`WouldBlock`, a blocking
    /// transport's I/O timeout), at any error, and once `CLOSE_WAIT` (100 ms) has
    /// passed; it does nothing once the connection failed or was closed.
    /// `Ok(true)` when the end was written, `Ok(false)` when there was
    /// nothing to end.
    ///
    /// The service calls it when it is dropped (the node closes the
    /// connection: its slot is stopped), unless its thread unwinds a panic.
    pub fn close(&mut self) -> Result<bool> {
        if self.failed {
            return Ok(false);
        }
        // Whatever happens now, the session is over for this side.
        self.failed = true;
        self.in_call = false;
        self.queue.clear();
        self.pumping = None;
        let deadline = Instant::now() + CLOSE_WAIT;
        if self.preamble.pending() > 0 {
            let mut raw = Until::new(self.stream.get_mut(), deadline);
            self.preamble.write_to(&mut raw)?;
        }
        let frames = &mut self.frames;
        self.stream.through(
            |inner| Until::new(inner, deadline),
            |stream| -> Result<()> {
                frames.write_unflushed(stream)?;
                stream.write_end()?;
                stream.get_mut().flush()?;
                Ok(())
            },
        )?;
        Ok(true)
    }

    /// The connection failed: later commands are dropped.
    fn fail(&mut self, e: Error) -> MainLoopCommand<C> {
        self.in_call = false;
        self.failed = true;
        self.queue.clear();
        self.pumping = None;
        slog::debug!(self.logger, "write service failed"; "conn" => self.conn.id, "error" => %e);
        MainLoopCommand::ConnectionEnded {
            conn: self.conn,
            error: Some(e),
        }
    }
}

/// The shadow stream, whose `flush` writes out only what the shadow holds
/// ([`CompW::write_held`]): through [`WriteYield`], that yields on its
/// `WouldBlock` as a flush would.
struct HeldOut<'a, W: Write, L: ExtWrite>(&'a mut CompW<W, L>);

impl<W: Write, L: ExtWrite> Write for HeldOut<'_, W, L> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.write_held()
    }
}

impl<C: MyDHTConf> Service for WriteService<C> {
    type CommandIn = WriteCommand<C>;
    type CommandOut = Option<MainLoopCommand<C>>;

    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: WriteCommand<C>,
        yld: &mut Y,
    ) -> Result<Option<MainLoopCommand<C>>> {
        if self.failed {
            return Ok(None);
        }
        match cmd {
            WriteCommand::Send(msg) => self.queue.push_back(msg),
            WriteCommand::Batch(msgs) => self.queue.extend(msgs),
            WriteCommand::Flush => {}
            WriteCommand::Finish => self.finishing = true,
        }
        self.pump(yld)
    }
}

impl<C: MyDHTConf> Drop for WriteService<C> {
    /// Writes the session's end ([`WriteService::close`]) before the stream
    /// is dropped; not while a panic unwinds (the peer then reads a cut
    /// stream, which is what happened).
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        match self.close() {
            Ok(_) => {}
            Err(e) => {
                slog::debug!(self.logger, "session end not written"; "conn" => self.conn.id, "error" => %e)
            }
        }
    }
}

impl<C: MyDHTConf> ServiceRestartable for WriteService<C> {
    fn resume<Y: SpawnerYield>(
        &mut self,
        yld: &mut Y,
    ) -> Result<Option<Option<MainLoopCommand<C>>>> {
        if self.in_call {
            self.pump(yld).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// A sender may run a command in place (the
/// [`threaded!`](crate::threaded) profile's write service: the main loop,
/// or an inline local service replying to its peer, writes to the stream
/// itself while the write service's thread is idle) when the service has
/// nothing of its own to finish. The stream is non-blocking: a write that
/// would block yields, and the service's thread finishes the command. So
/// does a stream whose source may wait (only the thread reads it), whose
/// source has nothing to read yet, or that read its first 256 KiB in
/// place: a send-once connection's message, its stream and its `Finish`
/// (a tunnel hop) take no thread when the sockets keep up, and a long
/// transfer goes on on the thread.
impl<C: MyDHTConf> InlineCall for WriteService<C> {
    fn inline_ok(&self, _cmd: &WriteCommand<C>) -> bool {
        !self.failed
            && !self.finishing
            && !self.in_call
            && self.pumping.is_none()
            && self.queue.is_empty()
    }

    fn call_in_place(&mut self, cmd: WriteCommand<C>) -> Result<Option<MainLoopCommand<C>>> {
        self.in_place = Some(IN_PLACE_PUMP);
        let res = self.call(cmd, &mut ReturnYield);
        self.in_place = None;
        res
    }
}
