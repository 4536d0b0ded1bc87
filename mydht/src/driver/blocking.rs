//! The synchronous listener/connector pair, for blocking transports (those
//! that cannot be polled): a listener thread accepts inbound connections
//! and authenticates each on a handshake thread of its own (at most
//! [`HANDSHAKES`] at once), a connector thread per outbound connection
//! connects and authenticates; both hand the authenticated connection to
//! the main loop, whose read and write services then block in their
//! streams (threads of their own under `threaded_blocking!`, may coroutines
//! under `may_blocking!`).
//!
//! A blocking transport must have an I/O timeout: it bounds a handshake
//! with a silent peer, and lets a service on a thread notice a stop (a may
//! coroutine's wait needs none: the stop's unpark ends it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use mydht_base::{Error, ErrorKind, ErrorLevel, MsgEnc, Peer, Result, Transport};

use super::conn::{dialled_halves, HandshakeIo, HandshakeRead, ReadStream, WriteStream};
use crate::auth::{AuthMessage, Authenticated, ChallengeCache, EphemeralKey, Handshake, Step};
use crate::command::{DialId, MainLoopCommand, MainLoopSender, Opened};
use crate::conf::{Address, MyDHTConf, NodeConstants};
use crate::frame::FrameWriter;
use crate::identity::LocalPeer;

/// What the threads need to authenticate.
pub(crate) struct AuthCtx<C: MyDHTConf> {
    pub(crate) transport: Arc<C::Transport>,
    pub(crate) me: Arc<LocalPeer>,
    pub(crate) enc: C::MsgEnc,
    pub(crate) constants: NodeConstants,
    pub(crate) sender: MainLoopSender<C>,
    pub(crate) logger: slog::Logger,
}

impl<C: MyDHTConf> Clone for AuthCtx<C> {
    fn clone(&self) -> Self {
        AuthCtx {
            transport: self.transport.clone(),
            me: self.me.clone(),
            enc: self.enc.clone(),
            constants: self.constants.clone(),
            sender: self.sender.clone(),
            logger: self.logger.clone(),
        }
    }
}

/// Runs a handshake on blocking streams to its end (the decisions are
/// the [`Handshake`]'s).
fn authenticate<C: MyDHTConf>(
    io: &mut HandshakeIo<C>,
    handshake: &mut Handshake,
    enc: &C::MsgEnc,
    challenges: &Mutex<ChallengeCache>,
) -> Result<Authenticated> {
    loop {
        // A blocking stream still answers `WouldBlock` at its I/O timeout:
        // retry until the handshake's own deadline.
        // Past the deadline a read blocks, even while the peer trickles
        // bytes in within the stream's I/O timeout.
        let frame = match io.read_frame_until(Some(handshake.deadline()))? {
            HandshakeRead::Frame(frame) => frame,
            HandshakeRead::Blocked if Instant::now() >= handshake.deadline() => {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    ErrorLevel::ShutDown,
                    "authentication timed out",
                ))
            }
            HandshakeRead::Blocked => continue,
        };
        let msg: AuthMessage = enc.decode(&frame)?;
        let step = {
            let mut seen = challenges.lock().unwrap_or_else(PoisonError::into_inner);
            handshake.handle(&msg, &mut seen, Instant::now())?
        };
        match step {
            Step::Send(reply) => send(io, enc, &reply)?,
            Step::SendAndFinish(reply, auth) => {
                send(io, enc, &reply)?;
                return Ok(auth);
            }
            Step::Finish(auth) => return Ok(auth),
        }
    }
}

fn send<C: MyDHTConf>(io: &mut HandshakeIo<C>, enc: &C::MsgEnc, msg: &AuthMessage) -> Result<()> {
    let mut frame = Vec::new();
    enc.encode(msg, &mut frame)?;
    io.send(&frame)
}

/// The listener thread and how to stop it.
pub(crate) struct Listener {
    stop: Arc<AtomicBool>,
    join: JoinHandle<()>,
}

impl Listener {
    /// Accepts and authenticates until stopped.
    pub(crate) fn spawn<C: MyDHTConf>(ctx: AuthCtx<C>) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let join = std::thread::Builder::new()
            .name("mydht-listener".into())
            .spawn(move || listen(ctx, &stopping))?;
        Ok(Listener { stop, join })
    }

    /// Stops the thread: a blocking accept only returns on a connection, so
    /// the node connects to itself to wake it.
    pub(crate) fn stop<T: Transport>(self, transport: &T, logger: &slog::Logger) {
        self.stop.store(true, Ordering::Release);
        let woken = transport
            .local_address()
            .and_then(|a| transport.connect_with(&a).map(drop));
        match woken {
            Ok(()) => {
                if self.join.join().is_err() {
                    slog::error!(logger, "listener thread panicked");
                }
            }
            Err(e) => {
                slog::error!(logger, "listener thread not woken, left running"; "error" => %e)
            }
        }
    }
}

/// Inbound handshakes that run at once at most. Each waits on its peer
/// most of its time: one at a time, a listener kept up with ~15 connecting
/// peers a second here when their processes were busy, and connects queued
/// past the peers' own handshake deadline (~7,500 of 10,000 peers got
/// through; `benches/idle_connections`).
const HANDSHAKES: usize = 16;

/// The handshake threads running, and a wait for one to end.
#[derive(Default)]
struct Running {
    count: Mutex<usize>,
    ended: Condvar,
}

