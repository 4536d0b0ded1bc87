//! The drivers: what carries out a [`NodeCore`]'s actions with real
//! sockets, threads and time.
//!
//! [`MainLoop`] owns the mio `Poll` (one `Waker` for commands from other
//! threads, the listener, each connection registered once for both
//! directions), a `Slab` of connections (their handshake streams, then
//! their read and write services), the node's service slots and the
//! spawners. A turn polls, hands each event to the core (accepted, a
//! handshake frame read, a connection failed, a command from the channel,
//! the time), then carries out what the core answers. It decides nothing:
//! every choice is the core's. A transport that cannot be polled (a
//! blocking one) authenticates on threads of its own instead
//! (the `blocking` module), which hand the connection to the loop.
//!
//! [`start_loop`] runs the loop on its own thread; [`start_driven`] on the
//! caller's, turned by a [`MainLoopDriver`]; both give a [`NodeHandle`].

mod blocking;
mod call;
mod conn;
mod driven;
mod execute;
mod global_door;
mod handle;
mod services;

pub use call::CallFuture;
pub use driven::{start_driven, MainLoopDriver};
pub use handle::{start_loop, NodeHandle};

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Registry, Token, Waker};
use mydht_base::service::channel::{MpscChannel, MpscRecv};
use mydht_base::{
    ErrorLevel, Peer, Registerable, Result, SToRef, SpawnChannel, SpawnRecv, Transport,
};
use slab::Slab;

use crate::auth::Challenge;
use crate::command::{ConnRef, MainLoopCommand, MainLoopCommandSend, MainLoopSender, Opened};
use crate::conf::MyDHTConf;
use crate::core::NodeCore;
use crate::frame::{FrameWriter, WireMessage};
use crate::identity::{LocalPeer, PeerInfo};
use crate::service::peer_store::ConnectedRoute;
use blocking::{AuthCtx, Listener};
use conn::{ConnIo, HandshakeIo, HandshakeRead};
use services::Services;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// Tokens below this are the listener's and the waker's.
const FIRST_CONN: usize = 2;
/// Commands handled per loop turn before polling again, so readiness is
/// never starved by a busy channel.
const COMMANDS_PER_TURN: usize = 1024;
/// How long the loop must have been idle before the core does the idle
/// work (the next handshakes' keys) left after the one piece each turn
/// does (see [`MainLoop::poll_idle`]): right after a connection or a
/// message, the next event tends to follow within microseconds.
const IDLE_QUIET: Duration = Duration::from_millis(1);
/// Longest wait of a loop whose services have commands waiting for their
/// next loop ([`ServiceSlot::has_backlog`](crate::service::ServiceSlot::has_backlog)):
/// a service loop's end wakes nobody, so the loop looks again soon.
const BACKLOG_POLL: Duration = Duration::from_millis(1);
/// How soon the loop accepts again after the listener failed (out of
/// file descriptors, say): the listener's readiness is edge-triggered, so
/// the connections already waiting would otherwise wait for the next one.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// The mio driver of a node (see the [module documentation](self)).
pub struct MainLoop<C: MyDHTConf> {
    core: NodeCore<C>,
    conf: C,
    logger: slog::Logger,
    poll: Poll,
    /// The poll's registry, for the read services whose threads wait in
    /// their sockets ([`Registerable::read_wait`]).
    #[cfg(unix)]
    registry: Arc<Registry>,
    transport: Arc<C::Transport>,
    /// The listener thread, for a transport that cannot be polled.
    listener: Option<Listener>,
    /// Connector threads, for a transport that cannot be polled.
    connectors: Vec<JoinHandle<()>>,
    me: Arc<LocalPeer>,
    enc: C::MsgEnc,
    shadow: C::Shadow,
    rx: MpscRecv<MainLoopCommandSend<C>>,
    sender: MainLoopSender<C>,
    conns: Slab<ConnIo<C>>,
    services: Services<C>,
    /// Connections whose write service has commands waiting for its next
    /// loop.
    write_backlogs: Vec<usize>,
    /// Commands were left for the next turn: poll without waiting.
    busy: bool,
    /// The `Stop` action was carried out.
    stopped: bool,
    /// The listener failed: when to accept again.
    accept_retry: Option<Instant>,
    /// The loop runs on a thread of its own ([`run`](Self::run)): it tells
    /// its senders when it is running, so they wake it only while it may
    /// sleep. A driven loop's caller may wait on the poll's descriptor
    /// itself: its senders always wake it.
    own_thread: bool,
}

