//! [`MyDHTConf`]: everything a node is made of, named in one place.
//!
//! A configuration names the components (transport, encoder, shadow, the
//! application's message, command and reply types, its local and global
//! services) and, per service, the spawner that runs it and the channel that
//! feeds it, and the peer type and peer reference the services share
//! ([`MyDHTConf::Peer`], [`MyDHTConf::PeerRef`]). The execution part is
//! long and always the same for a given way of running, so a profile macro
//! writes it: [`threaded!`](crate::threaded),
//! [`single_thread!`](crate::single_thread) or
//! [`restartable!`](crate::restartable). Switching a node from many threads
//! to one is changing that one line; mixing is an override in it (see
//! [`profile`](crate::profile)).

use std::fmt::{Debug, Display};
use std::ops::Deref;
use std::str::FromStr;
use std::time::Duration;

use mydht_base::service::channel::NoRecv;
use mydht_base::{
    MsgEnc, NoSend, Ref, Registerable, Result, SRef, Service, SpawnChannel, Spawner, Transport,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::auth::{AuthMode, CipherSuite};
use crate::command::MainLoopSender;
use crate::identity::{Identity, PeerInfo};
use crate::node_peer::NodePeer;
use crate::service::peer_store::{ClosestConnected, ConnectedRoute, PeerRoute};
use crate::service::peer_store::{PeerStoreCommand, PeerStoreService};
use crate::service::{
    AcceptAll, ApiCommand, ApiService, DirectWriter, GlobalCommand, GlobalDest, GlobalRecv,
    GlobalWay, GlobalWeakHandle, GlobalWeakSend, LocalCommand, LocalDest, PeerManager,
    PeerMgmtCommand, PeerMgmtService, PeersView, ReadService, Reply, WriteCommand, WriteService,
    WriteWeakHandle, WriteWeakSend,
};
use crate::shadow::Shadow;

/// The receiver of a channel kind `Ch` carrying `M`.
pub type ChannelRecv<Ch, M> = <Ch as SpawnChannel<M>>::Recv;

/// Sizes, bounds and timeouts of a node. Every queue and cache of the node
/// is bounded by one of these.
#[derive(Debug, Clone)]
pub struct NodeConstants {
    /// Capacity of the mio event buffer.
    pub events_capacity: usize,
    /// Most connections at once (accepted and connected).
    pub max_connections: usize,
    /// Largest frame accepted or sent, in bytes.
    pub max_frame: usize,
    /// A connection must authenticate within this time.
    pub auth_timeout: Duration,
    /// Whether connections prove their peers' identities: signed (the
    /// default) or [`AuthMode::NoAuth`], for tests and closed networks only.
    /// Both ends of a connection must use the same mode.
    pub auth_mode: AuthMode,
    /// The mode of send-once connections ([`Reply::SendOnce`]): the
    /// node's own (`auth_mode`, the default) or, when it differs,
    /// [`AuthMode::NoAuth`]: send-once connections this node dials skip
    /// the signatures, and it also accepts such connections from others
    /// as send-once connections only — never online, no peer management,
    /// their messages' [`LocalCommand::from`](crate::LocalCommand) being
    /// what the peer claims, not a proven identity. For applications that
    /// protect their messages themselves (onion tunnels).
    pub send_once_auth: AuthMode,
    /// Dial known-key (on by default): a dial to an address whose peer an
    /// earlier signed connection proved (and a later one confirmed) sends
    /// the one-message known-key handshake, its frames right behind it
    /// ([`auth::known`](crate::auth::known)), instead of the three-message
    /// signed one. Signed mode only. A node accepts known-key flights
    /// whatever this says, so nodes with it on and off interoperate.
    pub known_key: bool,
    /// The AEAD of the session shadow: ChaCha20-Poly1305 (the default) or
    /// AES-256-GCM (faster on CPUs with AES instructions). Both ends of a
    /// connection must use the same: the handshake refuses a peer with
    /// another ([`AuthError::SuiteMismatch`](crate::AuthError::SuiteMismatch)).
    pub cipher_suite: CipherSuite,
    /// Default time a query waits for its replies.
    pub query_timeout: Duration,
    /// Most pending api queries.
    pub max_pending_queries: usize,
    /// How long a synchronous caller (`NodeHandle::query`,
    /// `query_partial` and the other blocking calls, but `connect`,
    /// `connect_to`, `wait_peers` and `disconnect`, which wait for a
    /// handshake, a close or an event, never spin) spins for its replies
    /// before it sleeps, while its query is the only one outstanding in
    /// the process (`ReplySlot::with_spin`); `Duration::ZERO`: never.
    /// Default 100 µs. A future spins only when its caller asks
    /// (`ReplyFuture::spin_first_poll`, with its own bound).
    pub caller_spin: Duration,
    /// Capacity of the challenge cache (replayed pings).
    pub challenge_cache: usize,
    /// Capacity of the main loop's input channel.
    pub mainloop_channel: usize,
    /// Capacity of each service's input channel.
    pub service_channel: usize,
    /// Messages buffered for a peer until its connection is authenticated.
    pub pending_per_peer: usize,
    /// Commands after which each service loop ends and is spawned again
    /// on its state (0: never).
    pub loops: ServiceLoops,
    /// Discovery: while fewer peers are connected, the node asks its peer
    /// store for peers near a random id and connects to them (0: no
    /// discovery).
    pub pool_size: usize,
    /// How often the pool is checked (and the peer store's clock ticks).
    pub refresh: Duration,
    /// Most peers in the peer store.
    pub peer_store_capacity: usize,
    /// Most connected peers; past it, peer management priorities decide
    /// (see [`PeerVerdict::Priority`]).
    pub max_peers: usize,
    /// An authenticated connection whose peer management verdict has not
    /// come within this time is rejected.
    pub verdict_timeout: Duration,
    /// Most send-once connections open (or dialling) at once
    /// ([`Reply::SendOnce`]).
    pub max_send_once: usize,
    /// How long a send-once connection may stay open once authenticated,
    /// on either side (its message and any stream behind it must be
    /// through by then).
    pub send_once_timeout: Duration,
    /// A local service's reply to its own peer goes straight to the write
    /// service instead of through the main loop, when the services run on
    /// threads of their own ([`MyDHTConf::services_on_threads`]: `threaded!`,
    /// `threaded_blocking!`, `may_blocking!`): one crossing less, its
    /// replies to what one read brought still written as one batch. On by
    /// default: faster at 1 and at 64 in flight (the crate's BENCHMARKS.md,
    /// "`threaded!` latency"). Where the services run on the main loop's
    /// thread (`restartable!`, `single_thread!`) replies take the loop's
    /// way whatever this says, and so they do where the write service's
    /// loop ends on a count ([`ServiceLoops::write`] not 0): the node
    /// starts the next loop for the commands it gave itself, and a reply
    /// given around it could wait with no loop to read it. A local
    /// service's replies keep their order
    /// (once one takes the loop's way, its channel full, the later ones
    /// follow it there); a direct reply may overtake a message to the same
    /// peer that the main loop still routes for another service.
    pub direct_replies: bool,
    /// A pooled connection that has read and written nothing for this long
    /// is closed by the node, cleanly (its session ended, then the socket
    /// closed): its peer goes offline as for any close. Connections stay
    /// while no more than `pool_size` peers are connected (discovery would
    /// only dial them again). `None` (the default): never; an application
    /// whose peers come and go (a DHT) sets it. Checked at most once per
    /// period per connection, by the node's deadlines.
    pub idle_close: Option<Duration>,
}

impl Default for NodeConstants {
    fn default() -> Self {
        NodeConstants {
            events_capacity: 1024,
            max_connections: 1024,
            max_frame: 1 << 20,
            auth_timeout: Duration::from_secs(5),
            auth_mode: AuthMode::Signed,
            send_once_auth: AuthMode::Signed,
            known_key: true,
            cipher_suite: CipherSuite::ChaCha20Poly1305,
            query_timeout: Duration::from_secs(10),
            max_pending_queries: 4096,
            caller_spin: Duration::from_micros(100),
            challenge_cache: 4096,
            mainloop_channel: 4096,
            service_channel: 1024,
            pending_per_peer: 1024,
            loops: ServiceLoops::default(),
            pool_size: 0,
            refresh: Duration::from_millis(100),
            peer_store_capacity: 4096,
            max_peers: 1024,
            verdict_timeout: Duration::from_secs(5),
            max_send_once: 64,
            send_once_timeout: Duration::from_secs(60),
            direct_replies: true,
            idle_close: None,
        }
    }
}

/// Per service, the number of commands after which its loop ends and the
/// node spawns it again on its saved state (0: never). Read services run
/// one command for their whole connection and have none. A counted write
/// or global service is reached through the main loop only: no direct
/// replies ([`NodeConstants::direct_replies`]), no direct messages from
/// the global service to peers, and no queries from the node handle
/// straight to the global service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceLoops {
    /// Write services.
    pub write: usize,
    /// Local services.
    pub local: usize,
    /// The global service.
    pub global: usize,
    /// The api service.
    pub api: usize,
    /// The peer store.
    pub peer_store: usize,
    /// Peer management.
    pub peer_mgmt: usize,
}

