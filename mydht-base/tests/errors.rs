//! A service never dies silently: an error ends it and comes back through
//! `unwrap_state`, an ignorable one is skipped, a panic on another thread or
//! coroutine is `ServiceDied`. And an error keeps its cause: `source()`
//! gives the foreign error back, the hot-path I/O errors allocate nothing.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::error::Error as _;
use std::io;

use common::{test_dest, Results, TestDest};
use mydht_base::service::channel::{MpscRecv, NoRecv, NoSend};
use mydht_base::{
    Blocker, Error, ErrorKind, ErrorLevel, MpscChannel, RestartOrError, Result, Service,
    ServiceRestartable, SpawnChannel, SpawnHandle, SpawnRecv, SpawnSend, SpawnUnyield, Spawner,
    SpawnerYield, ThreadBlock, ThreadPark, ThreadPool,
};

/// Echoes its command; 0 is an ignorable error, 99 ends it, 666 panics.
struct Picky;

impl Service for Picky {
    type CommandIn = u64;
    type CommandOut = u64;
    fn call<Y: SpawnerYield>(&mut self, cmd: u64, _: &mut Y) -> Result<u64> {
        match cmd {
            0 => Err(Error::new(ErrorKind::Decode, ErrorLevel::Ignore, "skip me")),
            99 => Err(Error::new(ErrorKind::Auth, ErrorLevel::ShutDown, "bye")),
            666 => panic!("service bug"),
            n => Ok(n),
        }
    }
}

impl ServiceRestartable for Picky {}

/// 1, an ignorable error, 2, a shutdown error, then 3 which never runs.
fn shutdown_error_ends_the_service<Sp>(mut sp: Sp)
where
    Sp: Spawner<Picky, TestDest<u64>, MpscRecv<u64>>,
{
    let (mut tx, recv) = MpscChannel::new(8).new_channel().unwrap();
    for c in [1, 0, 2, 99, 3] {
        tx.send(c).unwrap();
    }
    let (dest, results): (_, Results<u64>) = test_dest();
    let mut handle = sp.spawn(Picky, dest, None, recv, 0).unwrap();
    assert_eq!(results.take(2), vec![1, 2]);
    handle.unyield().unwrap();
    let (_, _, mut recv, end) = handle.unwrap_state().unwrap();
    let err = end.unwrap_err();
    assert_eq!(
        (err.kind(), err.level(), err.message()),
        (ErrorKind::Auth, ErrorLevel::ShutDown, "bye")
    );
    results.assert_empty();
    // The command after the error is still queued for whoever restarts it.
    assert_eq!(recv.recv().unwrap(), Some(3));
}

#[test]
fn shutdown_error_comes_back_through_unwrap_state() {
    shutdown_error_ends_the_service(Blocker);
    shutdown_error_ends_the_service(RestartOrError);
    shutdown_error_ends_the_service(ThreadPark);
    shutdown_error_ends_the_service(ThreadBlock);
    shutdown_error_ends_the_service(ThreadPool::new(1, 1).unwrap());
    #[cfg(feature = "coroutine")]
    shutdown_error_ends_the_service(mydht_base::CoRoutine::new());
}

fn panic_is_service_died<Sp>(mut sp: Sp)
where
    Sp: Spawner<Picky, NoSend, NoRecv>,
{
    let mut handle = sp.spawn(Picky, NoSend, Some(666), NoRecv, 0).unwrap();
    let _ = handle.unyield();
    let err = handle
        .unwrap_state()
        .err()
        .expect("a panic must not be lost");
    assert_eq!(err.kind(), ErrorKind::ServiceDied);
    assert!(err.message().contains("service bug"), "{}", err.message());
}

#[test]
fn panicking_service_is_reported_as_service_died() {
    panic_is_service_died(ThreadPark);
    panic_is_service_died(ThreadBlock);
    #[cfg(feature = "coroutine")]
    panic_is_service_died(mydht_base::CoRoutine::new());
}

#[test]
fn pool_survives_a_panicking_service() {
    let mut pool = ThreadPool::new(1, 2).unwrap();
    let dead = pool.spawn(Picky, NoSend, Some(666), NoRecv, 0).unwrap();
    let err = dead.unwrap_state().err().unwrap();
    assert_eq!(err.kind(), ErrorKind::ServiceDied);
    // The only worker still runs services.
    let (dest, results) = test_dest();
    let alive = pool.spawn(Picky, dest, Some(7), NoRecv, 0).unwrap();
    assert_eq!(results.take(1), vec![7]);
    alive.unwrap_state().unwrap().3.unwrap();
    assert_eq!(pool.live_services(), 0);
}

#[test]
fn thread_handle_reports_finished_after_a_panic() {
    let handle = ThreadPark
        .spawn(Picky, NoSend, Some(666), NoRecv, 0)
        .unwrap();
    let mut weak = handle.get_weak_handle().unwrap();
    assert_eq!(
        handle.unwrap_state().err().unwrap().kind(),
        ErrorKind::ServiceDied
    );
    // The thread unwound, yet it is marked finished for weak handle holders.
    assert!(weak.is_finished());
}

/// Counts what the current thread allocates while `measure` runs (this
/// file's own allocator, as in `mydht/tests/frame_alloc.rs`).
struct Counting;

thread_local! {
    // Const-initialised: touching them never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
        }
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// `f`'s result and how many allocations the current thread made in it.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCATIONS.with(Cell::get))
}

