//! The main loop: the node's event loop, on mio 1.x.
//!
//! It owns the `Poll` (one `Waker` for commands from other threads, the
//! listener, and each connection registered once for both directions), a
//! `Slab` of connections, the peer cache (connected peers by id), the
//! address cache (connections by address), the challenge cache and the
//! timers (authentication deadlines, query expiry).
//!
//! A connection is authenticated by the main loop itself (three small
//! frames, see [`crate::auth::Handshake`]); then its read and
//! write services are spawned with the session shadow, and readiness only
//! wakes them. Messages for a peer wait in its connection until it is
//! authenticated. Every service answer comes back here as a
//! [`MainLoopCommand`] and is routed: to the api service, to a write
//! service, to the global service.

mod blocking;
mod command;
mod command_send;
mod connection;
mod driven;
mod duplicate;
mod handle;
mod route;
mod spare_key;
mod verdict;

pub use blocking::Opened;
pub use command::{
    ApiAction, ConnRef, MainLoopCommand, MainLoopSender, NodeStats, PeerCount, ToMainLoop,
};
pub use command_send::MainLoopCommandSend;
pub use driven::{start_driven, MainLoopDriver};
pub use handle::{start_loop, NodeHandle};
pub use route::{ClosestConnected, ConnectedRoute, PeerRoute};

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token, Waker};
use mydht_base::service::channel::{MpscChannel, MpscRecv};
use mydht_base::{
    Error, ErrorKind, ErrorLevel, NoChannel, NoSend, Peer, Registerable, Result, SToRef,
    SpawnChannel, SpawnRecv, Transport,
};
use readwrite_comp::{CompR, CompW};
use slab::Slab;

use crate::auth::{Challenge, ChallengeCache, EphemeralKey, Handshake};
use crate::conf::{Address, MyDHTConf, NodeConstants, PeerVerdict};
use crate::frame::{FrameReader, FrameWriter};
use crate::identity::{LocalPeer, PeerId, PeerInfo};
use crate::node_peer::info_of;
use crate::service::kvstore::{
    KVStoreLimits, KVStoreReply, KVStoreService, MemoryStore, QueryConf, QueryMode,
};
use crate::service::peer_store::{
    closest_in_store, PeerStoreCommand, PeerStoreReply, PeerStoreService,
};
use crate::service::{
    ApiCommand, ApiResult, ApiService, GlobalCommand, LocalDest, PeerMgmtCommand, PeerMgmtService,
    PeerStatus, QueryId, ReadCommand, ReadService, Reply, ServiceCtx, ServiceSlot, TimeoutAsBlock,
    WireMessage, WriteCommand, WriteService,
};
use blocking::{AuthCtx, Listener};
use connection::{Awaiting, ConnState, Connection, Handshaking, Open, Shadows, AUTH_MAX_FRAME};
use spare_key::SpareKey;
use std::thread::JoinHandle;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// Tokens below this are the listener's and the waker's.
const FIRST_CONN: usize = 2;
/// How often pending queries are checked for expiry.
const QUERY_TICK: Duration = Duration::from_millis(100);
/// Commands handled per loop turn before polling again, so readiness is
/// never starved by a busy channel.
const COMMANDS_PER_TURN: usize = 1024;
/// The api query id of the node's own peer store commands (the node
/// handle's ids start at 1).
const NO_QUERY: QueryId = 0;
/// Most peers one discovery find asks for.
const MAX_DISCOVERED: u8 = 64;
/// How long the loop must have been idle before it makes its spare key:
/// right after a connection or a message, the next event (the peer's
/// answer, the application's next query) tends to follow within
/// microseconds, and a key being made would delay it.
const SPARE_KEY_QUIET: Duration = Duration::from_millis(1);
/// Handshakes at most that hold session shadows built before their peer
/// is accepted: a responder builds them before the initiator is
/// authenticated, and each holds the shadow's chunk buffers (a 64 KiB
/// chunk each way with the default session shadow; a writer grows to four
/// chunks only once it streams). Past it, shadows are built when the
/// services start.
const EARLY_SHADOWS: usize = 16;
/// The api query id of discovery finds: the api service numbers its
/// queries from 1 up, it never reaches this one.
const DISCOVERY_QUERY: QueryId = QueryId::MAX;

type GlobalSlot<C> = ServiceSlot<
    <C as MyDHTConf>::GlobalService,
    MainLoopSender<C>,
    <C as MyDHTConf>::GlobalSpawn,
    <C as MyDHTConf>::GlobalChannel,
>;
type PeerStoreSlot<C> = ServiceSlot<
    PeerStoreService<ConnectedRoute>,
    MainLoopSender<C>,
    <C as MyDHTConf>::PeerStoreSpawn,
    <C as MyDHTConf>::PeerStoreChannel,
>;
type PeerMgmtSlot<C> = ServiceSlot<
    PeerMgmtService<<C as MyDHTConf>::PeerRef>,
    MainLoopSender<C>,
    <C as MyDHTConf>::PeerMgmtSpawn,
    <C as MyDHTConf>::PeerMgmtChannel,
