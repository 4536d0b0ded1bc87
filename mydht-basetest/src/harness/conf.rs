//! Node configurations of the touch app: the [`touch_conf!`] macro and the
//! transports it is usually given (loopback TCP on port 0).
//!
//! [`touch_conf!`]: crate::touch_conf

use std::time::Duration;

use mydht_base::Result;
use mydht_tcp::{BlockingTcpTransport, TcpTransport};

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

/// Declares a unit struct `$name` implementing `mydht::MyDHTConf` for the
/// touch app ([`harness::touch`](crate::harness::touch)) under the profile
/// macro `$profile` (`threaded`, `threaded_blocking`, `single_thread`,
/// `restartable`), on the transport made by the expression `$bind`, with
/// `NodeConstants::default()` or the given `$constants`.
///
/// ```ignore
/// touch_conf!(Node, threaded, TcpTransport, loopback());
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
            type Transport = $transport;
            type MsgEnc = $crate::__private::mydht::Bincode;
            type Shadow = $crate::__private::mydht::SessionShadow;
            type ProtoMsg = $crate::harness::touch::TouchMsg;
            type GlobalCmd = $crate::harness::touch::Touch;
            type ApiReply = $crate::harness::touch::Touched;
            type GlobalService = $crate::harness::touch::TouchGlobal<Self>;
            type LocalService = $crate::harness::touch::TouchLocal<Self>;
            $crate::__private::mydht::$profile!();

            fn init_transport(&mut self) -> $crate::__private::mydht_base::Result<$transport> {
                $bind
            }
            fn constants(&self) -> $crate::__private::mydht::NodeConstants {
                $constants
            }
            fn init_msg_enc(&mut self) -> $crate::__private::mydht::Bincode {
                $crate::__private::mydht::Bincode
            }
            fn init_shadow(&mut self) -> $crate::__private::mydht::SessionShadow {
                $crate::__private::mydht::SessionShadow::default()
            }
            fn init_global(
                &mut self,
                me: &$crate::__private::mydht::PeerInfo,
            ) -> $crate::__private::mydht_base::Result<Self::GlobalService> {
                Ok($crate::harness::touch::TouchGlobal::new(
                    *$crate::__private::mydht_base::Peer::get_id(me),
                ))
            }
            fn init_local(
                &mut self,
                me: &$crate::__private::mydht::PeerInfo,
                _: &$crate::__private::mydht::PeerInfo,
            ) -> $crate::__private::mydht_base::Result<Self::LocalService> {
                Ok($crate::harness::touch::TouchLocal::new(
                    *$crate::__private::mydht_base::Peer::get_id(me),
                ))
            }
        }
    };
}
