//! Execution profiles: the peer reference, spawners and channels of every
//! service, written by one macro call inside `impl MyDHTConf for ... { }`.
//!
//! | profile | peer ref | read, write | local | global, peer store, peer management | api | channels |
//! |---|---|---|---|---|---|---|
//! | [`threaded!`](crate::threaded) | `ArcRef` | read `ThreadIdle` (waits in its socket while busy; idle 1 s, its thread back to the pool), write `ThreadPark` (its senders write in place while it is idle) | `Blocker` (in the read service's thread) | global `ThreadPark`, a node handle's query run on the handle's thread while it is idle ([`InPlaceGlobal`]); the others `ThreadPark` | `RestartOrError` | `MpscChannel` (api: `LocalRcChannel`) |
//! | [`threaded_blocking!`](crate::threaded_blocking) | `ArcRef` | `ThreadBlock` | `ThreadPark` | `ThreadPark` | `ThreadPark` | `MpscChannel` |
//! | [`single_thread!`](crate::single_thread) | `RcRef` | `CoRoutine` | `Blocker` | `Blocker` | `RestartOrError` | `LocalRcChannel` |
//! | [`restartable!`](crate::restartable) | `RcRef` | `RestartOrError` | `Blocker` | `Blocker` | `RestartOrError` | `LocalRcChannel` |
//!
//! In every profile the main loop has a thread of its own (the one
//! [`start_loop`](crate::start_loop) starts) unless the configuration's
//! [`main_loop_spawn`](crate::MyDHTConf::main_loop_spawn) puts it on the
//! caller's ([`start_driven`](crate::start_driven)): `single_thread!` and
//! `restartable!` run the whole node on that one thread.
//!
//! **Mixing.** A profile takes overrides, `service: Spawner, Channel;`
//! for `read_write` (both spawners, the write channel), `write`, `local`,
//! `global`, `api`, `peer_store`, `peer_mgmt`; `read: Spawner;`;
//! `peer_ref: RcRef | ArcRef | CloneRef;`, `peer: Type;` (the
//! [`MyDHTConf::Peer`](crate::MyDHTConf::Peer), a
//! [`NodePeer`](crate::NodePeer); `PeerInfo` by default) and `stack:
//! bytes;`, the stack of read and write services that are coroutines
//! (`CoRoutine`, 64 KiB by default; `MayBlock`, 128 KiB), for services
//! whose calls go deeper (layers of ciphers in a debug build):
//!
//! ```ignore
//! mydht::single_thread!(stack: 512 << 10;);
//! ```
//! The names are those of `mydht_base`, no import needed. A service on
//! another thread than the main loop with an `RcRef` peer reference takes
//! `ThreadParkRef` and `MpscChannelRef`: its commands cross in their
//! sendable form and come back as `Rc`s there (its own type must be
//! `SRef`, see [`mydht_base::sref_as_itself!`]). For instance the whole
//! node on one thread but the application's global service on its own:
//!
//! ```ignore
//! mydht::restartable!(global: ThreadParkRef, MpscChannelRef;);
//! ```
//!
//! `on_threads: true | false;` overrides
//! [`services_on_threads`](crate::MyDHTConf::services_on_threads) (whether
//! services on other threads wait on a full main loop channel; a service
//! on the loop's own thread never waits).

mod in_place;
#[cfg(feature = "may")]
mod may_blocking;
pub(crate) use in_place::handle_gives;
pub use in_place::{InPlace, InPlaceGlobal, InPlaceHandle};
#[cfg(feature = "may")]
pub use may_blocking::{MayBlock, MayBlockHandle};

