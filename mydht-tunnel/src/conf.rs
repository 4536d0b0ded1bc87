//! [`TunnelNode`]: the `MyDHTConf` a tunnel application runs, built around
//! its [`MyDHTTunnelConf`]; the profile is a type name
//! ([`Threaded`], [`Restartable`], [`SingleThread`]).

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::time::Instant;

use mydht::conf::GlobalTick;
use mydht::service::PeersView;
use mydht::tcp::TcpTransport;
use mydht::{Bincode, Identity, MyDHTConf, NodeConstants, PeerInfo, PeerManager, SessionShadow};
use mydht_base::{Error, ErrorKind, ErrorLevel, Result, Transport};
use tunnel::crypto::X25519Secret;
use tunnel::FullTunnel;

use crate::app::{MyDHTTunnelConf, TunnelCmd};
use crate::error::TunnelSendError;
use crate::global::{GlobalSettings, TunnelGlobal};
use crate::local::{LocalSettings, TunnelLocal};
use crate::msg::TunnelMsg;
use crate::shared::SharedTunnel;

/// What a tunnel node's api queries answer.
pub type TunnelAnswer<T> = std::result::Result<<T as MyDHTTunnelConf>::Answer, TunnelSendError>;

/// The `MyDHTConf`s the tunnel services run in: those of a [`TunnelNode`]
/// of application `T` (a transport addressed by socket addresses, polled
/// TCP for a `TunnelNode`; [`TunnelMsg`] frames, `PeerInfo` peers, `T`'s
/// command and answer types).
pub trait TunnelConfOf<T: MyDHTTunnelConf>:
    MyDHTConf<
    Transport: Transport<Address = SocketAddr>,
    Peer = PeerInfo,
    ProtoMsg = TunnelMsg,
    GlobalCmd = TunnelCmd<T::Cmd>,
    ApiReply = TunnelAnswer<T>,
>
{
}

impl<T, C> TunnelConfOf<T> for C
where
    T: MyDHTTunnelConf,
    C: MyDHTConf<
        Transport: Transport<Address = SocketAddr>,
        Peer = PeerInfo,
        ProtoMsg = TunnelMsg,
        GlobalCmd = TunnelCmd<T::Cmd>,
        ApiReply = TunnelAnswer<T>,
    >,
{
}

/// Profile: services on threads of their own (`mydht::threaded!`): the
/// write services (a relay's pump among them, once it would block or
/// has pumped its first 256 KiB: a query or reply is written whole by the
/// main loop) and the global service; the read and local services
/// restarted on the main loop's thread, since every tunnel message comes
/// on a send-once connection of its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Threaded;
/// Profile: the whole node on one thread, read and write services
/// restarted from their state (`mydht::restartable!`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Restartable;
/// Profile: the whole node on one thread, read and write services as
/// coroutines (`mydht::single_thread!`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleThread;

/// A tunnel node running application `T` under profile `P`: give it to
/// `mydht::start_loop`.
///
/// ```ignore
/// let node = mydht::start_loop(TunnelNode::<PingPong, Threaded>::new(PingPong))?;
/// ```
pub struct TunnelNode<T: MyDHTTunnelConf, P = Threaded> {
    app: T,
    identity: Option<Identity>,
    shared: Option<SharedTunnel>,
    profile: PhantomData<fn() -> P>,
}

impl<T: MyDHTTunnelConf, P> TunnelNode<T, P> {
    /// The node of application `app`.
    pub fn new(app: T) -> Self {
        TunnelNode {
            app,
            identity: None,
            shared: None,
            profile: PhantomData,
        }
    }

    /// The node's identity (from the application), kept for the tunnel
    /// key: what `MyDHTConf::init_identity` returns. Public, with
    /// [`init_tunnel_global`](Self::init_tunnel_global) and
    /// [`init_tunnel_local`](Self::init_tunnel_local), for a configuration
    /// that wraps the tunnel services in its own (a test spy, say).
    pub fn init_tunnel_identity(&mut self) -> Result<Identity> {
        let identity = self.app.init_identity()?;
        self.identity = Some(identity.clone());
        Ok(identity)
    }

