//! Node configurations of the touch app: the [`touch_conf!`] and
//! [`touch_conf_items!`] macros and the transports they are usually given:
//! loopback TCP on port 0, or the process's [`mem_network`].
//!
//! [`touch_conf!`]: crate::touch_conf
//! [`touch_conf_items!`]: crate::touch_conf_items

use std::sync::OnceLock;
use std::time::Duration;

use mydht_base::Result;
use mydht_tcp::{BlockingTcpTransport, TcpTransport};

use crate::transport::MemNetwork;

/// The I/O timeout of [`blocking_loopback`]: how soon a blocked service
/// notices a stop.
pub const BLOCKING_IO_TIMEOUT: Duration = Duration::from_millis(50);

/// A polled TCP transport on 127.0.0.1, port 0 (never a fixed port).
pub fn loopback() -> Result<TcpTransport> {
    TcpTransport::bind(([127, 0, 0, 1], 0).into())
}

/// A blocking TCP transport on 127.0.0.1, port 0, whose I/O times out after
/// [`BLOCKING_IO_TIMEOUT`] so that blocked services notice a stop.
pub fn blocking_loopback() -> Result<BlockingTcpTransport> {
    Ok(BlockingTcpTransport::bind(([127, 0, 0, 1], 0).into())?
        .with_io_timeout(Some(BLOCKING_IO_TIMEOUT)))
}

/// The in-memory network of this process, shared by its nodes: each
/// `listen` on it gives a fresh address (the "port 0" of TCP), so tests
/// running at the same time never meet by accident.
pub fn mem_network() -> &'static MemNetwork {
    static NETWORK: OnceLock<MemNetwork> = OnceLock::new();
    NETWORK.get_or_init(MemNetwork::new)
}

/// Declares a unit struct `$name` implementing `mydht::MyDHTConf` for the
/// touch app ([`harness::touch`](crate::harness::touch)) under the profile
/// macro `$profile` (`threaded`, `threaded_blocking`, `single_thread`,
/// `restartable`), on the transport made by the expression `$bind`, with
/// `NodeConstants::default()` or the given `$constants`.
///
/// ```
/// use mydht_basetest::harness::conf::loopback;
/// use mydht_basetest::harness::nodes::{connect_and_touch, start_nodes, stop_all};
/// use mydht_basetest::touch_conf;
/// use mydht_tcp::TcpTransport;
///
/// touch_conf!(Node, threaded, TcpTransport, loopback());
///
/// let nodes = start_nodes(2, || Node).expect("nodes");
/// connect_and_touch(&nodes[0], &nodes[1]);
/// stop_all(nodes).expect("stop");
/// ```
#[macro_export]
macro_rules! touch_conf {
    ($name:ident, $profile:ident, $transport:ty, $bind:expr) => {
        $crate::touch_conf!(
            $name,
            $profile,
            $transport,
            $bind,
            $crate::__private::mydht::NodeConstants::default()
        );
    };
    ($name:ident, $profile:ident, $transport:ty, $bind:expr, $constants:expr) => {
        #[doc = concat!("Touch node under `", stringify!($profile), "!`.")]
        pub struct $name;
        impl $crate::__private::mydht::MyDHTConf for $name {
            $crate::touch_conf_items!($profile, $transport);

            fn init_transport(&mut self) -> $crate::__private::mydht_base::Result<$transport> {
                $bind
            }
            fn constants(&self) -> $crate::__private::mydht::NodeConstants {
                $constants
            }
        }
    };
}

