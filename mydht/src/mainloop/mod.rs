//! The main loop: the node's event loop, on mio 1.x.
//!
//! It owns the `Poll` (one `Waker` for commands from other threads, the
//! listener, and each connection registered once for both directions), a
//! `Slab` of connections, the peer cache (connected peers by id), the
//! address cache (connections by address), the challenge cache and the
//! timers (authentication deadlines, query expiry).
//!
//! A connection is authenticated by the main loop itself (three small
//! frames, see [`Handshake`](crate::auth::Handshake)); then its read and
//! write services are spawned with the session shadow, and readiness only
//! wakes them. Messages for a peer wait in its connection until it is
//! authenticated. Every service answer comes back here as a
//! [`MainLoopCommand`] and is routed: to the api service, to a write
//! service, to the global service.

mod command;
mod connection;
mod handle;

pub use command::{ApiAction, ConnRef, MainLoopCommand, MainLoopSender, PeerCount, ToMainLoop};
pub use handle::{start_loop, NodeHandle};

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token, Waker};
use mydht_base::service::channel::{MpscChannel, MpscRecv};
use mydht_base::{
    Error, ErrorKind, ErrorLevel, NoChannel, NoSend, Peer, Registerable, Result, SpawnChannel,
    SpawnRecv, Transport,
};
use readwrite_comp::{CompR, CompW};
use slab::Slab;

use crate::auth::{Authenticated, ChallengeCache, Handshake};
use crate::conf::{Address, MyDHTConf, NodeConstants, PeerVerdict};
use crate::frame::{FrameReader, FrameWriter};
use crate::identity::{LocalPeer, PeerId, PeerInfo};
use crate::service::{
    ApiCommand, ApiResult, ApiService, GlobalCommand, PeerStatus, QueryId, ReadCommand,
    ReadService, Reply, ServiceSlot, WireMessage, WriteCommand, WriteService,
};
use crate::shadow::Shadow;
use connection::{ConnState, Connection, Handshaking, Open};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// Tokens below this are the listener's and the waker's.
const FIRST_CONN: usize = 2;
/// How often pending queries are checked for expiry.
const QUERY_TICK: Duration = Duration::from_millis(100);
/// Commands handled per loop turn before polling again, so readiness is
/// never starved by a busy channel.
const COMMANDS_PER_TURN: usize = 1024;

type GlobalSlot<C> = ServiceSlot<
    <C as MyDHTConf>::GlobalService,
    MainLoopSender<C>,
    <C as MyDHTConf>::GlobalSpawn,
    <C as MyDHTConf>::GlobalChannel,
>;
type ApiSlot<C> =
    ServiceSlot<ApiService<C>, NoSend, <C as MyDHTConf>::ApiSpawn, <C as MyDHTConf>::ApiChannel>;

/// A connected peer of the peer cache.
struct PeerEntry {
    info: PeerInfo,
    conn: usize,
}

/// A query waiting for a number of connected peers.
struct Watcher {
    qid: QueryId,
    count: PeerCount,
    deadline: Instant,
}