impl Running {
    /// Waits until fewer than `most` run, then counts one more.
    fn enter(&self, most: usize) {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        while *count >= most {
            count = self
                .ended
                .wait(count)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *count += 1;
    }

    /// Waits until none runs.
    fn wait_none(&self) {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        while *count > 0 {
            count = self
                .ended
                .wait(count)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn leave(&self) {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
        self.ended.notify_all();
    }
}

/// Counts a handshake thread out when it ends, panics included.
struct Leaving(Arc<Running>);

impl Drop for Leaving {
    fn drop(&mut self) {
        self.0.leave();
    }
}

fn listen<C: MyDHTConf>(ctx: AuthCtx<C>, stop: &AtomicBool) {
    let challenges = Arc::new(Mutex::new(ChallengeCache::new(
        ctx.constants.challenge_cache,
        ctx.constants.auth_timeout * 2,
    )));
    let running = Arc::new(Running::default());
    while !stop.load(Ordering::Acquire) {
        let acc = match ctx.transport.accept() {
            Ok(Some(acc)) => acc,
            Ok(None) => continue,
            Err(e) => {
                slog::warn!(ctx.logger, "accept failed"; "error" => %e);
                if e.level() >= ErrorLevel::Fatal {
                    break;
                }
                // Out of file descriptors, say: give them time to free
                // instead of failing again at once, in a loop.
                std::thread::sleep(super::ACCEPT_RETRY);
                continue;
            }
        };
        if stop.load(Ordering::Acquire) {
            break;
        }
        let Some(write) = acc.write else {
            continue;
        };
        running.enter(HANDSHAKES);
        let leaving = Leaving(running.clone());
        let (its_ctx, its_challenges) = (ctx.clone(), challenges.clone());
        let spawned = std::thread::Builder::new()
            .name("mydht-handshake".into())
            .spawn(move || {
                let _leaving = leaving;
                respond(its_ctx, acc.read, write, &its_challenges);
            });
        if let Err(e) = spawned {
            // The closure, its count and its connection are dropped.
            slog::warn!(ctx.logger, "no handshake thread: connection dropped"; "error" => %e);
        }
    }
    // The handshakes still running end by their deadline.
    running.wait_none();
}

/// Authenticates an accepted connection and hands it to the main loop.
fn respond<C: MyDHTConf>(
    mut ctx: AuthCtx<C>,
    read: ReadStream<C>,
    write: WriteStream<C>,
    challenges: &Mutex<ChallengeCache>,
) {
    let mut handshake = Handshake::respond_with(
        ctx.me.clone(),
        ctx.constants.auth_timeout,
        Instant::now(),
        None,
        (ctx.constants.auth_mode, ctx.constants.cipher_suite),
    );
    let writer = FrameWriter::new(ctx.constants.max_frame);
    let mut io = HandshakeIo::<C>::new(read, write, writer, false);
    match authenticate::<C>(&mut io, &mut handshake, &ctx.enc, challenges) {
        Ok(auth) => {
            let opened = opened(io, auth, None);
            // A stopped loop has nobody left to tell.
            let _ = ctx
                .sender
                .send_cmd(MainLoopCommand::Opened(Box::new(opened)));
        }
        Err(e) => slog::debug!(ctx.logger, "inbound authentication failed"; "error" => %e),
    }
}

fn opened<C: MyDHTConf>(
    io: HandshakeIo<C>,
    auth: Authenticated,
    dial: Option<DialId>,
) -> Opened<C> {
    Opened {
        read: io.read,
        write: io.write,
        preamble: io.writer,
        auth,
        dial,
    }
}

/// Connects to `address` and authenticates on a thread of its own; the
/// loop hears of it as `dial`.
pub(crate) fn spawn_connector<C: MyDHTConf>(
    mut ctx: AuthCtx<C>,
    address: Address<C>,
    dial: DialId,
) -> Result<JoinHandle<()>> {
    Ok(std::thread::Builder::new()
        .name("mydht-connector".into())
        .spawn(move || {
            let cmd = match connect::<C>(&ctx, address.clone()) {
                Ok((io, auth)) => MainLoopCommand::Opened(Box::new(opened(io, auth, Some(dial)))),
                Err(error) => {
                    slog::debug!(ctx.logger, "connect failed"; "address" => %address, "error" => %error);
                    MainLoopCommand::ConnectFailed { dial, error }
                }
            };
            // A stopped loop has nobody left to tell.
            let _ = ctx.sender.send_cmd(cmd);
        })?)
}

fn connect<C: MyDHTConf>(
    ctx: &AuthCtx<C>,
    address: Address<C>,
) -> Result<(HandshakeIo<C>, Authenticated)> {
    let (read, write) = dialled_halves::<C>(ctx.transport.connect_with(&address)?)?;
    let (mut handshake, ping) = Handshake::initiate_with(
        ctx.me.clone(),
        None,
        ctx.constants.auth_timeout,
        Instant::now(),
        EphemeralKey::generate()?,
        (ctx.constants.auth_mode, ctx.constants.cipher_suite),
    )?;
    let writer = FrameWriter::new(ctx.constants.max_frame);
    let mut io = HandshakeIo::<C>::new(read, write, writer, false);
    send(&mut io, &ctx.enc, &AuthMessage::Ping(ping))?;
    // An initiator never checks replays; the cache is only for the call.
    let unused = Mutex::new(ChallengeCache::new(1, ctx.constants.auth_timeout));
    let auth = authenticate::<C>(&mut io, &mut handshake, &ctx.enc, &unused)?;
    if auth.peer.get_id() == ctx.me.info().get_id() {
        return Err(Error::new(
            ErrorKind::Auth,
            ErrorLevel::ShutDown,
            "connected to itself",
        ));
    }
    Ok((io, auth))
}