>;
type ApiSlot<C> =
    ServiceSlot<ApiService<C>, NoSend, <C as MyDHTConf>::ApiSpawn, <C as MyDHTConf>::ApiChannel>;

/// A connected peer of the peer cache.
struct PeerEntry<C: MyDHTConf> {
    info: C::PeerRef,
    conn: usize,
    /// Its peer management priority.
    priority: u8,
}

/// A query waiting for a number of connected peers.
struct Watcher {
    qid: QueryId,
    count: PeerCount,
    deadline: Instant,
}

/// The node's event loop; built and run on its own thread by
/// [`start_loop`], or on the caller's by [`start_driven`].
pub struct MainLoop<C: MyDHTConf> {
    conf: C,
    constants: NodeConstants,
    logger: slog::Logger,
    poll: Poll,
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
    conns: Slab<Connection<C>>,
    next_conn_id: u64,
    peers: HashMap<PeerId, PeerEntry<C>>,
    addresses: HashMap<Address<C>, usize>,
    challenges: ChallengeCache,
    spare_key: SpareKey,
    global: GlobalSlot<C>,
    api: ApiSlot<C>,
    /// Queries waiting for a number of connected peers.
    watchers: Vec<Watcher>,
    /// Connections with messages in their outbox.
    outboxes: Vec<usize>,
    peer_store: PeerStoreSlot<C>,
    peer_mgmt: PeerMgmtSlot<C>,
    /// The peer manager's verdict on every peer, if it does not depend on
    /// the peer: applied without asking peer management.
    fixed_verdict: Option<PeerVerdict>,
    route: ConnectedRoute,
    next_refresh: Instant,
    /// Discovery counters (the connection count is read when asked).
    stats: NodeStats,
    next_tick: Instant,
    running: bool,
    /// Commands were left for the next turn: poll without waiting.
    busy: bool,
}