/// What the profile macros name, reachable from any crate.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "coroutine")]
    pub use mydht_base::CoRoutine;
    pub use mydht_base::{
        ArcRef, Blocker, CloneRef, LocalRcChannel, MpscChannel, MpscChannelRef, RcRef,
        RestartOrError, Result, ThreadBlock, ThreadPark, ThreadParkRef,
    };

    /// `ThreadPark`, its senders running a command in place while it is
    /// idle (`threaded!`'s write service).
    pub type ThreadParkIdleInline = mydht_base::service::spawn::IdleInline<ThreadPark>;
    /// The channel of [`ThreadParkIdleInline`] and [`ThreadParkInPlace`].
    pub type MpscChannelIdleInline = mydht_base::service::channel::IdleInlineChannel<MpscChannel>;
    /// `ThreadPark`, a node handle's query run on the handle's thread
    /// while the service is idle (`threaded!`'s global service).
    pub type ThreadParkInPlace = super::InPlaceGlobal<ThreadPark>;
    /// A parked thread while busy, given back to the reuse pool once idle
    /// (`threaded!`'s read service).
    pub use mydht_base::service::spawn::ThreadIdle;
    #[cfg(feature = "may")]
    pub use {super::MayBlock, mydht_base::service::channel::MayChannel};

    /// A spawner made with a stack size, for the `stack:` override.
    pub trait StackSize {
        /// The spawner whose coroutines get `bytes` of stack.
        fn with_stack(bytes: usize) -> Self;
    }

    #[cfg(feature = "coroutine")]
    impl StackSize for CoRoutine {
        fn with_stack(bytes: usize) -> Self {
            CoRoutine::with_stack_size(bytes)
        }
    }

    #[cfg(feature = "may")]
    impl StackSize for MayBlock {
        fn with_stack(bytes: usize) -> Self {
            MayBlock::with_stack(bytes)
        }
    }
}