    /// The shared tunnel state, made from the node's tunnel key the first
    /// time a service needs it.
    fn shared(&mut self) -> Result<SharedTunnel> {
        if let Some(s) = &self.shared {
            return Ok(s.clone());
        }
        let identity = self.identity.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                ErrorLevel::Fatal,
                "tunnel services started before the node's identity",
            )
        })?;
        let raw = identity
            .tunnel_private_key()
            .raw_private_key()
            .map_err(|e| fatal(e.to_string()))?;
        let raw: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| fatal("tunnel key is not 32 bytes".into()))?;
        let secret = X25519Secret::from_private_bytes(&raw).map_err(|e| fatal(e.to_string()))?;
        let config = self.app.tunnel_config();
        let full = FullTunnel::new(config, secret).map_err(|e| fatal(e.to_string()))?;
        let shared = SharedTunnel::new(
            full,
            config.max_pending_replies,
            self.app.max_relayed_links(),
            self.app.tunnel_timeout(),
        );
        self.shared = Some(shared.clone());
        Ok(shared)
    }

    /// The global tunnel service of the node `me`, logging to `logger`
    /// (after [`init_tunnel_identity`](Self::init_tunnel_identity)).
    pub fn init_tunnel_global<C: TunnelConfOf<T>>(
        &mut self,
        me: &PeerInfo,
        logger: slog::Logger,
    ) -> Result<TunnelGlobal<C, T>> {
        let shared = self.shared()?;
        let inner = self.app.init_inner(me)?;
        let settings = GlobalSettings {
            timeout: self.app.tunnel_timeout(),
            grace: self.app.report_grace(),
            max_frame: self.app.constants().max_frame,
            carriage: self.app.carriage(),
        };
        TunnelGlobal::new(inner, me, shared, settings, logger)
    }

    /// A local tunnel service of the node `me`, logging to `logger`
    /// (after [`init_tunnel_identity`](Self::init_tunnel_identity)).
    pub fn init_tunnel_local<C: TunnelConfOf<T>>(
        &mut self,
        me: &PeerInfo,
        logger: slog::Logger,
    ) -> Result<TunnelLocal<C, T>> {
        let shared = self.shared()?;
        let view = shared.lock().full.view();
        let inner = self.app.init_inner(me)?;
        let settings = LocalSettings {
            grace: self.app.report_grace(),
            max_msg: self.app.constants().max_frame,
        };
        Ok(TunnelLocal::new(inner, view, shared, logger, settings))
    }

    /// The global service's tick, skipped while the shared state has
    /// nothing due ([`TunnelShared::wants_tick`](crate::shared::TunnelShared::wants_tick)).
    fn tick<C: TunnelConfOf<T>>(&self) -> GlobalTick<C> {
        let period = self.app.tick();
        match self.shared.clone() {
            Some(shared) => GlobalTick::when(period, move || {
                shared
                    .lock()
                    .wants_tick(Instant::now())
                    .then_some(TunnelCmd::Tick)
            }),
            // The services were not made from this conf: tick always.
            None => GlobalTick::every(period, || TunnelCmd::Tick),
        }
    }

    fn node_constants(&self) -> NodeConstants {
        self.app.constants()
    }

    fn manager(&mut self) -> Result<Box<dyn PeerManager>> {
        self.app.peer_manager()
    }

    fn transport(&mut self) -> Result<TcpTransport> {
        TcpTransport::bind(self.app.listen_address())
    }
}

fn fatal(message: String) -> Error {
    Error::new(ErrorKind::Config, ErrorLevel::Fatal, message)
}

/// `impl MyDHTConf for TunnelNode<T, $marker>` under profile
/// `$profile($($mix)*)`.
macro_rules! tunnel_node_conf {
    ($marker:ident, $profile:ident, $($mix:tt)*) => {
        impl<T: MyDHTTunnelConf> MyDHTConf for TunnelNode<T, $marker> {
            mydht::$profile!($($mix)*);
            tunnel_node_items!();
        }
    };
}

/// The items of every `TunnelNode` conf but the profile's.
macro_rules! tunnel_node_items {
    () => {
        type Transport = TcpTransport;
        type MsgEnc = Bincode;
        type Shadow = SessionShadow;
        type ProtoMsg = TunnelMsg;
        type GlobalCmd = TunnelCmd<T::Cmd>;
        type ApiReply = TunnelAnswer<T>;
        type GlobalService = TunnelGlobal<Self, T>;
        type LocalService = TunnelLocal<Self, T>;

        fn init_transport(&mut self) -> Result<TcpTransport> {
            self.transport()
        }
        fn init_identity(&mut self) -> Result<Identity> {
            self.init_tunnel_identity()
        }
        fn init_msg_enc(&mut self) -> Bincode {
            Bincode
        }
        fn init_shadow(&mut self) -> SessionShadow {
            SessionShadow::default()
        }
        fn init_global(&mut self, me: &PeerInfo, _: &PeersView) -> Result<Self::GlobalService> {
            let logger = <Self as MyDHTConf>::logger(self);
            self.init_tunnel_global(me, logger)
        }
        fn init_local(
            &mut self,
            me: &PeerInfo,
            _: &PeerInfo,
            _: &PeersView,
        ) -> Result<Self::LocalService> {
            let logger = <Self as MyDHTConf>::logger(self);
            self.init_tunnel_local(me, logger)
        }
        fn peer_manager(&mut self) -> Result<Box<dyn PeerManager>> {
            self.manager()
        }
        fn constants(&self) -> NodeConstants {
            self.node_constants()
        }
        fn global_tick(&self) -> Option<mydht::conf::GlobalTick<Self>> {
            Some(self.tick())
        }
    };
}

/// Coroutine stacks of the `SingleThread` profile's read and write
/// services: a write service pumping a tunnel layer (many cell layers,
/// openssl) needs more than the profile's default 64 KiB in a debug build.
const SINGLE_THREAD_STACK: usize = 512 << 10;

// The local services read lent streams (the exit, the sender of a reply):
// restartable rather than inline (`Blocker` would spin on the socket: its
// yield retries after `yield_now`). On the read service's thread in each
// profile; the read service resumes it when the stream is readable.
//
// `Threaded` restarts its read services on the main loop's thread too:
// every tunnel message comes on a send-once connection, one message each,
// for which a read thread costs more wake-ups than it saves (the thread
// taken from the pool, its wait in the socket handed to and from the
// poller, its end told to the loop: ~11 wake-ups per connection against
// ~5.6 without). The write services, which pump the relayed streams, and
// the global service keep their threads. Measured: the 3-relay round trip
// ~0.85 of the read-thread profile's, transfers unchanged
// (`BENCHMARKS.md`). Since session 20 a write service takes its thread
// only when its stream would block or is long (mydht's `WriteService`
// runs a message, its stream and its `Finish` in place): another ~0.85-0.9.
tunnel_node_conf!(Threaded, threaded, read: RestartOrError; local: RestartOrError, MpscChannel;);
tunnel_node_conf!(Restartable, restartable, local: RestartOrError, LocalRcChannel;);
// The same restartable local services, and larger coroutine stacks.
tunnel_node_conf!(SingleThread, single_thread, local: RestartOrError, LocalRcChannel; stack: SINGLE_THREAD_STACK;);