impl<C: MyDHTConf> MainLoop<C> {
    /// Builds the node from its configuration: binds the transport, makes
    /// the identity and the global and api services.
    pub fn new(mut conf: C) -> Result<Self> {
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
        let global = ServiceSlot::new(
            conf.init_global(me.info())?,
            sender.clone(),
            conf.global_spawner()?,
            conf.global_channel(),
            constants.loops.global,
        )?;
        let api = ServiceSlot::new(
            ApiService::new(constants.max_pending_queries),
            NoSend,
            conf.api_spawner()?,
            conf.api_channel(),
            constants.loops.api,
        )?;
        let route = ConnectedRoute::new(conf.peer_route()?);
        let peer_store = ServiceSlot::new(
            KVStoreService::new(
                me.info().clone(),
                MemoryStore::new(constants.peer_store_capacity),
                route.clone(),
                KVStoreLimits::default(),
            )
            .with_near(closest_in_store),
            sender.clone(),
            conf.peer_store_spawner()?,
            conf.peer_store_channel(),
            constants.loops.peer_store,
        )?;
        let manager = conf.peer_manager()?;
        let fixed_verdict = manager.fixed_verdict();
        let peer_mgmt = ServiceSlot::new(
            PeerMgmtService::new(me.info().clone(), manager),
            sender.clone(),
            conf.peer_mgmt_spawner()?,
            conf.peer_mgmt_channel(),
            constants.loops.peer_mgmt,
        )?;
        let enc = conf.init_msg_enc();
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
        Ok(MainLoop {
            enc,
            listener,
            connectors: Vec::new(),
            shadow: conf.init_shadow(),
            challenges: ChallengeCache::new(constants.challenge_cache, constants.auth_timeout * 2),
            spare_key: SpareKey::new(),
            conns: Slab::with_capacity(constants.max_connections.min(64)),
            conf,
            constants,
            logger,
            poll,
            transport,
            me,
            rx,
            sender,
            next_conn_id: 0,
            peers: HashMap::new(),
            addresses: HashMap::new(),
            global,
            api,
            watchers: Vec::new(),
            outboxes: Vec::new(),
            peer_store,
            peer_mgmt,
            fixed_verdict,
            route,
            next_refresh: Instant::now(),
            stats: NodeStats::default(),
            next_tick: Instant::now() + QUERY_TICK,
            running: true,
            busy: false,
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
        let mut events = Events::with_capacity(self.constants.events_capacity);
        while self.running {
            self.turn(&mut events, None);
        }
        self.shutdown()
    }

    /// One turn of the loop: waits for readiness at most `max_wait` (and
    /// never past the next timer), then handles events, commands, timers.
    fn turn(&mut self, events: &mut Events, max_wait: Option<Duration>) {
        let timeout = if self.busy || self.sender.take_self_sent() {
            Duration::ZERO
        } else {
            let next = self.next_timeout();
            max_wait.map_or(next, |m| next.min(m))
        };
        if let Err(e) = self.poll_idle(events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                slog::error!(self.logger, "poll failed"; "error" => %e);
                self.running = false;
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
        self.busy = self.drain_commands();
        self.on_timers();
        self.flush_outboxes();
    }

    /// Polls; a spare key to make is made only once the loop has been idle
    /// for [`SPARE_KEY_QUIET`].
    fn poll_idle(&mut self, events: &mut Events, timeout: Duration) -> std::io::Result<()> {
        let quiet = timeout.min(SPARE_KEY_QUIET);
        if quiet == timeout || !self.spare_key.is_empty() {
            return self.poll.poll(events, Some(timeout));
        }
        let start = Instant::now();
        self.poll.poll(events, Some(quiet))?;
        if !events.is_empty() {
            return Ok(());
        }
        self.spare_key.refill();
        self.poll
            .poll(events, Some(timeout.saturating_sub(start.elapsed())))
    }

    /// Hands each write service what this turn routed to its peer.
    fn flush_outboxes(&mut self) {
        let keys = std::mem::take(&mut self.outboxes);
        for key in keys {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            let ConnState::Open(open) = &mut conn.state else {
                continue;
            };
            let mut batch = std::mem::take(&mut open.outbox);
            let res = match batch.len() {
                0 => Ok(()),
                1 => open.write.send(WriteCommand::Send(batch.remove(0))),
                _ => open.write.send(WriteCommand::Batch(batch)),
            };
            if let Err(e) = res {
                if e.level() == ErrorLevel::Ignore {
                    slog::warn!(self.logger, "messages dropped"; "conn" => key, "error" => %e);
                } else {
                    self.drop_conn(key, Some(e));
                }
            }
        }
    }

    fn next_timeout(&self) -> Duration {
        let now = Instant::now();
        let mut next = self.next_tick.min(self.next_refresh);
        for (_, c) in self.conns.iter() {
            if c.has_deadline() && c.deadline < next {
                next = c.deadline;
            }
        }
        next.saturating_duration_since(now)
    }

    /// True when commands are left for the next turn.
    fn drain_commands(&mut self) -> bool {
        for _ in 0..COMMANDS_PER_TURN {
            match self.rx.recv() {
                Ok(Some(cmd)) => self.on_command(cmd.to_ref()),
                Ok(None) => return false,
                Err(_) => {
                    // Cannot happen while `self.sender` lives; stop cleanly.
                    self.running = false;
                    return false;
                }
            }
            if !self.running {
                return false;
            }
        }
        true
    }

    fn on_timers(&mut self) {
        let now = Instant::now();
        if now >= self.next_tick {
            self.next_tick = now + QUERY_TICK;
            self.tell_api(ApiCommand::Expire(now));
            self.check_watchers();
            self.check_global();
        }
        if now >= self.next_refresh {
            self.next_refresh = now + self.constants.refresh;
            self.tell_peer_store(PeerStoreCommand::Tick(now));
            self.discover();
        }
        let late: Vec<(usize, bool)> = self
            .conns
            .iter()
            .filter(|(_, c)| c.has_deadline() && c.deadline <= now)
            .map(|(k, c)| (k, matches!(c.state, ConnState::Awaiting(_))))
            .collect();
        for (key, awaiting) in late {
            let why = if awaiting {
                "no peer management verdict in time: rejected"
            } else {
                "authentication timed out"
            };
            let err = Error::new(ErrorKind::Timeout, ErrorLevel::ShutDown, why);
            self.drop_conn(key, Some(err));
        }
    }

    /// A global service whose loop failed is restarted on its next command;
    /// its error is logged here.
    fn check_global(&mut self) {
        if let Err(e) = self.global.check() {
            slog::error!(self.logger, "global service died"; "error" => %e);
        }
        if let Some(e) = self.global.take_error() {
            slog::error!(self.logger, "global service failed"; "error" => %e);
        }
        if self.global.is_gone() {
            self.restart_global();
        }
    }

    fn accept_all(&mut self) {
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
                    let handshake = Handshake::respond_with(
                        self.me.clone(),
                        self.constants.auth_timeout,
                        Instant::now(),
                        self.spare_key.take(),
                        (self.constants.auth_mode, self.constants.cipher_suite),
                    );
                    self.add_conn(
                        acc.read,
                        write,
                        handshake,
                        FrameWriter::new(self.constants.max_frame),
                        false,
                        None,
                    );
                }
                Ok(None) => return,
                Err(e) => {
                    slog::warn!(self.logger, "accept failed"; "error" => %e);
                    if e.level() >= ErrorLevel::Fatal {
                        self.running = false;
                    }
                    return;
                }
            }
        }
    }