/// Applies a profile's overrides, one at a time, to its defaults, then
/// writes the execution part of a `MyDHTConf`.
#[doc(hidden)]
#[macro_export]
macro_rules! __profile {
    (@mix [$($state:tt)*]) => {
        $crate::__profile!(@emit $($state)*);
    };
    (@mix [$r:ident $w:ident $wc:ident $($rest:tt)*]
        read_write: $s:ident, $c:ident; $($more:tt)*) => {
        $crate::__profile!(@mix [$s $s $c $($rest)*] $($more)*);
    };
    (@mix [$r:ident $($rest:tt)*] read: $s:ident; $($more:tt)*) => {
        $crate::__profile!(@mix [$s $($rest)*] $($more)*);
    };
    (@mix [$r:ident $w:ident $wc:ident $($rest:tt)*]
        write: $s:ident, $c:ident; $($more:tt)*) => {
        $crate::__profile!(@mix [$r $s $c $($rest)*] $($more)*);
    };
    (@mix [$r:ident $w:ident $wc:ident $l:ident $lc:ident $($rest:tt)*]
        local: $s:ident, $c:ident; $($more:tt)*) => {
        $crate::__profile!(@mix [$r $w $wc $s $c $($rest)*] $($more)*);
    };
    (@mix [$r:ident $w:ident $wc:ident $l:ident $lc:ident $g:ident $gc:ident $($rest:tt)*]
        global: $s:ident, $c:ident; $($more:tt)*) => {
        $crate::__profile!(@mix [$r $w $wc $l $lc $s $c $($rest)*] $($more)*);
    };
    (@mix [$r:ident $w:ident $wc:ident $l:ident $lc:ident $g:ident $gc:ident $a:ident $ac:ident
        $($rest:tt)*] api: $s:ident, $c:ident; $($more:tt)*) => {
        $crate::__profile!(@mix [$r $w $wc $l $lc $g $gc $s $c $($rest)*] $($more)*);
    };
    (@mix [$r:ident $w:ident $wc:ident $l:ident $lc:ident $g:ident $gc:ident $a:ident $ac:ident
        $ps:ident $psc:ident $($rest:tt)*] peer_store: $s:ident, $c:ident; $($more:tt)*) => {
        $crate::__profile!(@mix [$r $w $wc $l $lc $g $gc $a $ac $s $c $($rest)*] $($more)*);
    };
    (@mix [$r:ident $w:ident $wc:ident $l:ident $lc:ident $g:ident $gc:ident $a:ident $ac:ident
        $ps:ident $psc:ident $pm:ident $pmc:ident $($rest:tt)*]
        peer_mgmt: $s:ident, $c:ident; $($more:tt)*) => {
        $crate::__profile!(@mix [$r $w $wc $l $lc $g $gc $a $ac $ps $psc $s $c $($rest)*] $($more)*);
    };
    (@mix [$r:ident $w:ident $wc:ident $l:ident $lc:ident $g:ident $gc:ident $a:ident $ac:ident
        $ps:ident $psc:ident $pm:ident $pmc:ident $threads:tt $($rest:tt)*]
        on_threads: $t:tt; $($more:tt)*) => {
        $crate::__profile!(@mix [$r $w $wc $l $lc $g $gc $a $ac $ps $psc $pm $pmc $t $($rest)*] $($more)*);
    };
    (@mix [$r:ident $w:ident $wc:ident $l:ident $lc:ident $g:ident $gc:ident $a:ident $ac:ident
        $ps:ident $psc:ident $pm:ident $pmc:ident $threads:tt $peer_ref:ident $peer:tt $stack:tt]
        peer_ref: $pr:ident; $($more:tt)*) => {
        $crate::__profile!(@mix [$r $w $wc $l $lc $g $gc $a $ac $ps $psc $pm $pmc $threads $pr $peer $stack] $($more)*);
    };
    (@mix [$r:ident $w:ident $wc:ident $l:ident $lc:ident $g:ident $gc:ident $a:ident $ac:ident
        $ps:ident $psc:ident $pm:ident $pmc:ident $threads:tt $peer_ref:ident $peer:tt $stack:tt]
        peer: $p:ty; $($more:tt)*) => {
        $crate::__profile!(@mix [$r $w $wc $l $lc $g $gc $a $ac $ps $psc $pm $pmc $threads $peer_ref [$p] $stack] $($more)*);
    };
    (@mix [$r:ident $w:ident $wc:ident $l:ident $lc:ident $g:ident $gc:ident $a:ident $ac:ident
        $ps:ident $psc:ident $pm:ident $pmc:ident $threads:tt $peer_ref:ident $peer:tt $stack:tt]
        stack: $st:expr; $($more:tt)*) => {
        $crate::__profile!(@mix [$r $w $wc $l $lc $g $gc $a $ac $ps $psc $pm $pmc $threads $peer_ref $peer [$st]] $($more)*);
    };
    (@mix [$($state:tt)*] $($bad:tt)+) => {
        compile_error!(concat!(
            "profile override not understood: `", stringify!($($bad)+), "`; expected ",
            "`read_write|write|local|global|api|peer_store|peer_mgmt: Spawner, Channel;`, ",
            "`read: Spawner;`, `peer_ref: RcRef|ArcRef|CloneRef;`, `peer: Type;`, ",
            "`on_threads: true|false;` or `stack: bytes;`"
        ));
    };
    (@spawner $s:ident []) => {
        Ok(Default::default())
    };
    (@spawner $s:ident [$st:expr]) => {
        Ok(<$crate::profile::__private::$s as $crate::profile::__private::StackSize>::with_stack(
            $st,
        ))
    };
    // A read service on a thread of its own holds its local service's
    // destination, so the write channel's weak sender and the write
    // service's weak handle cross threads: the global service may hold them
    // too (`MyDHTConf::direct_writer`).
    (@direct ThreadIdle) => { $crate::__profile!(@direct_writer); };
    (@direct ThreadPark) => { $crate::__profile!(@direct_writer); };
    (@direct ThreadBlock) => { $crate::__profile!(@direct_writer); };
    (@direct MayBlock) => { $crate::__profile!(@direct_writer); };
    (@direct $r:ident) => {};
    (@direct_writer) => {
        fn direct_writer(
            send: $crate::service::WriteWeakSend<Self>,
            handle: $crate::service::WriteWeakHandle<Self>,
        ) -> Option<$crate::service::DirectWriter<Self>> {
            Some($crate::service::DirectWriter::new(send, handle))
        }
    };
    // A global service on a thread of its own, fed by a channel between
    // threads: the node handle's queries may go straight into that
    // channel (`MyDHTConf::direct_global`).
    (@global ThreadPark MpscChannel) => { $crate::__profile!(@direct_global); };
    (@global ThreadParkInPlace MpscChannelIdleInline) => { $crate::__profile!(@direct_global); };
    (@global $g:ident $gc:ident) => {};
    (@direct_global) => {
        fn direct_global(
            send: $crate::service::GlobalWeakSend<Self>,
            handle: $crate::service::GlobalWeakHandle<Self>,
        ) -> Option<$crate::service::GlobalWay<Self>> {
            Some($crate::service::GlobalWay::new(send, handle))
        }
    };
    (@emit $r:ident $w:ident $wc:ident $l:ident $lc:ident $g:ident $gc:ident $a:ident $ac:ident
        $ps:ident $psc:ident $pm:ident $pmc:ident $threads:tt $peer_ref:ident [$($peer:tt)*]
        $stack:tt) => {
        type Peer = $($peer)*;
        type PeerRef = $crate::profile::__private::$peer_ref<Self::Peer>;
        type PeerStoreChannel = $crate::profile::__private::$psc;
        type PeerStoreSpawn = $crate::profile::__private::$ps;
        fn peer_store_spawner(
            &mut self,
        ) -> $crate::profile::__private::Result<Self::PeerStoreSpawn> {
            Ok(Default::default())
        }
        fn peer_store_channel(&mut self) -> Self::PeerStoreChannel {
            $crate::profile::__private::$psc::new(
                <Self as $crate::MyDHTConf>::constants(self).service_channel,
            )
        }
        type PeerMgmtChannel = $crate::profile::__private::$pmc;
        type PeerMgmtSpawn = $crate::profile::__private::$pm;
        fn peer_mgmt_spawner(&mut self) -> $crate::profile::__private::Result<Self::PeerMgmtSpawn> {
            Ok(Default::default())
        }
        fn peer_mgmt_channel(&mut self) -> Self::PeerMgmtChannel {
            $crate::profile::__private::$pmc::new(
                <Self as $crate::MyDHTConf>::constants(self).service_channel,
            )
        }
        type ReadSpawn = $crate::profile::__private::$r;
        type WriteChannel = $crate::profile::__private::$wc;
        type WriteSpawn = $crate::profile::__private::$w;
        type LocalChannel = $crate::profile::__private::$lc;
        type LocalSpawn = $crate::profile::__private::$l;
        type GlobalChannel = $crate::profile::__private::$gc;
        type GlobalSpawn = $crate::profile::__private::$g;
        type ApiChannel = $crate::profile::__private::$ac;
        type ApiSpawn = $crate::profile::__private::$a;

        fn read_spawner(&mut self) -> $crate::profile::__private::Result<Self::ReadSpawn> {
            $crate::__profile!(@spawner $r $stack)
        }
        fn write_spawner(&mut self) -> $crate::profile::__private::Result<Self::WriteSpawn> {
            $crate::__profile!(@spawner $w $stack)
        }
        fn write_channel(&mut self) -> Self::WriteChannel {
            $crate::profile::__private::$wc::new(
                <Self as $crate::MyDHTConf>::constants(self).service_channel,
            )
        }
        fn local_spawner(&mut self) -> $crate::profile::__private::Result<Self::LocalSpawn> {
            Ok(Default::default())
        }
        fn local_channel(&mut self) -> Self::LocalChannel {
            $crate::profile::__private::$lc::new(
                <Self as $crate::MyDHTConf>::constants(self).service_channel,
            )
        }
        fn global_spawner(&mut self) -> $crate::profile::__private::Result<Self::GlobalSpawn> {
            Ok(Default::default())
        }
        fn global_channel(&mut self) -> Self::GlobalChannel {
            $crate::profile::__private::$gc::new(
                <Self as $crate::MyDHTConf>::constants(self).service_channel,
            )
        }
        fn api_spawner(&mut self) -> $crate::profile::__private::Result<Self::ApiSpawn> {
            Ok(Default::default())
        }
        fn api_channel(&mut self) -> Self::ApiChannel {
            $crate::profile::__private::$ac::new(
                <Self as $crate::MyDHTConf>::constants(self).service_channel,
            )
        }
        fn services_on_threads(&self) -> bool {
            $threads
        }
        $crate::__profile!(@direct $r);
        $crate::__profile!(@global $g $gc);
    };
}