/// The node's event loop; built and run on its own thread by
/// [`start_loop`].
pub struct MainLoop<C: MyDHTConf> {
    conf: C,
    constants: NodeConstants,
    logger: slog::Logger,
    poll: Poll,
    transport: C::Transport,
    me: Arc<LocalPeer>,
    enc: C::MsgEnc,
    shadow: C::Shadow,
    rx: MpscRecv<MainLoopCommand<C>>,
    sender: MainLoopSender<C>,
    conns: Slab<Connection<C>>,
    next_conn_id: u64,
    peers: HashMap<PeerId, PeerEntry>,
    addresses: HashMap<Address<C>, usize>,
    challenges: ChallengeCache,
    global: GlobalSlot<C>,
    api: ApiSlot<C>,
    /// Queries waiting for a number of connected peers.
    watchers: Vec<Watcher>,
    next_tick: Instant,
    running: bool,
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
        if !transport.register(poll.registry(), LISTENER.0)? {
            return Err(Error::new(
                ErrorKind::Config,
                ErrorLevel::Fatal,
                "the main loop needs a pollable transport",
            ));
        }
        let address = transport.local_address()?.to_string();
        let me = Arc::new(LocalPeer::new(conf.init_identity()?, address)?);
        let (send, rx) = MpscChannel::new(constants.mainloop_channel).new_channel()?;
        let sender = MainLoopSender::new(send, waker, conf.services_on_threads());
        let global = ServiceSlot::new(
            conf.init_global(me.info())?,
            sender.clone(),
            conf.global_spawner()?,
            conf.global_channel(),
            constants.nb_loop,
        )?;
        let api = ServiceSlot::new(
            ApiService::new(constants.max_pending_queries),
            NoSend,
            conf.api_spawner()?,
            conf.api_channel(),
            constants.nb_loop,
        )?;
        slog::info!(logger, "node started"; "id" => %me.info().get_id(), "address" => me.info().get_address());
        Ok(MainLoop {
            enc: conf.init_msg_enc(),
            shadow: conf.init_shadow(),
            challenges: ChallengeCache::new(constants.challenge_cache, constants.auth_timeout * 2),
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
            next_tick: Instant::now() + QUERY_TICK,
            running: true,
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
        let mut busy = false;
        while self.running {
            let timeout = if busy {
                Duration::ZERO
            } else {
                self.next_timeout()
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    slog::error!(self.logger, "poll failed"; "error" => %e);
                    break;
                }
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    WAKER => {}
                    Token(t) => {
                        self.on_ready(t - FIRST_CONN, event.is_readable(), event.is_writable())
                    }
                }
            }
            busy = self.drain_commands();
            self.on_timers();
        }
        self.shutdown()
    }

    fn next_timeout(&self) -> Duration {
        let now = Instant::now();
        let mut next = self.next_tick;
        for (_, c) in self.conns.iter() {
            if matches!(c.state, ConnState::Handshaking(_)) && c.deadline < next {
                next = c.deadline;
            }
        }
        next.saturating_duration_since(now)
    }

    /// True when commands are left for the next turn.
    fn drain_commands(&mut self) -> bool {
        for _ in 0..COMMANDS_PER_TURN {
            match self.rx.recv() {
                Ok(Some(cmd)) => self.on_command(cmd),
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
        let late: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| matches!(c.state, ConnState::Handshaking(_)) && c.deadline <= now)
            .map(|(k, _)| k)
            .collect();
        for key in late {
            let err = Error::new(
                ErrorKind::Timeout,
                ErrorLevel::ShutDown,
                "authentication timed out",
            );
            self.drop_conn(key, Some(err));
        }
    }

    /// A global service whose loop failed is restarted on its next command;
    /// its error is logged here.
    fn check_global(&mut self) {
        if self.global.is_finished() {
            if let Some(e) = self.global.take_error() {
                slog::error!(self.logger, "global service failed"; "error" => %e);
            }
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
                    let handshake = Handshake::respond(
                        self.me.clone(),
                        self.constants.auth_timeout,
                        Instant::now(),
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
                reader: FrameReader::new(self.constants.max_frame),
                writer,
                connecting,
            })),
            pending: VecDeque::new(),
            waiters: Vec::new(),
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
            ConnState::Handshaking(hs) => hs.drive(&self.enc, &mut self.challenges, Instant::now()),
            ConnState::Switching => Ok(None),
        };
        match res {
            Ok(None) => {}
            Ok(Some(auth)) => self.on_authenticated(key, auth),
            Err(e) => self.drop_conn(key, Some(e)),
        }
    }

    /// Spawns the services of a newly authenticated connection and sends
    /// what waited for it.
    fn on_authenticated(&mut self, key: usize, auth: Authenticated) {
        let peer = auth.peer.clone();
        if peer.get_id() == self.me.info().get_id() {
            let e = Error::new(ErrorKind::Auth, ErrorLevel::ShutDown, "connected to itself");
            return self.drop_conn(key, Some(e));
        }
        if self.conf.accept_peer(self.me.info(), &peer) == PeerVerdict::Reject {
            slog::info!(self.logger, "peer rejected"; "peer" => %peer.get_id());
            let e = Error::new(ErrorKind::Auth, ErrorLevel::ShutDown, "peer rejected");
            return self.drop_conn(key, Some(e));
        }
        match self.open(key, auth) {
            Ok(()) => {}
            Err(e) => return self.drop_conn(key, Some(e)),
        }
        slog::debug!(self.logger, "peer online"; "peer" => %peer.get_id());
        if let Ok(addr) = peer.get_address().parse::<Address<C>>() {
            self.addresses.insert(addr, key);
        }
        self.peers.insert(
            *peer.get_id(),
            PeerEntry {
                info: peer.clone(),
                conn: key,
            },
        );
        if let Some(conn) = self.conns.get_mut(key) {
            let waiters = std::mem::take(&mut conn.waiters);
            for qid in waiters {
                self.tell_api(ApiCommand::Reply(qid, ApiResult::Peer(Some(peer.clone()))));
            }
        }
        self.check_watchers();
        self.tell_global(GlobalCommand::PeerStatus(peer, PeerStatus::Online));
    }

    fn open(&mut self, key: usize, auth: Authenticated) -> Result<()> {
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
        let ConnState::Handshaking(hs) = std::mem::replace(&mut conn.state, ConnState::Switching)
        else {
            return Err(Error::new(
                ErrorKind::Other,
                ErrorLevel::ShutDown,
                "connection is not authenticating",
            ));
        };
        let Handshaking {
            read,
            write,
            writer: preamble,
            ..
        } = *hs;
        let Authenticated { peer, keys } = auth;
        let read_stream = CompR::new(read, self.shadow.reader(&keys)?);
        let write_stream = CompW::new(write, self.shadow.writer(&keys)?);
        let local = ServiceSlot::new(
            self.conf.init_local(self.me.info(), &peer)?,
            self.sender.clone(),
            self.conf.local_spawner()?,
            self.conf.local_channel(),
            self.constants.nb_loop,
        )?;
        let reader = ReadService::new(
            cref,
            peer.clone(),
            read_stream,
            self.constants.max_frame,
            self.enc.clone(),
            local,
            self.logger.clone(),
        );
        let flush_first = preamble.pending() > 0;
        let writer = WriteService::new(
            cref,
            write_stream,
            preamble,
            self.constants.max_frame,
            self.enc.clone(),
            self.logger.clone(),
        );
        let mut read = ServiceSlot::new(
            reader,
            self.sender.clone(),
            self.conf.read_spawner()?,
            NoChannel,
            0,
        )?;
        let mut write = ServiceSlot::new(
            writer,
            self.sender.clone(),
            self.conf.write_spawner()?,
            self.conf.write_channel(),
            self.constants.nb_loop,
        )?;
        if flush_first {
            write.start(Some(WriteCommand::Flush))?;
        }
        for msg in conn.pending.drain(..) {
            write.send(WriteCommand::Send(msg))?;
        }
        read.start(Some(ReadCommand::Run))?;
        conn.state = ConnState::Open(Box::new(Open { peer, read, write }));
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
            if matches!(self.peers.get(peer.get_id()), Some(p) if p.conn == key) {
                self.peers.remove(peer.get_id());
                slog::debug!(self.logger, "peer offline"; "peer" => %peer.get_id());
                self.check_watchers();
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
            MainLoopCommand::Stop => self.running = false,
        }
    }

    fn on_api(&mut self, qid: QueryId, deadline: Instant, action: ApiAction<C>) {
        match action {
            ApiAction::Global(cmd) => self.tell_global(GlobalCommand::Api(qid, cmd)),
            ApiAction::FindPeer(id) => {
                let found = self.peers.get(&id).map(|p| p.info.clone());
                self.tell_api(ApiCommand::Reply(qid, ApiResult::Peer(found)));
            }
            ApiAction::ConnectedPeers => {
                let peers = self.peers.values().map(|p| p.info.clone()).collect();
                self.tell_api(ApiCommand::Reply(qid, ApiResult::Peers(peers)));
            }
            ApiAction::Connect(address) => self.connect(qid, address),
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
            let peers = self.peers.values().map(|p| p.info.clone()).collect();
            self.tell_api(ApiCommand::Reply(qid, ApiResult::Peers(peers)));
        }
    }

    fn connect(&mut self, qid: QueryId, address: Address<C>) {
        if let Some(&key) = self.addresses.get(&address) {
            if let Some(conn) = self.conns.get_mut(key) {
                match &conn.state {
                    ConnState::Open(open) => {
                        let peer = open.peer.clone();
                        self.tell_api(ApiCommand::Reply(qid, ApiResult::Peer(Some(peer))));
                    }
                    _ => conn.waiters.push(qid),
                }
                return;
            }
        }
        let res = self.transport.connect_with(&address).and_then(|c| {
            let read = c.read.ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    ErrorLevel::ShutDown,
                    "transport gave no read half",
                )
            })?;
            let (handshake, ping) = Handshake::initiate(
                self.me.clone(),
                None,
                self.constants.auth_timeout,
                Instant::now(),
            )?;
            let mut writer = FrameWriter::new(self.constants.max_frame);
            writer.push_msg(&self.enc, &crate::auth::AuthMessage::Ping(ping))?;
            Ok((read, c.write, handshake, writer))
        });
        match res {
            Ok((read, write, handshake, writer)) => {
                match self.add_conn(read, write, handshake, writer, true, Some(address)) {
                    Some(key) => {
                        if let Some(conn) = self.conns.get_mut(key) {
                            match &conn.state {
                                ConnState::Open(open) => {
                                    let peer = open.peer.clone();
                                    self.tell_api(ApiCommand::Reply(
                                        qid,
                                        ApiResult::Peer(Some(peer)),
                                    ));
                                }
                                _ => conn.waiters.push(qid),
                            }
                        } else {
                            let e = Error::new(
                                ErrorKind::Auth,
                                ErrorLevel::Ignore,
                                "connection failed",
                            );
                            self.tell_api(ApiCommand::Fail(qid, e));
                        }
                    }
                    None => {
                        let e = Error::new(
                            ErrorKind::TooLarge,
                            ErrorLevel::Ignore,
                            "connection refused locally",
                        );
                        self.tell_api(ApiCommand::Fail(qid, e));
                    }
                }
            }
            Err(e) => self.tell_api(ApiCommand::Fail(qid, e)),
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
        let Some(key) = self.peers.get(to).map(|p| p.conn) else {
            slog::warn!(self.logger, "message for a peer that is not connected dropped"; "peer" => %to);
            return;
        };
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let res = match &mut conn.state {
            ConnState::Open(open) => open.write.send(WriteCommand::Send(msg)),
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
                slog::warn!(self.logger, "message dropped"; "peer" => %to, "error" => %e);
            } else {
                self.drop_conn(key, Some(e));
            }
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
            if let MainLoopCommand::Api { slot, .. } = cmd {
                slot.fail(Error::new(
                    ErrorKind::ChannelClosed,
                    ErrorLevel::Ignore,
                    "node stopped",
                ));
            }
        }
        let g = self.global.stop();
        let a = self.api.stop();
        if let Err(e) = self.transport.deregister(self.poll.registry()) {
            slog::debug!(self.logger, "listener deregistration failed"; "error" => %e);
        }
        slog::info!(self.logger, "node stopped");
        g.and(a)
    }
}