    /// Stores a new connection and registers it; `None` when it was refused.
    fn add_conn(
        &mut self,
        mut read: <C::Transport as Transport>::ReadStream,
        write: <C::Transport as Transport>::WriteStream,
        handshake: Handshake,
        writer: FrameWriter,
        connecting: bool,
        dialed: Option<Address<C>>,
    ) -> Option<usize> {
        if self.conns.len() >= self.constants.max_connections {
            slog::warn!(self.logger, "too many connections: one refused");
            return None;
        }
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        match read.register(self.poll.registry(), key + FIRST_CONN) {
            Ok(true) => {}
            Ok(false) => {
                slog::error!(self.logger, "connection cannot be polled: dropped");
                return None;
            }
            Err(e) => {
                slog::warn!(self.logger, "registration failed"; "error" => %e);
                return None;
            }
        }
        self.next_conn_id += 1;
        entry.insert(Connection {
            id: self.next_conn_id,
            deadline: handshake.deadline(),
            state: ConnState::Handshaking(Box::new(Handshaking {
                handshake,
                read,
                write,
                reader: FrameReader::new(AUTH_MAX_FRAME),
                writer,
                connecting,
            })),
            shadows: None,
            pending: VecDeque::new(),
            waiters: Vec::new(),
            dialled: dialed.is_some(),
        });
        if let Some(a) = dialed {
            self.addresses.insert(a, key);
        }
        // Bytes may already wait (or a connect may be done) with no new
        // readiness edge to come: try at once.
        self.on_ready(key, true, true);
        Some(key)
    }

    fn on_ready(&mut self, key: usize, readable: bool, writable: bool) {
        let early = matches!(
            self.conns.get(key).map(|c| &c.state),
            Some(ConnState::Handshaking(_))
        ) && self.early_shadows_allowed();
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let res = match &mut conn.state {
            ConnState::Open(open) => {
                let mut res = Ok(());
                if readable {
                    res = open.read.unyield();
                }
                if writable {
                    res = res.and(open.write.unyield());
                }
                res.map(|()| None)
            }
            ConnState::Handshaking(hs) => {
                let (shadow, shadows) = (&self.shadow, &mut conn.shadows);
                hs.drive(&self.enc, &mut self.challenges, Instant::now(), |keys| {
                    if early {
                        *shadows = Some(Shadows::new(shadow, keys)?);
                    }
                    Ok(())
                })
            }
            ConnState::Awaiting(_) | ConnState::Switching => Ok(None),
        };
        match res {
            Ok(None) => {}
            Ok(Some(auth)) => self.on_authenticated(key, auth),
            Err(e) => self.drop_conn(key, Some(e)),
        }
    }

    /// True while fewer than [`EARLY_SHADOWS`] handshakes hold early
    /// shadows (a scan, done only on a handshaking connection's readiness).
    fn early_shadows_allowed(&self) -> bool {
        let holding = self.conns.iter().filter(|(_, c)| c.has_early_shadows());
        holding.count() < EARLY_SHADOWS
    }

    /// A connection a listener or connector thread authenticated.
    fn on_opened(&mut self, opened: Opened<C>) {
        let Opened {
            conn,
            auth,
            dialed,
            qid,
        } = opened;
        if self.conns.len() >= self.constants.max_connections {
            slog::warn!(self.logger, "too many connections: one refused");
            if let Some(qid) = qid {
                let e = Error::new(
                    ErrorKind::TooLarge,
                    ErrorLevel::Ignore,
                    "too many connections",
                );
                self.tell_api(ApiCommand::Fail(qid, e));
            }
            return;
        }
        self.next_conn_id += 1;
        let key = self.conns.insert(Connection {
            id: self.next_conn_id,
            deadline: conn.handshake.deadline(),
            state: ConnState::Handshaking(Box::new(conn)),
            pending: VecDeque::new(),
            waiters: qid.into_iter().collect(),
            dialled: dialed.is_some(),
            shadows: None,
        });
        if let Some(a) = dialed {
            self.addresses.insert(a, key);
        }
        self.on_authenticated(key, auth);
    }