/// Services on parked threads (`ThreadPark`), `MpscChannel` between
/// threads, peers shared as `ArcRef<PeerInfo>`. The application's services
/// and messages must be `Send`. Takes the overrides of the
/// [module doc](crate::profile).
///
/// Each connection's read and write services, the global service, the
/// peer store and peer management run on threads of their own. Two
/// services do not:
///
/// - the local service runs inline in its connection's read service's
///   thread (`local: Blocker, MpscChannel`): a message is decoded and
///   answered on the thread that read it, no hand-over to a thread of its
///   own. Its calls should not wait: one that waits (a lent stream not yet
///   readable, a lock) waits in place, retrying with `yield_now`, and holds
///   up that connection's reading meanwhile; such an application asks for
///   `local: ThreadPark, MpscChannel;`, the local service parked on its
///   own thread until woken.
/// - the api service, the node's book of pending queries, is restarted on
///   the main loop's thread (`api: RestartOrError, LocalRcChannel`):
///   nothing in it waits, and a thread of its own only cost a wake-up per
///   query.
///
/// The write service's thread is woken only when there is work it must do
/// itself (`write: ThreadParkIdleInline, MpscChannelIdleInline`, that is
/// `IdleInline<ThreadPark>` and `IdleInlineChannel<MpscChannel>` of
/// `mydht_base`): while it is idle, whoever sends it frames (the main
/// loop, or an inline local service) encodes and
/// writes them to the socket itself, on its own thread; a write that would
/// block is finished by the write service's thread, and while that thread
/// has work, commands queue behind it in order. The transport must be
/// non-blocking (blocking ones take
/// [`threaded_blocking!`](crate::threaded_blocking)). A stream behind a
/// message is pumped in place too when its source never waits
/// ([`PumpSource::never_waits`](crate::stream::PumpSource::never_waits):
/// a lent stream, bytes in memory), up to its first 256 KiB or until the
/// source has nothing yet; the write service's thread carries on from
/// there, and reads every other source. So is a send-once connection's
/// end. `write:
/// ThreadPark, MpscChannel;` gives the write service its thread for every
/// frame.
///
/// The replies of the inline local service to what one read of the stream
/// brought go out together, when the read service is about to read again
/// (`LocalDest::hold`); those to its own peer go to the write service
/// without the main loop, as one batch
/// ([`direct_replies`](crate::NodeConstants::direct_replies), on by
/// default).
///
/// The write service's thread is started only when it has such work and
/// goes back to the reuse pool once its channel stays empty. The read
/// service's (`read: ThreadIdle`) waits in its own socket while traffic
/// flows (`poll(2)`, the main loop's poll not watching that socket's reads
/// meanwhile: the data wakes the read thread itself, not the loop which
/// then wakes it), and once it waited 1 s with no data or wake-up the main
/// loop watches the socket again, the read service is suspended (its
/// progress kept, as under [`restartable!`](crate::restartable)) and its
/// thread goes back to the pool; the next readiness resumes it on a pool
/// thread. A stop or a command ends the wait in the socket at once. So an
/// idle connection holds no thread and a busy one one or two, not three
/// (`read: ThreadPark;` keeps the read thread, waiting in its socket
/// too, never given back to the pool).
///
/// The global service's messages to an online peer go straight to that
/// peer's connection's write service
/// ([`GlobalDest`](crate::service::GlobalDest)), whose sender writes the
/// frame itself while the write service is idle: not back through the
/// main loop. And the node handle's queries go straight to the global
/// service ([`MyDHTConf::direct_global`](crate::MyDHTConf::direct_global)),
/// not through the main loop: `global: ThreadParkInPlace,
/// MpscChannelIdleInline` ([`InPlaceGlobal`](crate::profile::InPlaceGlobal)), a query that finds the
/// global service idle, with at most one other query pending, runs on the
/// caller's thread (its frame to a peer written there too while that
/// peer's write service is idle); else it is queued for the global
/// service's thread, which runs those queued together (their frames to
/// one peer as one batch). The main loop's commands (peer events,
/// messages, ticks) always go to that thread. A call run in place waits
/// in place if it waits: a global service whose calls wait for the
/// caller's own thread takes `global: ThreadPark, MpscChannel;` (every
/// query on the service's thread). So one request/response crosses
/// threads 3 times (4 with `direct_replies` off), not 13 (the figures:
/// the crate README, "`threaded!` latency").
#[macro_export]
macro_rules! threaded {
    ($($mix:tt)*) => {
        $crate::__profile!(@mix [
            ThreadIdle // read
            ThreadParkIdleInline MpscChannelIdleInline // write
            Blocker MpscChannel // local
            ThreadParkInPlace MpscChannelIdleInline // global
            RestartOrError LocalRcChannel // api
            ThreadPark MpscChannel // peer_store
            ThreadPark MpscChannel // peer_mgmt
            true ArcRef [$crate::PeerInfo] [] // on_threads, peer_ref, peer, stack
        ] $($mix)*);
    };
}

