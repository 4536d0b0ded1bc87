//! [`NodeCore`]: every decision of a node's main loop, as a deterministic
//! state machine.
//!
//! The core holds no socket, no thread and no clock: events come in with
//! the current time (a connection accepted or dialled, a handshake frame, a
//! service's command, a verdict, the time passing), and the core answers
//! with [`Action`]s (dial, send a handshake frame, open or close a
//! connection, deliver to a service, answer the api, restart a service)
//! and with its next deadline ([`NodeCore::poll_timeout`]). A driver — the
//! mio driver of [`crate::driver`], or a simulated network in tests —
//! carries the actions out and feeds the events in. The same events in the
//! same order give the same actions.
//!
//! What it decides, a file each: the handshake of each connection
//! (`handshake`), peer management verdicts and admission (`verdict`), the
//! tie-break between two connections to one peer (`duplicate`), routing of
//! service replies and messages (`routing`), api queries (`api`),
//! discovery (`discovery`), timers (`timers`), the connections and what is
//! dropped with them (`conn`).

mod action;
mod api;
mod conn;
mod connections;
mod deadlines;
mod discovery;
mod duplicate;
mod expiry;
mod handshake;
mod idle;
mod routing;
mod spare_key;
mod timers;
mod verdict;

pub use action::{Action, ServiceKind};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use mydht_base::{Error, ErrorLevel, Peer};

use crate::auth::{Authenticated, ChallengeCache};
use crate::command::{ConnRef, DialId, MainLoopCommand, NodeStats};
use crate::conf::{Address, GlobalTick, MyDHTConf, NodeConstants, PeerVerdict};
use crate::frame::WireMessage;
use crate::identity::{LocalPeer, PeerId, PeerInfo};
use crate::service::peer_store::{ConnectedRoute, PeerStoreCommand};
use crate::service::{ApiCommand, GlobalCommand, PeersView, QueryId};
use conn::{ConnKind, CoreConn, Dial};
use spare_key::SpareKey;
use timers::Timers;

/// A connected peer.
struct PeerEntry<C: MyDHTConf> {
    peer: C::PeerRef,
    /// The key of its connection.
    conn: usize,
    /// Its peer management priority.
    priority: u8,
}

/// The node's decisions (see the [module documentation](self)).
pub struct NodeCore<C: MyDHTConf> {
    me: Arc<LocalPeer>,
    constants: NodeConstants,
    enc: C::MsgEnc,
    logger: slog::Logger,
    /// Connections by the driver's key.
    conns: BTreeMap<usize, CoreConn<C>>,
    /// Their deadlines in time order.
    deadlines: deadlines::Deadlines,
    /// Online pooled connections' idle checks in time order
    /// (`NodeConstants::idle_close`).
    idle: deadlines::Deadlines,
    next_conn_id: u64,
    /// Dials asked of the driver and not answered yet.
    dials: BTreeMap<DialId, Dial<C>>,
    /// The pooled dials of `dials` by address.
    pooled_dials: HashMap<Address<C>, DialId>,
    /// Send-once connections and dials: how many of `conns` and `dials`
    /// are of kind `ConnKind::Once`.
    once_count: usize,
    next_dial: u64,
    /// Connected peers.
    peers: BTreeMap<PeerId, PeerEntry<C>>,
    /// Online connections of a peer other than its entry's, left open for
    /// the peer to close (two nodes that dialled each other at once, see
    /// `duplicate`): the peer stays online through one if its entry's
    /// closes first.
    superseded: HashMap<PeerId, Vec<usize>>,
    /// Connections by the address this node dialled (never by the address
    /// a peer announces: a peer could announce another node's).
    dialled: HashMap<Address<C>, usize>,
    challenges: ChallengeCache,
    spare_key: SpareKey,
    /// Connections holding early-built shadows.
    early_shadows: usize,
    /// Queries waiting for a number of connected peers.
    watchers: Vec<api::Watcher>,
    /// Connections with messages in their outbox, in the order they got
    /// their first.
    outboxes: Vec<usize>,
    /// The peer manager's verdict on every peer, when it does not depend
    /// on the peer: applied without asking peer management.
    fixed_verdict: Option<PeerVerdict>,
    route: ConnectedRoute,
    timers: Timers,
    /// The application's tick for its global service.
    global_tick: Option<GlobalTick<C>>,
    stats: NodeStats,
    /// Discovery's source of random ids.
    rng: u64,
    /// Discovery rounds services asked for, not answered yet.
    extra_rounds: u32,
    /// The online peers as the services read them.
    view: PeersView,
    actions: VecDeque<Action<C>>,
    /// Work left until the actions before it are carried out: (connection
    /// key, connection id, time of its event).
    deferred: VecDeque<(usize, u64, Instant)>,
    running: bool,
}