    fn open(&mut self, key: usize) -> Result<()> {
        let conn = self.conns.get_mut(key).ok_or_else(|| {
            Error::new(
                ErrorKind::Other,
                ErrorLevel::ShutDown,
                "connection vanished",
            )
        })?;
        let cref = ConnRef { key, id: conn.id };
        // `Switching` until the open state is built: on an error the
        // connection is dropped in that state.
        let ConnState::Awaiting(awaiting) =
            std::mem::replace(&mut conn.state, ConnState::Switching)
        else {
            return Err(Error::new(
                ErrorKind::Other,
                ErrorLevel::ShutDown,
                "connection is not awaiting its verdict",
            ));
        };
        let Awaiting { hs, auth, peer } = *awaiting;
        let Handshaking {
            read,
            write,
            writer: preamble,
            ..
        } = *hs;
        let keys = auth.keys;
        let shadows = match conn.shadows.take() {
            Some(shadows) => shadows,
            None => Shadows::new(&self.shadow, &keys)?,
        };
        let read_stream = CompR::new(TimeoutAsBlock(read), shadows.reader);
        let write_stream = CompW::new(TimeoutAsBlock(write), shadows.writer);
        let ctx = ServiceCtx {
            enc: self.enc.clone(),
            max_frame: self.constants.max_frame,
            to_loop: self.sender.clone(),
            logger: self.logger.clone(),
        };
        let flush_first = preamble.pending() > 0;
        let writer = WriteService::new(cref, write_stream, preamble, ctx.clone());
        let mut write = ServiceSlot::new(
            writer,
            self.sender.clone(),
            self.conf.write_spawner()?,
            self.conf.write_channel(),
            self.constants.loops.write,
        )?;
        // Started now so that the local service can hold its weak handle.
        write.start(flush_first.then_some(WriteCommand::Flush))?;
        let direct = if self.constants.direct_replies {
            write.weak_send().zip(write.weak_handle())
        } else {
            None
        };
        let local = ServiceSlot::new(
            self.conf.init_local(self.me.info(), info_of(&*peer))?,
            LocalDest::new(self.sender.clone(), *peer.get_id(), direct),
            self.conf.local_spawner()?,
            self.conf.local_channel(),
            self.constants.loops.local,
        )?;
        let reader = ReadService::new(cref, peer.clone(), read_stream, local, ctx);
        let mut read = ServiceSlot::new(
            reader,
            self.sender.clone(),
            self.conf.read_spawner()?,
            NoChannel,
            0,
        )?;
        for msg in conn.pending.drain(..) {
            write.send(WriteCommand::Send(msg))?;
        }
        read.start(Some(ReadCommand::Run))?;
        conn.state = ConnState::Open(Box::new(Open {
            peer,
            read,
            write,
            outbox: Vec::new(),
        }));
        Ok(())
    }

    /// Drops a connection: stops its services, forgets its peer, tells the
    /// waiting queries and the global service.
    fn drop_conn(&mut self, key: usize, error: Option<Error>) {
        let Some(conn) = self.conns.try_remove(key) else {
            return;
        };
        if let Some(e) = &error {
            slog::debug!(self.logger, "connection dropped"; "conn" => conn.id, "error" => %e);
        }
        let err = error.unwrap_or_else(|| {
            Error::new(
                ErrorKind::ChannelClosed,
                ErrorLevel::Ignore,
                "connection closed",
            )
        });
        for qid in &conn.waiters {
            self.tell_api(ApiCommand::Fail(*qid, err.clone()));
        }
        self.addresses.retain(|_, k| *k != key);
        let peer = match &conn.state {
            ConnState::Open(open) => Some(open.peer.clone()),
            _ => None,
        };
        if let Err(e) = conn.close() {
            slog::warn!(self.logger, "connection services ended with an error"; "error" => %e);
        }
        if let Some(peer) = peer {
            // Two nodes that dial each other at once have two connections:
            // the peer stays online through the other one.
            let other = self.conns.iter().find_map(|(k, c)| match &c.state {
                ConnState::Open(o) if o.peer.get_id() == peer.get_id() => Some(k),
                _ => None,
            });
            if let (Some(k), Some(entry)) = (other, self.peers.get_mut(peer.get_id())) {
                entry.conn = k;
            } else if matches!(self.peers.get(peer.get_id()), Some(p) if p.conn == key) {
                self.peers.remove(peer.get_id());
                self.route.remove(peer.get_id());
                slog::debug!(self.logger, "peer offline"; "peer" => %peer.get_id());
                self.check_watchers();
                self.tell_peer_mgmt(PeerMgmtCommand::PeerOffline(peer.clone()));
                self.tell_global(GlobalCommand::PeerStatus(peer, PeerStatus::Offline));
            }
        }
    }

    fn on_command(&mut self, cmd: MainLoopCommand<C>) {
        match cmd {
            MainLoopCommand::Api {
                qid,
                slot,
                timeout,
                action,
            } => {
                let deadline = Instant::now() + timeout;
                self.tell_api(ApiCommand::Register {
                    qid,
                    slot,
                    deadline,
                });
                self.on_api(qid, deadline, action);
            }
            MainLoopCommand::Reply(reply) => self.route(reply),
            MainLoopCommand::ConnectionEnded { conn, error } => {
                if matches!(self.conns.get(conn.key), Some(c) if c.id == conn.id) {
                    self.drop_conn(conn.key, error);
                }
            }
            MainLoopCommand::Wire(from, msg) => self.on_wire(from, msg),
            MainLoopCommand::PeerStore(replies) => {
                replies.into_iter().for_each(|r| self.on_peer_store(r))
            }
            MainLoopCommand::Verdict { conn, verdict } => self.on_verdict(conn, verdict),
            MainLoopCommand::Opened(opened) => self.on_opened(*opened),
            MainLoopCommand::ConnectFailed { qid, error } => {
                if let Some(qid) = qid {
                    self.tell_api(ApiCommand::Fail(qid, error));
                }
            }
            MainLoopCommand::Stop => self.running = false,
        }
    }