impl<C: MyDHTConf> MainLoop<C> {
    /// Builds the node from its configuration: binds the transport, makes
    /// the identity, the core and the node's services.
    pub fn new(mut conf: C) -> Result<Self> {
        crate::identity::init_crypto();
        let constants = conf.constants();
        let logger = conf.logger();
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut transport = conf.init_transport()?;
        let pollable = transport.register(poll.registry(), LISTENER.0)?;
        let transport = Arc::new(transport);
        let address = transport.local_address()?.to_string();
        let me = Arc::new(LocalPeer::new(conf.init_identity()?, address)?);
        let (send, rx) = MpscChannel::new(constants.mainloop_channel).new_channel()?;
        let sender = MainLoopSender::new(send, waker, conf.services_on_threads());
        let route = ConnectedRoute::new(conf.peer_route()?);
        let enc = conf.init_msg_enc();
        let mut core = NodeCore::new(
            me.clone(),
            constants.clone(),
            enc.clone(),
            logger.clone(),
            None,
            route.clone(),
            Instant::now(),
            random_seed(),
        );
        let view = core.peers_view().clone();
        let services = Services::new(&mut conf, &me, &sender, route, &view, &constants)?;
        core.set_fixed_verdict(services.fixed_verdict());
        if let Some(tick) = conf.global_tick() {
            core.set_global_tick(tick, Instant::now());
        }
        let listener = if pollable {
            None
        } else {
            Some(Listener::spawn(AuthCtx {
                transport: transport.clone(),
                me: me.clone(),
                enc: enc.clone(),
                constants: constants.clone(),
                sender: sender.clone(),
                logger: logger.clone(),
            })?)
        };
        // openssl makes a thread's random generator on its first use: here
        // rather than in the first handshake (which reports any failure).
        let _ = Challenge::random();
        slog::info!(logger, "node started"; "id" => %me.info().get_id(), "address" => me.info().get_address());
        #[cfg(unix)]
        let registry = Arc::new(poll.registry().try_clone()?);
        Ok(MainLoop {
            core,
            #[cfg(unix)]
            registry,
            enc,
            listener,
            connectors: Vec::new(),
            shadow: conf.init_shadow(),
            conns: Slab::with_capacity(constants.max_connections.min(64)),
            conf,
            logger,
            poll,
            transport,
            me,
            rx,
            sender,
            services,
            write_backlogs: Vec::new(),
            busy: false,
            stopped: false,
            accept_retry: None,
            own_thread: false,
        })
    }

    /// The node's own peer.
    pub fn local_peer(&self) -> &PeerInfo {
        self.me.info()
    }

    /// A sender to this loop.
    pub fn sender(&self) -> MainLoopSender<C> {
        self.sender.clone()
    }

    /// Runs until a `Stop` command (or every sender is gone), then stops
    /// every service and closes every connection.
    pub fn run(mut self) -> Result<()> {
        let mut events = Events::with_capacity(self.core.constants().events_capacity);
        self.own_thread = true;
        while !self.stopped {
            self.turn(&mut events, None);
        }
        self.shutdown()
    }

    /// The node's constants.
    pub(crate) fn core_constants(&self) -> &crate::conf::NodeConstants {
        self.core.constants()
    }

    /// True until the node has stopped.
    pub(crate) fn is_running(&self) -> bool {
        !self.stopped
    }

