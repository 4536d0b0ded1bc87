//! One counter scenario, run under every spawner with every channel it
//! supports: same assertions everywhere.

mod common;

use common::{test_dest, Counter, TestDest};
use mydht_base::service::channel::{NoRecv, NoSend};
use mydht_base::{
    Blocker, LocalRcChannel, MpscChannel, RestartOrError, SpawnChannel, SpawnHandle, SpawnSend,
    SpawnUnyield, Spawner, ThreadBlock, ThreadPark, ThreadPool,
};

/// Commands in order, results delivered, `nb_loop` respected, restart from
/// the handle on the same state, wake on new input, end on a closed channel.
fn counter_scenario<Sp, Ch>(mut sp: Sp, mut ch: Ch)
where
    Ch: SpawnChannel<u64>,
    Sp: Spawner<Counter, TestDest<u64>, Ch::Recv>,
{
    let (mut tx, recv) = ch.new_channel().unwrap();
    let (dest, results) = test_dest();
    for c in 1..=5 {
        tx.send(c).unwrap();
    }

    // nb_loop = 4: the first command and three queued ones, then the end.
    let handle = sp
        .spawn(Counter::default(), dest, Some(10), recv, 4)
        .unwrap();
    let (svc, dest, recv, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert_eq!(results.take(4), vec![10, 11, 13, 16]);
    results.assert_empty();
    assert_eq!((svc.total, svc.calls), (16, 4));

    // Spawned again from the handle's state: the two commands left, on the
    // same total.
    let mut handle = sp.spawn(svc, dest, None, recv, 0).unwrap();
    assert_eq!(results.take(2), vec![20, 25]);

    // A command sent once the service is idle: woken by `unyield` (a
    // `Blocker` service has ended at the empty channel: spawn it again).
    tx.send(6).unwrap();
    if handle.is_finished() {
        let (svc, dest, recv, end) = handle.unwrap_state().unwrap();
        end.unwrap();
        handle = sp.spawn(svc, dest, None, recv, 0).unwrap();
    } else {
        handle.unyield().unwrap();
    }
    assert_eq!(results.take(1), vec![31]);

    // Every sender gone: the loop ends normally.
    drop(tx);
    handle.unyield().unwrap();
    let (svc, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert_eq!((svc.total, svc.calls), (31, 7));
    results.assert_empty();
}

macro_rules! scenario_tests {
    ($($name:ident: $spawner:expr, $channel:expr;)*) => {$(
        #[test]
        fn $name() {
            counter_scenario($spawner, $channel);
        }
    )*};
}

scenario_tests! {
    blocker_mpsc: Blocker, MpscChannel::new(8);
    blocker_local: Blocker, LocalRcChannel::new(8);
    restart_mpsc: RestartOrError, MpscChannel::new(8);
    restart_local: RestartOrError, LocalRcChannel::new(8);
    thread_park_mpsc: ThreadPark, MpscChannel::new(8);
    thread_block_mpsc: ThreadBlock, MpscChannel::new(8);
    pool_mpsc: ThreadPool::new(2, 4).unwrap(), MpscChannel::new(8);
}

#[cfg(feature = "coroutine")]
scenario_tests! {
    coroutine_mpsc: mydht_base::CoRoutine::new(), MpscChannel::new(8);
    coroutine_local: mydht_base::CoRoutine::new(), LocalRcChannel::new(8);
}

/// `NoChannel`: only the first command runs, then the loop ends.
fn first_command_only<Sp>(mut sp: Sp)
where
    Sp: Spawner<Counter, TestDest<u64>, NoRecv>,
{
    let (dest, results) = test_dest();
    let handle = sp
        .spawn(Counter::default(), dest, Some(7), NoRecv, 0)
        .unwrap();
    let (svc, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert_eq!(results.take(1), vec![7]);
    assert_eq!(svc.calls, 1);
}

#[test]
fn no_channel_runs_the_first_command_only() {
    first_command_only(Blocker);
    first_command_only(RestartOrError);
    first_command_only(ThreadPark);
    first_command_only(ThreadBlock);
    first_command_only(ThreadPool::new(1, 1).unwrap());
    #[cfg(feature = "coroutine")]
    first_command_only(mydht_base::CoRoutine::new());
}

#[test]
fn no_send_drops_results_and_no_input_refuses_commands() {
    let (mut input, _recv) = SpawnChannel::<u64>::new_channel(&mut mydht_base::NoChannel).unwrap();
    assert_eq!(
        input.send(1u64).unwrap_err().kind(),
        mydht_base::ErrorKind::ChannelClosed
    );
    let handle = Blocker
        .spawn(Counter::default(), NoSend, Some(3), NoRecv, 0)
        .unwrap();
    let (svc, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert_eq!(svc.total, 3);
}

/// A weak handle, cloned to another thread, wakes a `ThreadPark` service.
#[test]
fn thread_park_weak_handle_wakes_from_another_thread() {
    let (mut tx, recv) = MpscChannel::new(4).new_channel().unwrap();
    let (dest, results) = test_dest();
    let handle = ThreadPark
        .spawn(Counter::default(), dest, None, recv, 0)
        .unwrap();
    let weak = handle.get_weak_handle().unwrap();
    let sender = std::thread::spawn(move || {
        let mut weak = weak.clone();
        for c in 1..=3 {
            tx.send(c).unwrap();
            weak.unyield().unwrap();
        }
        assert!(!weak.is_finished());
    });
    assert_eq!(results.take(3), vec![1, 3, 6]);
    sender.join().unwrap();
    let (svc, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    assert_eq!(svc.total, 6);
}

/// The pool refuses services beyond its bound instead of queueing them.
#[test]
fn pool_is_bounded() {
    let mut pool = ThreadPool::new(1, 1).unwrap();
    let (_tx, recv) = MpscChannel::new(1).new_channel().unwrap();
    let (dest, _results) = test_dest::<u64>();
    let first = pool
        .spawn(Counter::default(), dest.clone(), None, recv, 0)
        .unwrap();
    let (_tx2, recv2) = MpscChannel::new(1).new_channel().unwrap();
    let err = pool
        .spawn(Counter::default(), dest, None, recv2, 0)
        .err()
        .unwrap();
    assert_eq!(err.kind(), mydht_base::ErrorKind::ChannelFull);
    let _ = first.unwrap_state().unwrap();
    assert_eq!(pool.live_services(), 0);
}