/// The items of a touch app's `mydht::MyDHTConf` impl that do not vary:
/// its types, the profile `$profile`, and the encoder, shadow and service
/// constructors. For a configuration [`touch_conf!`](crate::touch_conf)
/// cannot say (state in the struct, a peer manager, a main loop spawner):
/// write the impl, call this macro in it, and add `init_transport` and the
/// rest. With `global = Type`, the global service is `Type` (a wrapper of
/// [`TouchGlobal`](crate::harness::touch::TouchGlobal), say) and the impl
/// writes `init_global`. The profile may carry its overrides:
/// `restartable(global: ThreadParkRef, MpscChannelRef;)`.
///
/// ```
/// use mydht::{MainLoopSpawn, MyDHTConf};
/// use mydht_basetest::harness::conf::loopback;
/// use mydht_basetest::touch_conf_items;
/// use mydht_tcp::TcpTransport;
///
/// struct Driven;
///
/// impl MyDHTConf for Driven {
///     touch_conf_items!(restartable, TcpTransport);
///
///     fn main_loop_spawn(&self) -> MainLoopSpawn {
///         MainLoopSpawn::Caller
///     }
///     fn init_transport(&mut self) -> mydht_base::Result<TcpTransport> {
///         loopback()
///     }
/// }
///
/// let (mut driver, handle) = mydht::start_driven(Driven).expect("node");
/// handle.stop().expect("stop asked");
/// while driver.run_once(std::time::Duration::from_millis(10)).expect("turn") {}
/// ```
#[macro_export]
macro_rules! touch_conf_items {
    ($profile:ident, $($rest:tt)*) => {
        $crate::touch_conf_items!($profile(), $($rest)*);
    };
    ($profile:ident($($over:tt)*), $transport:ty) => {
        $crate::touch_conf_items!(
            $profile($($over)*),
            $transport,
            global = $crate::harness::touch::TouchGlobal<Self>
        );
        fn init_global(
            &mut self,
            me: &$crate::__private::mydht::PeerInfo,
            _: &$crate::__private::mydht::service::PeersView,
        ) -> $crate::__private::mydht_base::Result<Self::GlobalService> {
            Ok($crate::harness::touch::TouchGlobal::new(
                *$crate::__private::mydht_base::Peer::get_id(me),
            ))
        }
    };
    ($profile:ident($($over:tt)*), $transport:ty, global = $global:ty) => {
        type Transport = $transport;
        type MsgEnc = $crate::__private::mydht::Bincode;
        type Shadow = $crate::__private::mydht::SessionShadow;
        type ProtoMsg = $crate::harness::touch::TouchMsg;
        type GlobalCmd = $crate::harness::touch::Touch;
        type ApiReply = $crate::harness::touch::Touched;
        type GlobalService = $global;
        type LocalService = $crate::harness::touch::TouchLocal<Self>;
        $crate::__private::mydht::$profile!($($over)*);

        fn init_msg_enc(&mut self) -> $crate::__private::mydht::Bincode {
            $crate::__private::mydht::Bincode
        }
        fn init_shadow(&mut self) -> $crate::__private::mydht::SessionShadow {
            $crate::__private::mydht::SessionShadow::default()
        }
        fn init_local(
            &mut self,
            me: &$crate::__private::mydht::PeerInfo,
            _: &$crate::__private::mydht::PeerInfo,
            _: &$crate::__private::mydht::service::PeersView,
        ) -> $crate::__private::mydht_base::Result<Self::LocalService> {
            Ok($crate::harness::touch::TouchLocal::new(
                *$crate::__private::mydht_base::Peer::get_id(me),
            ))
        }
    };
}

/// The transport, encoder and shadow items of a `mydht::MyDHTConf` impl
/// for a test node with its own application: polled TCP on 127.0.0.1, port
/// 0 ([`loopback`]), `Bincode`, the default `SessionShadow`. The impl adds
/// its message, command and reply types, its services and a profile
/// (see `mydht/tests/node_mixed.rs`).
#[macro_export]
macro_rules! loopback_conf_items {
    () => {
        type Transport = $crate::__private::mydht_tcp::TcpTransport;
        type MsgEnc = $crate::__private::mydht::Bincode;
        type Shadow = $crate::__private::mydht::SessionShadow;

        fn init_transport(&mut self) -> $crate::__private::mydht_base::Result<Self::Transport> {
            $crate::harness::conf::loopback()
        }
        fn init_msg_enc(&mut self) -> Self::MsgEnc {
            $crate::__private::mydht::Bincode
        }
        fn init_shadow(&mut self) -> Self::Shadow {
            $crate::__private::mydht::SessionShadow::default()
        }
    };
}