/// For blocking transports (`BlockingTcpTransport`): read and write
/// services block in their streams on threads of their own
/// (`ThreadBlock`), the rest as [`threaded!`](crate::threaded); a listener
/// thread and connector threads authenticate connections. The transport
/// needs an I/O timeout so that a stop is noticed. Takes the overrides of
/// the [module doc](crate::profile).
#[macro_export]
macro_rules! threaded_blocking {
    ($($mix:tt)*) => {
        $crate::__profile!(@mix [
            ThreadBlock // read
            ThreadBlock MpscChannel // write
            ThreadPark MpscChannel // local
            ThreadPark MpscChannel // global
            ThreadPark MpscChannel // api
            ThreadPark MpscChannel // peer_store
            ThreadPark MpscChannel // peer_mgmt
            true ArcRef [$crate::PeerInfo] [] // on_threads, peer_ref, peer, stack
        ] $($mix)*);
    };
}

/// The whole node on the main loop's thread: read and write services as
/// coroutines, local and global services inline, the api restartable,
/// `LocalRcChannel` everywhere, peers shared as `RcRef<PeerInfo>`. Takes
/// the overrides of the [module doc](crate::profile).
#[cfg(feature = "coroutine")]
#[macro_export]
macro_rules! single_thread {
    ($($mix:tt)*) => {
        $crate::__profile!(@mix [
            CoRoutine // read
            CoRoutine LocalRcChannel // write
            Blocker LocalRcChannel // local
            Blocker LocalRcChannel // global
            RestartOrError LocalRcChannel // api
            Blocker LocalRcChannel // peer_store
            Blocker LocalRcChannel // peer_mgmt
            false RcRef [$crate::PeerInfo] [] // on_threads, peer_ref, peer, stack
        ] $($mix)*);
    };
}

/// The whole node on the main loop's thread without coroutines: read and
/// write services restarted from their saved state on readiness (frames and
/// shadows are resumable), local and global services inline, peers shared
/// as `RcRef<PeerInfo>`. Takes the overrides of the
/// [module doc](crate::profile).
#[macro_export]
macro_rules! restartable {
    ($($mix:tt)*) => {
        $crate::__profile!(@mix [
            RestartOrError // read
            RestartOrError LocalRcChannel // write
            Blocker LocalRcChannel // local
            Blocker LocalRcChannel // global
            RestartOrError LocalRcChannel // api
            Blocker LocalRcChannel // peer_store
            Blocker LocalRcChannel // peer_mgmt
            false RcRef [$crate::PeerInfo] [] // on_threads, peer_ref, peer, stack
        ] $($mix)*);
    };
}