    /// One turn of the loop: waits for readiness at most `max_wait` (and
    /// never past the core's next deadline), then hands events, commands
    /// and the time to the core and carries out its actions.
    pub(crate) fn turn(&mut self, events: &mut Events, max_wait: Option<Duration>) {
        let timeout = if self.busy || self.sender.take_self_sent() {
            Duration::ZERO
        } else {
            let next = self
                .core
                .poll_timeout()
                .saturating_duration_since(Instant::now());
            let next = max_wait.map_or(next, |m| next.min(m));
            let next = self.accept_retry.map_or(next, |at| {
                next.min(at.saturating_duration_since(Instant::now()))
            });
            if self.has_backlog() {
                next.min(BACKLOG_POLL)
            } else {
                next
            }
        };
        // From here senders wake the loop; a command they queued while it
        // ran (without a wake) keeps it from waiting.
        let timeout = if self.own_thread
            && !timeout.is_zero()
            && !self.sender.loop_wake().may_sleep(&self.rx)
        {
            Duration::ZERO
        } else {
            timeout
        };
        let polled = self.poll_idle(events, timeout);
        if self.own_thread {
            // The channel is drained below before the next wait.
            self.sender.loop_wake().woke();
        }
        if let Err(e) = polled {
            if e.kind() != std::io::ErrorKind::Interrupted {
                slog::error!(self.logger, "poll failed"; "error" => %e);
                self.core.stop();
                self.execute();
                return;
            }
        }
        for event in events.iter() {
            match event.token() {
                LISTENER => self.accept_all(),
                WAKER => {}
                Token(t) => self.on_ready(t - FIRST_CONN, event.is_readable(), event.is_writable()),
            }
        }
        if self.accept_retry.is_some_and(|at| Instant::now() >= at) {
            self.accept_all();
        }
        self.busy = self.drain_commands();
        let now = Instant::now();
        if now >= self.core.poll_timeout() {
            let conns = &self.conns;
            let last_active = |key: usize| match conns.get(key) {
                Some(ConnIo::Open(open)) => Some(open.activity.last()),
                _ => None,
            };
            self.core.handle_timeout_with(now, last_active);
        }
        self.core.end_turn();
        self.execute();
        self.resume_backlogs();
        if self.services.global_door_needs_care() {
            self.reopen_global_door();
        }
    }

    /// True while a service has commands waiting for its next loop.
    fn has_backlog(&self) -> bool {
        !self.write_backlogs.is_empty() || self.services.has_backlog()
    }

    /// Spawns the next loop of the services whose commands wait for it and
    /// whose loop has ended (a loop's end wakes nobody).
    fn resume_backlogs(&mut self) {
        for (kind, delivery) in self.services.resume_backlogs() {
            if let Some((error, lost)) = delivery {
                self.core.service_failed(kind, error, lost);
            }
        }
        for key in std::mem::take(&mut self.write_backlogs) {
            let Some(ConnIo::Open(open)) = self.conns.get_mut(key) else {
                continue;
            };
            match open.write.check() {
                Ok(()) if open.write.has_backlog() => self.write_backlogs.push(key),
                Ok(()) => {}
                Err(e) => self.core.conn_failed(key, Some(e)),
            }
        }
        self.execute();
    }

