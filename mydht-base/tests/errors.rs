//! A service never dies silently: an error ends it and comes back through
//! `unwrap_state`, an ignorable one is skipped, a panic on another thread or
//! coroutine is `ServiceDied`.

mod common;

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