#[test]
fn an_io_error_keeps_its_kind_and_itself_as_source() {
    let err = Error::from(io::Error::new(
        io::ErrorKind::ConnectionRefused,
        "nothing listens on mem:7",
    ));
    assert_eq!(err.kind(), ErrorKind::Io(io::ErrorKind::ConnectionRefused));
    assert_eq!(err.level(), ErrorLevel::ShutDown);
    assert_eq!(err.message(), "nothing listens on mem:7");
    let source = err
        .source()
        .and_then(|s| s.downcast_ref::<io::Error>())
        .expect("the io::Error is the source");
    assert_eq!(source.kind(), io::ErrorKind::ConnectionRefused);
    assert_eq!(source.to_string(), "nothing listens on mem:7");
    // The shared source is the same object, and survives a clone.
    let clone = err.clone();
    let shared = clone.shared_source().expect("shared source");
    assert!(std::ptr::addr_eq(
        &**shared as *const _,
        source as *const io::Error
    ));
}

#[test]
fn with_source_chains_causes() {
    let io = io::Error::new(io::ErrorKind::InvalidData, "bad byte at 3");
    let inner = Error::new(ErrorKind::Decode, ErrorLevel::ShutDown, "frame").with_source(io);
    let outer = Error::new(ErrorKind::Auth, ErrorLevel::ShutDown, "handshake").with_source(inner);

    let first = outer.source().expect("outer has a source");
    let first = first.downcast_ref::<Error>().expect("an Error");
    assert_eq!(
        (first.kind(), first.message()),
        (ErrorKind::Decode, "frame")
    );
    let second = first.source().expect("inner has a source");
    let second = second.downcast_ref::<io::Error>().expect("an io::Error");
    assert_eq!(second.kind(), io::ErrorKind::InvalidData);
    assert!(second.source().is_none());

    // A new source replaces the old one.
    let replaced = Error::new(ErrorKind::Other, ErrorLevel::Ignore, "x")
        .with_source(io::Error::other("first"))
        .with_source(io::Error::other("second"));
    assert_eq!(replaced.source().unwrap().to_string(), "second");
    // Without one, there is none.
    assert!(Error::new(ErrorKind::Other, ErrorLevel::Ignore, "x")
        .source()
        .is_none());
}

#[test]
fn equality_compares_kind_level_and_message_not_the_source() {
    let a = Error::new(ErrorKind::Decode, ErrorLevel::ShutDown, "bad")
        .with_source(io::Error::other("one cause"));
    let b = Error::new(ErrorKind::Decode, ErrorLevel::ShutDown, "bad")
        .with_source(io::Error::new(io::ErrorKind::InvalidData, "another"));
    let none = Error::new(ErrorKind::Decode, ErrorLevel::ShutDown, "bad");
    // Documented choice: the source is not compared.
    assert_eq!(a, b);
    assert_eq!(a, none);
    assert_ne!(
        a,
        Error::new(ErrorKind::Encode, ErrorLevel::ShutDown, "bad")
    );
    assert_ne!(a, Error::new(ErrorKind::Decode, ErrorLevel::Ignore, "bad"));
    assert_ne!(
        a,
        Error::new(ErrorKind::Decode, ErrorLevel::ShutDown, "other")
    );
    assert_ne!(
        Error::from(io::Error::from(io::ErrorKind::ConnectionReset)),
        Error::from(io::Error::from(io::ErrorKind::ConnectionAborted))
    );
}

#[test]
fn would_block_and_interrupted_convert_without_allocating() {
    for kind in [io::ErrorKind::WouldBlock, io::ErrorKind::Interrupted] {
        let io_err = io::Error::from(kind);
        let (err, allocations) = measure(|| Error::from(io_err));
        assert_eq!(allocations, 0, "{kind:?} allocated");
        assert_eq!(err.kind(), ErrorKind::Io(kind));
        assert_eq!(err.level(), ErrorLevel::Ignore);
        assert!(err.source().is_none());
        // And back, as a ReadYield/WriteYield does.
        let (back, allocations) = measure(|| io::Error::from(err));
        assert_eq!(allocations, 0, "{kind:?} back allocated");
        assert_eq!(back.kind(), kind);
    }
    assert!(Error::from(io::Error::from(io::ErrorKind::WouldBlock)).is_would_block());
    // The counter does count: an error with a cause allocates.
    let io_err = io::Error::from(io::ErrorKind::ConnectionReset);
    let (err, allocations) = measure(|| Error::from(io_err));
    assert!(allocations > 0);
    assert!(err.source().is_some());
}

#[test]
fn io_round_trip_keeps_kind_level_and_source() {
    let err = Error::from(io::Error::new(io::ErrorKind::BrokenPipe, "peer gone"))
        .with_level(ErrorLevel::Fatal);
    let io_err = io::Error::from(err.clone());
    assert_eq!(io_err.kind(), io::ErrorKind::BrokenPipe);
    // Inside: the Error itself; its source: the original io::Error.
    let inner = io_err.get_ref().unwrap().downcast_ref::<Error>().unwrap();
    assert_eq!(inner, &err);
    let cause = io_err
        .source()
        .unwrap()
        .downcast_ref::<io::Error>()
        .unwrap();
    assert_eq!(
        (cause.kind(), cause.to_string().as_str()),
        (io::ErrorKind::BrokenPipe, "peer gone")
    );
    // Back: the same error, level and source included.
    let back = Error::from(io_err);
    assert_eq!(back, err);
    assert_eq!(back.level(), ErrorLevel::Fatal);
    assert!(back.source().unwrap().is::<io::Error>());

    // A non-I/O kind travels as `Other` and comes back as it was.
    let decode = Error::new(ErrorKind::Decode, ErrorLevel::ShutDown, "garbage")
        .with_source(io::Error::other("cause"));
    let io_err = io::Error::from(decode.clone());
    assert_eq!(io_err.kind(), io::ErrorKind::Other);
    let back = Error::from(io_err);
    assert_eq!(back, decode);
    assert_eq!(back.source().unwrap().to_string(), "cause");
}