    /// The descriptor of the loop's poller.
    #[cfg(unix)]
    pub(crate) fn poll_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.poll)
    }

    /// How long the loop may wait before its next turn: zero with work
    /// left, else until its next deadline (at most [`IDLE_QUIET`] while
    /// idle work waits), for a driver that waits on the poll itself.
    pub(crate) fn next_wait(&self) -> Duration {
        if self.busy || self.sender.self_sent() {
            return Duration::ZERO;
        }
        let mut next = self
            .core
            .poll_timeout()
            .saturating_duration_since(Instant::now());
        if self.has_backlog() {
            next = next.min(BACKLOG_POLL);
        }
        if let Some(at) = self.accept_retry {
            next = next.min(at.saturating_duration_since(Instant::now()));
        }
        if self.core.has_idle_work() {
            next.min(IDLE_QUIET)
        } else {
            next
        }
    }

    /// Polls. The core's idle work (one key operation a piece) is done one
    /// piece after each turn that leaves nothing waiting, before the loop
    /// sleeps: the loop runs anyway, so that piece costs no wake-up of its
    /// own, and a relay's next send-once dial finds its key made even when
    /// its gaps are shorter than [`IDLE_QUIET`]. What is left is done once
    /// the loop has been idle for [`IDLE_QUIET`], then until it is done or
    /// an event comes. Left all to that quiet, the work took a timer
    /// wake-up of its own, and its burst of key operations could hold a
    /// core while another thread (another node's, on a tunnel's path)
    /// waited for it.
    fn poll_idle(&mut self, events: &mut Events, timeout: Duration) -> std::io::Result<()> {
        if timeout.is_zero() || !self.core.has_idle_work() {
            return self.poll.poll(events, Some(timeout));
        }
        let start = Instant::now();
        self.poll.poll(events, Some(Duration::ZERO))?;
        if !events.is_empty() {
            return Ok(());
        }
        self.core.idle();
        let left = timeout.saturating_sub(start.elapsed());
        let quiet = left.min(IDLE_QUIET);
        if quiet == left || !self.core.has_idle_work() {
            return self.poll.poll(events, Some(left));
        }
        self.poll.poll(events, Some(quiet))?;
        if !events.is_empty() {
            return Ok(());
        }
        // One key at a time, looking at the poll in between: a burst of
        // traffic never waits behind more than one.
        self.core.idle();
        while self.core.has_idle_work() {
            self.poll.poll(events, Some(Duration::ZERO))?;
            if !events.is_empty() {
                return Ok(());
            }
            self.core.idle();
        }
        self.poll
            .poll(events, Some(timeout.saturating_sub(start.elapsed())))
    }

    /// True when commands are left for the next turn.
    fn drain_commands(&mut self) -> bool {
        for _ in 0..COMMANDS_PER_TURN {
            match self.rx.recv() {
                Ok(Some(cmd)) => match cmd.to_ref() {
                    MainLoopCommand::Opened(opened) => self.on_opened(*opened),
                    MainLoopCommand::StreamReturned(conn) => self.on_stream_returned(conn),
                    cmd => self.core.command(cmd, Instant::now()),
                },
                Ok(None) => return false,
                Err(_) => {
                    // Cannot happen while `self.sender` lives; stop cleanly.
                    self.core.stop();
                }
            }
            self.execute();
            if self.stopped {
                return false;
            }
        }
        true
    }

    fn accept_all(&mut self) {
        self.accept_retry = None;
        loop {
            match self.transport.accept() {
                Ok(Some(acc)) => {
                    let Some(write) = acc.write else {
                        slog::warn!(
                            self.logger,
                            "transport gave no write half: connection dropped"
                        );
                        continue;
                    };
                    let writer = FrameWriter::new(self.core.constants().max_frame);
                    let io = HandshakeIo::new(acc.read, write, writer, false);
                    let Some(key) = self.add_conn(io) else {
                        continue;
                    };
                    if self.core.accepted(key, Instant::now()).is_some() {
                        self.on_ready(key, true, true);
                    } else {
                        self.execute();
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    slog::warn!(self.logger, "accept failed"; "error" => %e);
                    if e.level() >= ErrorLevel::Fatal {
                        self.core.stop();
                        self.execute();
                    } else {
                        self.accept_retry = Some(Instant::now() + ACCEPT_RETRY);
                    }
                    return;
                }
            }
        }
    }

    /// Stores a connection's streams and registers them; `None` when they
    /// cannot be polled (dropped, which closes them).
    fn add_conn(&mut self, mut io: HandshakeIo<C>) -> Option<usize> {
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        match io.read.register(self.poll.registry(), key + FIRST_CONN) {
            Ok(true) => {
                entry.insert(ConnIo::Handshaking(Box::new(io)));
                Some(key)
            }
            Ok(false) => {
                slog::error!(self.logger, "connection cannot be polled: dropped");
                None
            }
            Err(e) => {
                slog::warn!(self.logger, "registration failed"; "error" => %e);
                None
            }
        }
    }

    /// Readiness of connection `key`: wakes its services, or reads and
    /// writes its handshake frames.
    fn on_ready(&mut self, key: usize, readable: bool, writable: bool) {
        loop {
            let Some(conn) = self.conns.get_mut(key) else {
                return;
            };
            let io = match conn {
                ConnIo::Open(open) => {
                    let mut res = Ok(());
                    if readable {
                        res = open.read.unyield();
                    }
                    if writable {
                        res = res.and(open.write.unyield());
                    }
                    let feeds = open.feeds.filter(|_| readable);
                    if let Err(e) = res {
                        self.core.conn_failed(key, Some(e));
                        self.execute();
                    }
                    if let Some(pump) = feeds {
                        self.wake_write(pump);
                    }
                    return;
                }
                ConnIo::Handshaking(io) => io,
            };
            let read = match io.check_connected() {
                Ok(false) => return,
                // Bytes after the handshake are the read service's.
                Ok(true) if !self.core.is_handshaking(key) => return,
                Ok(true) => io.read_frame(),
                Err(e) => Err(e),
            };
            match read {
                Ok(HandshakeRead::Frame(frame)) => {
                    self.core.handshake_frame(key, &frame, Instant::now())
                }
                Ok(HandshakeRead::Blocked) => return,
                Err(e) => self.core.conn_failed(key, Some(e)),
            }
            self.execute();
        }
    }

    /// A stream lent by `conn`'s read service came back or was dropped:
    /// the read service goes on (or ends the connection).
    fn on_stream_returned(&mut self, conn: ConnRef) {
        let Some(ConnIo::Open(open)) = self.conns.get_mut(conn.key) else {
            return;
        };
        open.feeds = None;
        if let Err(e) = open.read.unyield() {
            self.core.conn_failed(conn.key, Some(e));
            self.execute();
        }
    }

    /// Wakes the write service of connection `key` (it pumps a stream whose
    /// source became readable).
    fn wake_write(&mut self, key: usize) {
        if let Some(ConnIo::Open(open)) = self.conns.get_mut(key) {
            if let Err(e) = open.write.unyield() {
                self.core.conn_failed(key, Some(e));
                self.execute();
            }
        }
    }

    /// Notes, for each message with a stream in `msgs` going to connection
    /// `key`, the connection whose readiness must wake `key`'s pump.
    fn note_feeds(&mut self, key: usize, msgs: &[WireMessage<C::ProtoMsg>]) {
        for msg in msgs {
            let WireMessage::AppStream(_, slot) = msg else {
                continue;
            };
            let Some(source) = slot.wakes_on() else {
                continue;
            };
            if let Some(ConnIo::Open(open)) = self.conns.get_mut(source.key) {
                open.feeds = Some(key);
            }
        }
    }

    /// A connection a listener or connector thread authenticated.
    fn on_opened(&mut self, opened: Opened<C>) {
        let Opened {
            read,
            write,
            preamble,
            auth,
            dial,
        } = opened;
        let io = HandshakeIo::new(read, write, preamble, false);
        let key = self.conns.insert(ConnIo::Handshaking(Box::new(io)));
        self.core.opened(key, dial, auth, Instant::now());
    }

    /// Closes the loop's channel, before any service is joined: under a
    /// threaded profile a service waits for room in a full channel
    /// (back-pressure), and a loop that only joins would never make room.
    /// Queued queries fail with "node stopped"; a service sending from now
    /// on, or waiting to, gets `ChannelClosed`.
    fn close_channel(&mut self) -> Result<()> {
        while let Ok(Some(cmd)) = self.rx.recv() {
            if let MainLoopCommandSend::Api { slot, .. } = cmd {
                slot.fail(mydht_base::Error::new(
                    mydht_base::ErrorKind::ChannelClosed,
                    ErrorLevel::Ignore,
                    "node stopped",
                ));
            }
        }
        let (_, closed) = MpscChannel::new(1).new_channel()?;
        drop(std::mem::replace(&mut self.rx, closed));
        Ok(())
    }

    /// Stops every connection and service, joining their threads.
    fn shutdown(mut self) -> Result<()> {
        // Queries from now on take the loop's way, closed below.
        self.services.close_global_door();
        self.core.stop();
        self.execute();
        self.close_channel()?;
        for (_, io) in std::mem::take(&mut self.conns) {
            match io.close() {
                Ok(()) => {}
                // Its last command found the channel closed.
                Err(e) if e.kind() == mydht_base::ErrorKind::ChannelClosed => {}
                Err(e) => {
                    slog::warn!(self.logger, "connection services ended with an error"; "error" => %e)
                }
            }
        }
        let res = self.services.stop();
        if let Some(listener) = self.listener.take() {
            listener.stop(&*self.transport, &self.logger);
        }
        for c in self.connectors.drain(..) {
            if c.join().is_err() {
                slog::error!(self.logger, "connector thread panicked");
            }
        }
        if let Some(t) = Arc::get_mut(&mut self.transport) {
            if let Err(e) = t.deregister(self.poll.registry()) {
                slog::debug!(self.logger, "listener deregistration failed"; "error" => %e);
            }
        }
        slog::info!(self.logger, "node stopped");
        res
    }
}

/// A seed for the core's random ids (std's per-process random hasher
/// keys, drawn anew each call).
fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0u8)
}