    fn on_api(&mut self, qid: QueryId, deadline: Instant, action: ApiAction<C>) {
        match action {
            ApiAction::Global(cmd) => self.tell_global(GlobalCommand::Api(qid, cmd)),
            ApiAction::FindPeer(id) => {
                let conf = QueryConf {
                    timeout: deadline.saturating_duration_since(Instant::now()),
                    ..QueryConf::default()
                };
                self.tell_peer_store(PeerStoreCommand::Find(qid, id, conf));
            }
            ApiAction::ConnectedPeers => {
                let peers = self.connected_infos();
                self.tell_api(ApiCommand::Reply(qid, ApiResult::Peers(peers)));
            }
            ApiAction::Connect(address) => self.connect(qid, address),
            ApiAction::Disconnect(id) => {
                // Every connection to the peer (two for a moment after a
                // simultaneous dial): it goes offline once the last closes.
                let keys: Vec<usize> = self
                    .conns
                    .iter()
                    .filter(
                        |(_, c)| matches!(&c.state, ConnState::Open(o) if o.peer.get_id() == &id),
                    )
                    .map(|(k, _)| k)
                    .collect();
                let peer = self.peers.get(&id).map(|p| info_of(&*p.info).clone());
                for key in keys {
                    self.drop_conn(key, None);
                }
                self.tell_api(ApiCommand::Reply(qid, ApiResult::Peer(peer)));
            }
            ApiAction::Stats => {
                let open_connections = self
                    .conns
                    .iter()
                    .filter(|(_, c)| matches!(c.state, ConnState::Open(_)))
                    .count();
                let stats = NodeStats {
                    open_connections,
                    ..self.stats
                };
                self.tell_api(ApiCommand::Reply(qid, ApiResult::Stats(stats)));
            }
            ApiAction::WaitPeers(count) => {
                if self.watchers.len() >= self.constants.max_pending_queries {
                    let e = Error::new(ErrorKind::TooLarge, ErrorLevel::Ignore, "too many waits");
                    return self.tell_api(ApiCommand::Fail(qid, e));
                }
                self.watchers.push(Watcher {
                    qid,
                    count,
                    deadline,
                });
                self.check_watchers();
            }
        }
    }

    /// Answers the waits whose peer count is reached; forgets expired ones
    /// (the api service has failed them).
    fn check_watchers(&mut self) {
        if self.watchers.is_empty() {
            return;
        }
        let n = self.peers.len();
        let now = Instant::now();
        let mut done = Vec::new();
        self.watchers.retain(|w| {
            if w.count.holds(n) {
                done.push(w.qid);
                false
            } else {
                w.deadline > now
            }
        });
        for qid in done {
            let peers = self.connected_infos();
            self.tell_api(ApiCommand::Reply(qid, ApiResult::Peers(peers)));
        }
    }

    /// The connected peers, as the api gives them to the application.
    fn connected_infos(&self) -> Vec<PeerInfo> {
        let infos = self.peers.values().map(|p| info_of(&*p.info).clone());
        infos.collect()
    }

    fn connect(&mut self, qid: QueryId, address: Address<C>) {
        match self.dial(address, Some(qid)) {
            // A connector thread answers.
            Ok(None) => {}
            Ok(Some(key)) => match self.conns.get_mut(key) {
                Some(conn) => match &conn.state {
                    ConnState::Open(open) => {
                        let peer = info_of(&*open.peer).clone();
                        self.tell_api(ApiCommand::Reply(qid, ApiResult::Peer(Some(peer))));
                    }
                    _ => conn.waiters.push(qid),
                },
                None => {
                    let e = Error::new(ErrorKind::Auth, ErrorLevel::Ignore, "connection failed");
                    self.tell_api(ApiCommand::Fail(qid, e));
                }
            },
            Err(e) => self.tell_api(ApiCommand::Fail(qid, e)),
        }
    }