impl<C: MyDHTConf> NodeCore<C> {
    /// A core for the node `me`, started at `now`. `fixed_verdict` is the
    /// peer manager's, `route` the peer store's route (the core tells it
    /// who connects), `seed` the start of discovery's random ids.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        me: Arc<LocalPeer>,
        constants: NodeConstants,
        enc: C::MsgEnc,
        logger: slog::Logger,
        fixed_verdict: Option<PeerVerdict>,
        route: ConnectedRoute,
        now: Instant,
        seed: u64,
    ) -> Self {
        NodeCore {
            challenges: ChallengeCache::new(constants.challenge_cache, constants.auth_timeout * 2),
            timers: Timers::new(now, constants.refresh),
            me,
            constants,
            enc,
            logger,
            conns: BTreeMap::new(),
            deadlines: deadlines::Deadlines::default(),
            idle: deadlines::Deadlines::default(),
            next_conn_id: 0,
            dials: BTreeMap::new(),
            pooled_dials: HashMap::new(),
            once_count: 0,
            superseded: HashMap::new(),
            next_dial: 0,
            peers: BTreeMap::new(),
            dialled: HashMap::new(),
            spare_key: SpareKey::new(),
            early_shadows: 0,
            watchers: Vec::new(),
            outboxes: Vec::new(),
            fixed_verdict,
            route,
            global_tick: None,
            stats: NodeStats::default(),
            rng: seed,
            extra_rounds: 0,
            view: PeersView::default(),
            actions: VecDeque::new(),
            deferred: VecDeque::new(),
            running: true,
        }
    }

    /// Gives the global service `tick`'s command every period, the first
    /// one period after `now` ([`MyDHTConf::global_tick`]).
    pub fn set_global_tick(&mut self, tick: GlobalTick<C>, now: Instant) {
        self.timers.next_global = Some(now + tick.period());
        self.global_tick = Some(tick);
    }

    /// The node's own peer.
    pub fn local_peer(&self) -> &PeerInfo {
        self.me.info()
    }

    /// The node's constants.
    pub fn constants(&self) -> &NodeConstants {
        &self.constants
    }

    /// The next action for the driver. Work that can wait until the
    /// actions before it are carried out (a handshake's costly checks,
    /// once its frame is written) is done here, between two actions.
    pub fn poll_action(&mut self) -> Option<Action<C>> {
        loop {
            if let Some(action) = self.actions.pop_front() {
                return Some(action);
            }
            let (key, id, now) = self.deferred.pop_front()?;
            self.run_deferred(key, id, now);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Instant {
        let due = self.deadlines.earliest().into_iter();
        self.timers.next(due.chain(self.idle.earliest()))
    }

    /// False once the node stops (after the `Stop` action).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The online peers as services read them (kept by this core).
    pub fn peers_view(&self) -> &PeersView {
        &self.view
    }

    /// Peers connected now.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// The connection through which `peer` is online, if it is.
    pub fn online_conn(&self, peer: &PeerId) -> Option<usize> {
        self.peers.get(peer).map(|p| p.conn)
    }

    /// The connected peers.
    pub fn connected_peers(&self) -> Vec<PeerInfo> {
        let infos = self.peers.values().map(|p| info_of::<C>(&p.peer).clone());
        infos.collect()
    }

    /// The driver has nothing to do: work that may wait (the next
    /// handshake's ephemeral key, or the next known-key dial's exchange
    /// with a peer dialled lately) is done now, one piece per call.
    pub fn idle(&mut self) {
        self.spare_key.idle(self.challenges.known());
    }

    /// True when there is idle work ([`idle`](Self::idle)) to do.
    pub fn has_idle_work(&self) -> bool {
        self.spare_key.has_work()
    }

    /// A command from a service or the node handle. `Opened` is the
    /// driver's (it holds streams): give [`opened`](Self::opened) its
    /// parts instead.
    pub fn command(&mut self, cmd: MainLoopCommand<C>, now: Instant) {
        match cmd {
            MainLoopCommand::Api {
                qid,
                slot,
                timeout,
                action,
            } => {
                let deadline = now + timeout;
                self.tell_api(ApiCommand::Register {
                    qid,
                    slot,
                    deadline,
                });
                self.on_api(qid, deadline, action, now);
            }
            MainLoopCommand::Reply(reply) => self.route_reply(reply),
            MainLoopCommand::ConnectionEnded { conn, error } => {
                self.on_conn_ended(conn, error, now)
            }
            MainLoopCommand::Wire(from, msg) => self.on_wire(from, msg),
            MainLoopCommand::PeerStore(replies) => {
                for r in replies {
                    self.on_peer_store(r, now);
                }
            }
            MainLoopCommand::Verdict { conn, verdict } => self.on_verdict(conn, verdict, now),
            MainLoopCommand::Admitted(conn) => {
                self.on_admitted(conn);
                self.arm_idle(conn, now);
            }
            MainLoopCommand::Refused(conn) => self.on_refused(conn),
            MainLoopCommand::SendOnce(conn) => self.on_send_once(conn, now),
            MainLoopCommand::Opened(_) | MainLoopCommand::StreamReturned(_) => {
                slog::error!(self.logger, "a driver's command reached the core: dropped");
            }
            MainLoopCommand::ConnectFailed { dial, error } => self.dial_failed(dial, error),
            MainLoopCommand::Stop => self.stop(),
        }
    }

    /// A service of connection `cref` ended. A send-once connection this
    /// node dialled lingers after the first clean end (its write service's,
    /// once its message is out) until the other service's (its peer
    /// closed), at most the authentication timeout. Both ended cleanly: the
    /// read service read the peer's session end, sealed under the session
    /// keys, which confirms a send-once known-key flight (it gets no
    /// admission). Until then such a connection keeps its send-once
    /// deadline: the peer ends its session once done with the message, and
    /// drops it by that timeout at the latest, so only a peer that cannot
    /// seal it (that never held the keys) leaves it to expire, refused.
    fn on_conn_ended(&mut self, cref: ConnRef, error: Option<Error>, now: Instant) {
        let Some(conn) = self.conns.get_mut(&cref.key).filter(|c| c.id == cref.id) else {
            return;
        };
        if error.is_none() && conn.kind == ConnKind::Once && conn.is_open() {
            if !conn.half_ended {
                conn.half_ended = true;
                if !(conn.send_once_flight && conn.known_unconfirmed) {
                    conn.deadline = conn.deadline.min(now + self.constants.auth_timeout);
                    self.deadlines.push(conn.deadline, cref.key);
                }
                return;
            }
            if conn.known_unconfirmed && conn.send_once_flight {
                if let Some(peer) = conn.open_peer().map(|p| info_of::<C>(p).clone()) {
                    self.confirm_peer(cref.key, &peer);
                }
            }
        }
        self.drop_conn(cref.key, error);
    }

    /// Stops the node: every connection closed, then [`Action::Stop`].
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        let keys: Vec<usize> = self.conns.keys().copied().collect();
        for key in keys {
            self.drop_conn(key, Some(stopped()));
        }
        self.pooled_dials.clear();
        for (_, dial) in std::mem::take(&mut self.dials) {
            if dial.kind == ConnKind::Once {
                self.once_count -= 1;
            }
            for qid in dial.waiters {
                self.tell_api(ApiCommand::Fail(qid, stopped()));
            }
        }
        self.running = false;
        self.actions.push_back(Action::Stop);
    }

    /// A connection the driver authenticated itself (a blocking
    /// transport's listener or connector thread), stored under `key`;
    /// `dial` names the dial it answers, `None` for an inbound one.
    pub fn opened(&mut self, key: usize, dial: Option<DialId>, auth: Authenticated, now: Instant) {
        if self.new_conn(key, dial, now).is_some() {
            self.on_authenticated(key, auth, now);
        }
    }

    /// The peer manager was made anew: its verdict may no longer be fixed.
    pub fn set_fixed_verdict(&mut self, verdict: Option<PeerVerdict>) {
        self.fixed_verdict = verdict;
    }

    /// A service lost its state (its thread died) or could not take a
    /// command: log, and make it anew when its state is lost.
    pub fn service_failed(&mut self, service: ServiceKind, error: Error, state_lost: bool) {
        slog::error!(self.logger, "service failed"; "service" => ?service, "error" => %error);
        if state_lost {
            self.actions.push_back(Action::Restart(service));
        } else if error.level() >= ErrorLevel::Fatal {
            self.stop();
        }
    }

    /// A service could not be made anew: the node stops.
    pub fn restart_failed(&mut self, service: ServiceKind, error: Error) {
        slog::error!(self.logger, "service cannot restart: node stops"; "service" => ?service, "error" => %error);
        self.stop();
    }

    /// The end of a driver's turn: what this turn routed to each peer goes
    /// to its write service as one batch.
    pub fn end_turn(&mut self) {
        for key in std::mem::take(&mut self.outboxes) {
            let Some(outbox) = self.conns.get_mut(&key).and_then(CoreConn::outbox) else {
                continue;
            };
            let msgs = std::mem::take(outbox);
            if !msgs.is_empty() {
                self.actions.push_back(Action::Write { conn: key, msgs });
            }
        }
    }

    fn tell_api(&mut self, cmd: ApiCommand<C>) {
        self.actions.push_back(Action::Api(cmd));
    }

    fn tell_peer_store(&mut self, cmd: PeerStoreCommand) {
        self.actions.push_back(Action::PeerStore(Box::new(cmd)));
    }

    fn tell_global(&mut self, cmd: GlobalCommand<C>) {
        self.actions.push_back(Action::Global(cmd));
    }

    fn fail_query(&mut self, qid: QueryId, e: Error) {
        if qid != NO_QUERY {
            self.tell_api(ApiCommand::Fail(qid, e));
        }
    }

    /// A message for the peer's connection, kept until it opens.
    fn queue_msg(&mut self, key: usize, msg: WireMessage<C::ProtoMsg>) {
        routing::queue(self, key, msg);
    }

    /// True when `id` is this node.
    fn is_me(&self, id: &PeerId) -> bool {
        id == self.me.info().get_id()
    }
}

/// The api query id of the node's own peer store commands (the node
/// handle's ids start at 1).
pub(crate) const NO_QUERY: QueryId = 0;

/// The plain peer of a configuration's peer reference.
fn info_of<C: MyDHTConf>(peer: &C::PeerRef) -> &PeerInfo {
    crate::node_peer::info_of(&**peer)
}

fn stopped() -> Error {
    Error::new(
        mydht_base::ErrorKind::ChannelClosed,
        ErrorLevel::Ignore,
        "node stopped",
    )
}
