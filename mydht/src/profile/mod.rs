//! Execution profiles: the spawners and channels of every service, written
//! by one macro call inside `impl MyDHTConf for ... { }`.
//!
//! | profile | read, write | local | global, peer store, peer management | api | channels |
//! |---|---|---|---|---|---|
//! | [`threaded!`](crate::threaded) | `ThreadPark` | `ThreadPark` | `ThreadPark` | `ThreadPark` | `MpscChannel` |
//! | [`threaded_blocking!`](crate::threaded_blocking) | `ThreadBlock` | `ThreadPark` | `ThreadPark` | `ThreadPark` | `MpscChannel` |
//! | [`single_thread!`](crate::single_thread) | `CoRoutine` | `Blocker` | `Blocker` | `RestartOrError` | `LocalRcChannel` |
//! | [`restartable!`](crate::restartable) | `RestartOrError` | `Blocker` | `Blocker` | `RestartOrError` | `LocalRcChannel` |
//!
//! In every profile the main loop has a thread of its own (the one
//! [`start_loop`](crate::start_loop) starts) unless the configuration's
//! [`main_loop_spawn`](crate::MyDHTConf::main_loop_spawn) puts it on the
//! caller's ([`start_driven`](crate::start_driven)): `single_thread!` and
//! `restartable!` run the whole node on that one thread. To mix, write the
//! associated types and functions of [`MyDHTConf`](crate::MyDHTConf)
//! yourself, starting from a profile's expansion below.

/// What the profile macros name, reachable from any crate.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "coroutine")]
    pub use mydht_base::CoRoutine;
    pub use mydht_base::{
        ArcRef, Blocker, LocalRcChannel, MpscChannel, RcRef, RestartOrError, Result, ThreadBlock,
        ThreadPark,
    };
}

/// Writes the spawner and channel part of a `MyDHTConf` for one kind of
/// spawner for read and write and one kind of channel.
#[doc(hidden)]
#[macro_export]
macro_rules! __profile {
    ($io:ident, $local:ident, $global:ident, $api:ident, $chan:ident, $threads:expr, $peer_ref:ident) => {
        type PeerRef = $crate::profile::__private::$peer_ref<$crate::PeerInfo>;
        type PeerStoreChannel = $crate::profile::__private::$chan;
        type PeerStoreSpawn = $crate::profile::__private::$global;
        fn peer_store_spawner(
            &mut self,
        ) -> $crate::profile::__private::Result<Self::PeerStoreSpawn> {
            Ok(Default::default())
        }
        fn peer_store_channel(&mut self) -> Self::PeerStoreChannel {
            $crate::profile::__private::$chan::new(
                <Self as $crate::MyDHTConf>::constants(self).service_channel,
            )
        }
        type PeerMgmtChannel = $crate::profile::__private::$chan;
        type PeerMgmtSpawn = $crate::profile::__private::$global;
        fn peer_mgmt_spawner(&mut self) -> $crate::profile::__private::Result<Self::PeerMgmtSpawn> {
            Ok(Default::default())
        }
        fn peer_mgmt_channel(&mut self) -> Self::PeerMgmtChannel {
            $crate::profile::__private::$chan::new(
                <Self as $crate::MyDHTConf>::constants(self).service_channel,
            )
        }
        type ReadSpawn = $crate::profile::__private::$io;
        type WriteChannel = $crate::profile::__private::$chan;
        type WriteSpawn = $crate::profile::__private::$io;
        type LocalChannel = $crate::profile::__private::$chan;
        type LocalSpawn = $crate::profile::__private::$local;
        type GlobalChannel = $crate::profile::__private::$chan;
        type GlobalSpawn = $crate::profile::__private::$global;
        type ApiChannel = $crate::profile::__private::$chan;
        type ApiSpawn = $crate::profile::__private::$api;

        fn read_spawner(&mut self) -> $crate::profile::__private::Result<Self::ReadSpawn> {
            Ok(Default::default())
        }
        fn write_spawner(&mut self) -> $crate::profile::__private::Result<Self::WriteSpawn> {
            Ok(Default::default())
        }
        fn write_channel(&mut self) -> Self::WriteChannel {
            $crate::profile::__private::$chan::new(
                <Self as $crate::MyDHTConf>::constants(self).service_channel,
            )
        }
        fn local_spawner(&mut self) -> $crate::profile::__private::Result<Self::LocalSpawn> {
            Ok(Default::default())
        }
        fn local_channel(&mut self) -> Self::LocalChannel {
            $crate::profile::__private::$chan::new(
                <Self as $crate::MyDHTConf>::constants(self).service_channel,
            )
        }
        fn global_spawner(&mut self) -> $crate::profile::__private::Result<Self::GlobalSpawn> {
            Ok(Default::default())
        }
        fn global_channel(&mut self) -> Self::GlobalChannel {
            $crate::profile::__private::$chan::new(
                <Self as $crate::MyDHTConf>::constants(self).service_channel,
            )
        }
        fn api_spawner(&mut self) -> $crate::profile::__private::Result<Self::ApiSpawn> {
            Ok(Default::default())
        }
        fn api_channel(&mut self) -> Self::ApiChannel {
            $crate::profile::__private::$chan::new(
                <Self as $crate::MyDHTConf>::constants(self).service_channel,
            )
        }
        fn services_on_threads(&self) -> bool {
            $threads
        }
    };
}

/// Every service on its own parked thread, `MpscChannel` everywhere. The
/// application's services and messages must be `Send`.
#[macro_export]
macro_rules! threaded {
    () => {
        $crate::__profile!(
            ThreadPark,
            ThreadPark,
            ThreadPark,
            ThreadPark,
            MpscChannel,
            true,
            ArcRef
        );
    };
}

/// For blocking transports (`BlockingTcpTransport`): read and write
/// services block in their streams on threads of their own
/// (`ThreadBlock`), the rest as [`threaded!`](crate::threaded); a listener
/// thread and connector threads authenticate connections. The transport
/// needs an I/O timeout so that a stop is noticed.
#[macro_export]
macro_rules! threaded_blocking {
    () => {
        $crate::__profile!(
            ThreadBlock,
            ThreadPark,
            ThreadPark,
            ThreadPark,
            MpscChannel,
            true,
            ArcRef
        );
    };
}

/// The whole node on the main loop's thread: read and write services as
/// coroutines, local and global services inline, the api restartable,
/// `LocalRcChannel` everywhere.
#[cfg(feature = "coroutine")]
#[macro_export]
macro_rules! single_thread {
    () => {
        $crate::__profile!(
            CoRoutine,
            Blocker,
            Blocker,
            RestartOrError,
            LocalRcChannel,
            false,
            RcRef
        );
    };
}

/// The whole node on the main loop's thread without coroutines: read and
/// write services restarted from their saved state on readiness (frames and
/// shadows are resumable), local and global services inline.
#[macro_export]
macro_rules! restartable {
    () => {
        $crate::__profile!(
            RestartOrError,
            Blocker,
            Blocker,
            RestartOrError,
            LocalRcChannel,
            false,
            RcRef
        );
    };
}