    /// The connection to `address`: the one open or opening, or a new one;
    /// `None` when a connector thread opens it (blocking transports), which
    /// answers `qid`.
    fn dial(&mut self, address: Address<C>, qid: Option<QueryId>) -> Result<Option<usize>> {
        if let Some(&key) = self.addresses.get(&address) {
            if self.conns.contains(key) {
                return Ok(Some(key));
            }
        }
        if self.listener.is_some() {
            self.connectors.retain(|j| !j.is_finished());
            if self.connectors.len() >= self.constants.max_connections {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    ErrorLevel::Ignore,
                    "too many connections opening",
                ));
            }
            let ctx = AuthCtx {
                transport: self.transport.clone(),
                me: self.me.clone(),
                enc: self.enc.clone(),
                constants: self.constants.clone(),
                sender: self.sender.clone(),
                logger: self.logger.clone(),
            };
            self.connectors
                .push(blocking::spawn_connector(ctx, address, qid)?);
            return Ok(None);
        }
        let c = self.transport.connect_with(&address)?;
        let read = c.read.ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                ErrorLevel::ShutDown,
                "transport gave no read half",
            )
        })?;
        let ephemeral = match self.spare_key.take() {
            Some(key) => key,
            None => EphemeralKey::generate()?,
        };
        let (handshake, ping) = Handshake::initiate_with(
            self.me.clone(),
            None,
            self.constants.auth_timeout,
            Instant::now(),
            ephemeral,
            (self.constants.auth_mode, self.constants.cipher_suite),
        )?;
        let mut writer = FrameWriter::new(self.constants.max_frame);
        writer.push_msg(&self.enc, &crate::auth::AuthMessage::Ping(ping))?;
        self.add_conn(read, c.write, handshake, writer, true, Some(address))
            .map(Some)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::TooLarge,
                    ErrorLevel::Ignore,
                    "connection refused locally",
                )
            })
    }

    /// Sends to `peer`, connecting to it first when it is not connected.
    fn send_to_peer(&mut self, peer: &PeerInfo, msg: WireMessage<C::ProtoMsg>) {
        if self.peers.contains_key(peer.get_id()) {
            return self.send_to(peer.get_id(), msg);
        }
        let Ok(address) = peer.get_address().parse::<Address<C>>() else {
            slog::warn!(self.logger, "peer address does not parse"; "peer" => %peer.get_id());
            return;
        };
        match self.dial(address, None) {
            Ok(Some(key)) => self.send_on(key, msg),
            Ok(None) => {
                slog::debug!(self.logger, "message dropped while its peer connects"; "peer" => %peer.get_id())
            }
            Err(e) => {
                slog::warn!(self.logger, "cannot reach peer"; "peer" => %peer.get_id(), "error" => %e)
            }
        }
    }

    /// Carries out a local or global service's reply.
    fn route(&mut self, reply: Reply<C>) {
        match reply {
            Reply::None => {}
            Reply::Api(qid, r) => self.tell_api(ApiCommand::Reply(qid, ApiResult::App(r))),
            Reply::Global(from, msg) => self.tell_global(GlobalCommand::Distant(from, msg)),
            Reply::Many(replies) => replies.into_iter().for_each(|r| self.route(r)),
            Reply::Send(to, msg) => self.send_to(&to, WireMessage::App(msg)),
        }
    }

    fn send_to(&mut self, to: &PeerId, msg: WireMessage<C::ProtoMsg>) {
        match self.peers.get(to).map(|p| p.conn) {
            Some(key) => self.send_on(key, msg),
            None => {
                slog::warn!(self.logger, "message for a peer that is not connected dropped"; "peer" => %to)
            }
        }
    }

    /// Sends on connection `key`, or keeps the message until it is
    /// authenticated.
    fn send_on(&mut self, key: usize, msg: WireMessage<C::ProtoMsg>) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let res = match &mut conn.state {
            ConnState::Open(open) => {
                if open.outbox.is_empty() {
                    self.outboxes.push(key);
                }
                open.outbox.push(msg);
                if open.outbox.len() >= self.constants.pending_per_peer {
                    let batch = std::mem::take(&mut open.outbox);
                    open.write.send(WriteCommand::Batch(batch))
                } else {
                    Ok(())
                }
            }
            _ if conn.pending.len() < self.constants.pending_per_peer => {
                conn.pending.push_back(msg);
                Ok(())
            }
            _ => Err(Error::new(
                ErrorKind::ChannelFull,
                ErrorLevel::Ignore,
                "too many messages waiting for authentication",
            )),
        };
        if let Err(e) = res {
            if e.level() == ErrorLevel::Ignore {
                slog::warn!(self.logger, "message dropped"; "conn" => key, "error" => %e);
            } else {
                self.drop_conn(key, Some(e));
            }
        }
    }

    /// A node-level message from a peer.
    fn on_wire(&mut self, from: C::PeerRef, msg: WireMessage<C::ProtoMsg>) {
        match msg {
            // The peer store keeps its own copies (its route is shared
            // with the loop across threads).
            WireMessage::PeerStore(m) => {
                let from = info_of(&*from).clone();
                self.tell_peer_store(PeerStoreCommand::Received(from, *m))
            }
            // Read services give application messages to local services.
            WireMessage::App(_) => {}
        }
    }

    /// Peers connected, plus connections still authenticating.
    fn reached(&self) -> usize {
        let opening = self
            .conns
            .iter()
            .filter(|(_, c)| !matches!(c.state, ConnState::Open(_)))
            .count();
        self.peers.len() + opening
    }

    /// Discovery: with fewer connected peers than the pool size, ask the
    /// peer store for peers near a random id (a random sample of the peers
    /// the connected peers know); the answer is dialled in
    /// [`Self::on_discovered`].
    fn discover(&mut self) {
        let wanted = self.constants.pool_size;
        if wanted == 0 || self.peers.len() >= wanted || self.peers.is_empty() {
            return;
        }
        let conf = QueryConf {
            mode: QueryMode::AProxy,
            // The connected peers answer from their stores.
            hops: 1,
            forward: 2,
            // Ask for many: the first ones may all be connected already.
            nb_result: MAX_DISCOVERED,
            timeout: self.constants.refresh,
        };
        let near = random_id();
        self.tell_peer_store(PeerStoreCommand::FindNear(DISCOVERY_QUERY, near, conf));
    }

    /// Dials the peers a discovery find returned, while below the pool
    /// size.
    fn on_discovered(&mut self, found: Vec<PeerInfo>) {
        self.stats.discovery_finds += 1;
        for peer in found {
            if self.reached() >= self.constants.pool_size {
                return;
            }
            if peer.get_id() == self.me.info().get_id() || self.peers.contains_key(peer.get_id()) {
                continue;
            }
            let Ok(address) = peer.get_address().parse::<Address<C>>() else {
                continue;
            };
            if self.addresses.contains_key(&address) {
                continue; // opening already
            }
            match self.dial(address, None) {
                Ok(_) => self.stats.discovery_dials += 1,
                Err(e) => {
                    slog::debug!(self.logger, "discovered peer unreachable"; "error" => %e)
                }
            }
        }
    }

    /// What the peer store asks.
    fn on_peer_store(&mut self, reply: PeerStoreReply) {
        match reply {
            KVStoreReply::Forward(peers, msg) => {
                for p in &peers {
                    self.send_to_peer(p, WireMessage::PeerStore(Box::new(msg.clone())));
                }
            }
            KVStoreReply::Reply(p, msg) => {
                self.send_to_peer(&p, WireMessage::PeerStore(Box::new(msg)))
            }
            KVStoreReply::FoundApi(qid, found)
            | KVStoreReply::Expired {
                api: qid, found, ..
            } => {
                if qid == DISCOVERY_QUERY {
                    self.on_discovered(found);
                } else if qid != NO_QUERY {
                    let peer = found.into_iter().next();
                    self.tell_api(ApiCommand::Reply(qid, ApiResult::Peer(peer)));
                }
            }
            KVStoreReply::Done(..) => {}
            KVStoreReply::Failed(qid, e) => {
                slog::warn!(self.logger, "peer store refused a peer"; "error" => %e);
                if qid != NO_QUERY {
                    self.tell_api(ApiCommand::Fail(qid, e));
                }
            }
        }
    }

    fn tell_peer_store(&mut self, cmd: PeerStoreCommand) {
        if let Err(e) = self.peer_store.send(cmd) {
            slog::error!(self.logger, "peer store refused a command"; "error" => %e);
        }
        if let Some(e) = self.peer_store.take_error() {
            slog::error!(self.logger, "peer store failed"; "error" => %e);
        }
    }

    fn tell_api(&mut self, cmd: ApiCommand<C>) {
        if let Err(e) = self.api.send(cmd) {
            slog::error!(self.logger, "api service failed"; "error" => %e);
        }
        if let Some(e) = self.api.take_error() {
            slog::error!(self.logger, "api service ended"; "error" => %e);
        }
    }

    fn tell_global(&mut self, cmd: GlobalCommand<C>) {
        if let Err(e) = self.global.send(cmd) {
            slog::error!(self.logger, "global service refused a command"; "error" => %e);
        }
        if let Some(e) = self.global.take_error() {
            slog::error!(self.logger, "global service failed"; "error" => %e);
        }
        if self.global.is_gone() {
            self.restart_global();
        }
    }

    /// A global service whose thread died lost its state: a new one is
    /// made from the configuration (the command that killed it is lost).
    fn restart_global(&mut self) {
        let slot = self.conf.init_global(self.me.info()).and_then(|g| {
            ServiceSlot::new(
                g,
                self.sender.clone(),
                self.conf.global_spawner()?,
                self.conf.global_channel(),
                self.constants.loops.global,
            )
        });
        match slot {
            Ok(slot) => {
                slog::warn!(self.logger, "global service restarted");
                self.global = slot;
            }
            Err(e) => {
                slog::error!(self.logger, "global service cannot restart: node stops"; "error" => %e);
                self.running = false;
            }
        }
    }

    /// Stops every connection and service, joining their threads.
    fn shutdown(mut self) -> Result<()> {
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            let err = Error::new(ErrorKind::ChannelClosed, ErrorLevel::Ignore, "node stopped");
            self.drop_conn(key, Some(err));
        }
        // Commands the services sent while stopping.
        while let Ok(Some(cmd)) = self.rx.recv() {
            if let MainLoopCommandSend::Api { slot, .. } = cmd {
                slot.fail(Error::new(
                    ErrorKind::ChannelClosed,
                    ErrorLevel::Ignore,
                    "node stopped",
                ));
            }
        }
        let g = self.global.stop();
        let p = self.peer_store.stop();
        let m = self.peer_mgmt.stop();
        let a = self.api.stop();
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
        g.and(p).and(m).and(a)
    }
}

/// A random peer id: where a discovery find looks (std's per-process
/// random hasher keys, drawn anew each call).
fn random_id() -> PeerId {
    let mut id = [0u8; 32];
    for chunk in id.chunks_mut(8) {
        let r = std::collections::hash_map::RandomState::new().hash_one(0u8);
        chunk.copy_from_slice(&r.to_le_bytes());
    }
    PeerId::from(id)
}