/// What peer management decides for an authenticated peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerVerdict {
    /// Keep the connection (priority 0).
    Accept,
    /// Keep the connection with this priority: when the node already has
    /// `max_peers` peers, a new peer evicts the lowest-priority one if its
    /// own priority is higher, and is refused otherwise.
    Priority(u8),
    /// Close the connection.
    Reject,
}

/// Where the main loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MainLoopSpawn {
    /// On a thread of its own, parked in its poll between events:
    /// [`start_loop`](crate::start_loop).
    #[default]
    Thread,
    /// On the caller's thread, which drives it turn by turn:
    /// [`start_driven`](crate::start_driven).
    Caller,
}

/// The address type of a configuration's transport.
pub type Address<C> = <<C as MyDHTConf>::Transport as Transport>::Address;

/// The form in which a configuration's peer reference crosses a thread
/// ([`MyDHTConf::PeerRef`] as `SRef::Send`): the `Arc` itself for
/// `ArcRef`, a copy of the peer for `RcRef`.
pub type PeerRefSend<C> = <<C as MyDHTConf>::PeerRef as SRef>::Send;

/// Everything a node is made of. See the [module documentation](self) and
/// the example `touch` of this crate for a complete configuration.
pub trait MyDHTConf: Sized + Send + 'static {
    /// The network: listens, accepts, connects. Its address is what peers
    /// announce in the handshake, as text.
    type Transport: Transport<Address: FromStr + Display, ReadStream: Registerable<mio::Registry>>
        + Registerable<mio::Registry>
        + Send
        + Sync;
    /// The peer as the services know it: `PeerInfo` (what the profile
    /// macros name), or an application type made from the authenticated
    /// `PeerInfo` (see [`NodePeer`]).
    type Peer: NodePeer;
    /// How services hold a peer and pass it to each other: `ArcRef<Peer>`
    /// when they run on several threads, `RcRef<Peer>` when they share one
    /// (the profile macros choose). What crosses a thread goes in its
    /// sendable form ([`PeerRefSend`]) and becomes a `PeerRef` again on the
    /// other side; the node handle gives the application plain `PeerInfo`s.
    type PeerRef: Ref<Self::Peer> + Deref<Target = Self::Peer> + 'static;
    /// How messages become frames.
    type MsgEnc: MsgEnc;
    /// How an authenticated connection's bytes are protected.
    type Shadow: Shadow + Clone + Send + 'static;
    /// What the application's services send to other peers.
    type ProtoMsg: Serialize + DeserializeOwned + Debug + Clone + Send + 'static;
    /// What the application asks its global service through the api.
    type GlobalCmd: Debug + Send + 'static;
    /// What api queries answer.
    type ApiReply: Debug + Send + 'static;
    /// The application's shared state.
    type GlobalService: Service<CommandIn = GlobalCommand<Self>, CommandOut = Reply<Self>> + 'static;
    /// The application's per-connection logic, spawned by the read service.
    type LocalService: Service<CommandIn = LocalCommand<Self>, CommandOut = Reply<Self>> + 'static;

    /// Runs read services (no input channel: woken on readiness).
    type ReadSpawn: Spawner<ReadService<Self>, MainLoopSender<Self>, NoRecv>;
    /// Feeds write services.
    type WriteChannel: SpawnChannel<WriteCommand<Self>>;
    /// Runs write services.
    type WriteSpawn: Spawner<
        WriteService<Self>,
        MainLoopSender<Self>,
        ChannelRecv<Self::WriteChannel, WriteCommand<Self>>,
    >;
    /// Feeds local services.
    type LocalChannel: SpawnChannel<LocalCommand<Self>>;
    /// Runs local services.
    type LocalSpawn: Spawner<
        Self::LocalService,
        LocalDest<Self>,
        ChannelRecv<Self::LocalChannel, LocalCommand<Self>>,
    >;
    /// Feeds the global service.
    type GlobalChannel: SpawnChannel<GlobalCommand<Self>>;
    /// Runs the global service (`threaded!`:
    /// [`InPlaceGlobal`](crate::profile::InPlaceGlobal), a node handle's
    /// query run on the handle's thread while the service is idle).
    type GlobalSpawn: Spawner<
        Self::GlobalService,
        GlobalDest<Self>,
        GlobalRecv<Self, ChannelRecv<Self::GlobalChannel, GlobalCommand<Self>>>,
    >;
    /// Feeds the api service.
    type ApiChannel: SpawnChannel<ApiCommand<Self>>;
    /// Runs the api service.
    type ApiSpawn: Spawner<
        ApiService<Self>,
        NoSend,
        ChannelRecv<Self::ApiChannel, ApiCommand<Self>>,
    >;

    /// Feeds the peer store.
    type PeerStoreChannel: SpawnChannel<PeerStoreCommand>;
    /// Runs the peer store.
    type PeerStoreSpawn: Spawner<
        PeerStoreService<ConnectedRoute>,
        MainLoopSender<Self>,
        ChannelRecv<Self::PeerStoreChannel, PeerStoreCommand>,
    >;

    /// Feeds peer management.
    type PeerMgmtChannel: SpawnChannel<PeerMgmtCommand<Self::PeerRef>>;
    /// Runs peer management.
    type PeerMgmtSpawn: Spawner<
        PeerMgmtService<Self::PeerRef>,
        MainLoopSender<Self>,
        ChannelRecv<Self::PeerMgmtChannel, PeerMgmtCommand<Self::PeerRef>>,
    >;

    /// The read spawner.
    fn read_spawner(&mut self) -> Result<Self::ReadSpawn>;
    /// The write spawner.
    fn write_spawner(&mut self) -> Result<Self::WriteSpawn>;
    /// The write channel kind.
    fn write_channel(&mut self) -> Self::WriteChannel;
    /// The local spawner (one per read service).
    fn local_spawner(&mut self) -> Result<Self::LocalSpawn>;
    /// The local channel kind.
    fn local_channel(&mut self) -> Self::LocalChannel;
    /// The global spawner.
    fn global_spawner(&mut self) -> Result<Self::GlobalSpawn>;
    /// The global channel kind.
    fn global_channel(&mut self) -> Self::GlobalChannel;
    /// The api spawner.
    fn api_spawner(&mut self) -> Result<Self::ApiSpawn>;
    /// The api channel kind.
    fn api_channel(&mut self) -> Self::ApiChannel;
    /// The peer store spawner.
    fn peer_store_spawner(&mut self) -> Result<Self::PeerStoreSpawn>;
    /// The peer store channel kind.
    fn peer_store_channel(&mut self) -> Self::PeerStoreChannel;
    /// The peer management spawner.
    fn peer_mgmt_spawner(&mut self) -> Result<Self::PeerMgmtSpawn>;
    /// The peer management channel kind.
    fn peer_mgmt_channel(&mut self) -> Self::PeerMgmtChannel;
    /// Where the main loop runs; the default is a thread of its own.
    fn main_loop_spawn(&self) -> MainLoopSpawn {
        MainLoopSpawn::Thread
    }
    /// The global service's direct way to the write service of an online
    /// peer's connection, whose channel's weak sender is `send` and weak
    /// handle `handle` ([`GlobalDest`]): `None` (the default) sends the
    /// global service's messages through the main loop. The profile macros
    /// whose read services run on threads of their own (`threaded!`,
    /// `threaded_blocking!`, `may_blocking!`) give one
    /// ([`DirectWriter::new`]): their write services' weak senders and
    /// handles cross threads already (each local service holds them).
    fn direct_writer(
        send: WriteWeakSend<Self>,
        handle: WriteWeakHandle<Self>,
    ) -> Option<DirectWriter<Self>> {
        let _ = (send, handle);
        None
    }
    /// The node handle's direct way to the global service, whose channel's
    /// weak sender is `send` and weak handle `handle` ([`GlobalWay`]):
    /// `None` (the default) sends the handle's queries through the main
    /// loop. The profile macros whose global service runs on a thread of
    /// its own (`ThreadPark` with `MpscChannel`: `threaded_blocking!`,
    /// `may_blocking!`; [`InPlaceGlobal`](crate::profile::InPlaceGlobal)
    /// with `MpscChannelIdleInline`: `threaded!`) give one
    /// ([`GlobalWay::new`]): the handle's queries then go straight into the
    /// global service's channel, one thread crossing less each; under
    /// `InPlaceGlobal`, one that finds the service idle (and few other
    /// queries pending) is run on the caller's thread, no crossing. Used only
    /// where the services run on threads
    /// ([`services_on_threads`](Self::services_on_threads)) and the global
    /// service's loops are not counted ([`ServiceLoops::global`] 0, the
    /// default).
    fn direct_global(
        send: GlobalWeakSend<Self>,
        handle: GlobalWeakHandle<Self>,
    ) -> Option<GlobalWay<Self>> {
        let _ = (send, handle);
        None
    }
    /// True when the services run on other threads than the main loop: they
    /// may then wait on a full main loop channel instead of failing.
    fn services_on_threads(&self) -> bool;

    /// Binds the transport (on the main loop's thread).
    fn init_transport(&mut self) -> Result<Self::Transport>;
    /// The node's identity; the default generates a new one.
    fn init_identity(&mut self) -> Result<Identity> {
        Identity::generate()
    }
    /// The encoder.
    fn init_msg_enc(&mut self) -> Self::MsgEnc;
    /// The shadow.
    fn init_shadow(&mut self) -> Self::Shadow;
    /// The global service, for the node `me`, whose online peers `peers`
    /// shows (keep a clone to read them, and answer with
    /// [`Reply::Broadcast`] or
    /// [`Reply::SendTo`] to reach them).
    fn init_global(&mut self, me: &PeerInfo, peers: &PeersView) -> Result<Self::GlobalService>;
    /// The local service of the connection of `me` with `with`; `peers`
    /// as for [`init_global`](Self::init_global).
    fn init_local(
        &mut self,
        me: &PeerInfo,
        with: &PeerInfo,
        peers: &PeersView,
    ) -> Result<Self::LocalService>;
    /// Peer management, run by [`PeerMgmtService`]: asked once a peer is
    /// authenticated, before its services start (a closure
    /// `|me, peer| PeerVerdict` will do). A rejected peer's connection is
    /// closed; see [`PeerVerdict`] for priorities. Called again when its
    /// service's thread died. The default accepts every peer.
    fn peer_manager(&mut self) -> Result<Box<dyn PeerManager>> {
        Ok(Box::new(AcceptAll))
    }
    /// How the peer store chooses the connected peers its queries go to;
    /// the default takes the closest by XOR distance of ids
    /// ([`ClosestConnected`]).
    fn peer_route(&mut self) -> Result<Box<dyn PeerRoute>> {
        Ok(Box::<ClosestConnected>::default())
    }
    /// A command the node gives its global service every period, as an
    /// api command nobody waits for (query id 0: its `Reply::Api`
    /// answers go nowhere): the application's timer, for work due at a
    /// time (republishing, expiring its own requests). A tick made with
    /// [`GlobalTick::when`] skips the periods its maker has nothing for,
    /// so an idle node's global service (and its thread) is not woken.
    /// The default is none.
    fn global_tick(&self) -> Option<GlobalTick<Self>> {
        None
    }
    /// Sizes and timeouts.
    fn constants(&self) -> NodeConstants {
        NodeConstants::default()
    }
    /// Where the node logs; the default writes warnings and errors to
    /// standard error ([`default_logger`](crate::log::default_logger)).
    fn logger(&self) -> slog::Logger {
        crate::log::default_logger()
    }
}

/// The global service's tick ([`MyDHTConf::global_tick`]): its period and
/// what it gives the service each period.
pub struct GlobalTick<C: MyDHTConf> {
    period: Duration,
    make: Box<dyn FnMut() -> Option<C::GlobalCmd> + Send>,
}

impl<C: MyDHTConf> GlobalTick<C> {
    /// `make`'s command every `period`.
    pub fn every(period: Duration, make: fn() -> C::GlobalCmd) -> Self {
        GlobalTick {
            period,
            make: Box::new(move || Some(make())),
        }
    }

    /// Every `period`, the command `make` gives, if any: `None` when the
    /// service has nothing due (no pending request to expire, say), and
    /// the service is not called that period. `make` runs on the main
    /// loop's thread: keep it to a glance at shared state.
    pub fn when(
        period: Duration,
        make: impl FnMut() -> Option<C::GlobalCmd> + Send + 'static,
    ) -> Self {
        GlobalTick {
            period,
            make: Box::new(make),
        }
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// This period's command, if any.
    pub(crate) fn make(&mut self) -> Option<C::GlobalCmd> {
        (self.make)()
    }
}
