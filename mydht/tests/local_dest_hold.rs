//! `LocalDest::hold`: the replies of a local service that runs inline in
//! its read service's thread wait for `release` (the read service calls it
//! before it reads its stream again); those to its own peer go to the
//! write service as one batch, in order, the others through the main loop; past 64 held they go at once; once the
//! write service has ended, what is held goes through the main loop before
//! the replies that follow; a dropped destination releases what it holds.
//!
//! The write service's handle is that of a trivial service on
//! `ThreadPark` (what `LocalDest` asks of it is only `is_finished` and
//! `unyield`), stopped and joined before the fallback is checked.

use std::sync::Arc;

use mydht::command::{MainLoopCommand, MainLoopCommandSend, MainLoopSender};
use mydht::frame::WireMessage;
use mydht::service::{LocalDest, Reply, WriteCommand};
use mydht::{Identity, PeerId};
use mydht_base::service::channel::{MpscRecv, NoSend};
use mydht_base::{
    MpscChannel, Result, SToRef, Service, SpawnChannel, SpawnHandle, SpawnRecv, SpawnSend, Spawner,
    SpawnerYield, ThreadPark,
};
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::touch::TouchMsg;
use mydht_tcp::TcpTransport;

/// `threaded!` with the write service's spawner and channel the test
/// builds by hand (`ThreadPark`, `MpscChannel`).
pub struct Threaded;

impl mydht::MyDHTConf for Threaded {
    mydht_basetest::touch_conf_items!(threaded(write: ThreadPark, MpscChannel;), TcpTransport);
    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
}

/// Stands in for the write service: its handle is what `LocalDest` holds.
struct Idle;

impl Service for Idle {
    type CommandIn = ();
    type CommandOut = ();
    fn call<Y: SpawnerYield>(&mut self, _: (), _: &mut Y) -> Result<()> {
        Ok(())
    }
}

/// The query ids of what the write service's channel got next: one
/// command (a `Send` or a `Batch`), `None` when empty.
fn written(rx: &mut MpscRecv<WriteCommand<Threaded>>) -> Option<Vec<u64>> {
    let ids = |msgs: Vec<WireMessage<TouchMsg>>| {
        msgs.into_iter()
            .map(|m| match m {
                WireMessage::App(TouchMsg::Touch(q)) => q,
                _ => panic!("not a Touch"),
            })
            .collect()
    };
    match rx.recv().expect("write channel open") {
        Some(WriteCommand::Send(m)) => Some(ids(vec![m])),
        Some(WriteCommand::Batch(ms)) => Some(ids(ms)),
        Some(_) => panic!("neither Send nor Batch"),
        None => None,
    }
}

/// The query ids of the `Reply::Send`s to `peer` in the loop's channel.
fn via_loop(rx: &mut MpscRecv<MainLoopCommandSend<Threaded>>, peer: PeerId) -> Vec<u64> {
    let mut got = Vec::new();
    while let Some(cmd) = rx.recv().expect("loop channel open") {
        match cmd.to_ref() {
            MainLoopCommand::Reply(Reply::Send(to, TouchMsg::Touch(q))) if to == peer => {
                got.push(q)
            }
            _ => panic!("not a Reply::Send to the peer"),
        }
    }
    got
}

#[test]
fn held_direct_replies_go_as_one_batch_on_release() {
    let peer = *Identity::from_seed([1; 32]).expect("identity").id();
    let other = *Identity::from_seed([3; 32]).expect("identity").id();
    assert_ne!(peer, other);
    let poll = mio::Poll::new().expect("poll");
    let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).expect("waker"));
    let (to_loop, mut loop_rx) =
        SpawnChannel::<MainLoopCommandSend<Threaded>>::new_channel(&mut MpscChannel::new(256))
            .expect("loop channel");
    let sender = MainLoopSender::<Threaded>::new(to_loop, waker, true);
    let (write_tx, mut write_rx) =
        SpawnChannel::<WriteCommand<Threaded>>::new_channel(&mut MpscChannel::new(16))
            .expect("write channel");
    let weak_send = <MpscChannel as SpawnChannel<WriteCommand<Threaded>>>::get_weak_send(&write_tx)
        .expect("mpsc senders can be shared");
    let (_idle_tx, idle_rx) =
        SpawnChannel::<()>::new_channel(&mut MpscChannel::new(1)).expect("idle channel");
    let handle = ThreadPark
        .spawn(Idle, NoSend, None, idle_rx, 0)
        .expect("spawned");
    let weak_handle = handle.get_weak_handle().expect("shared handle");
    let mut dest = LocalDest::<Threaded>::new(sender, peer, Some((weak_send, weak_handle)));

    // Not holding: each reply goes at once.
    dest.send(Reply::Send(peer, TouchMsg::Touch(1)))
        .expect("sent");
    assert_eq!(written(&mut write_rx), Some(vec![1]));

    // Holding: nothing goes before the release, then the replies to the
    // peer in one command, the one to another peer through the loop.
    dest.hold();
    assert!(!dest.holds());
    for q in 2..5 {
        dest.send(Reply::Send(peer, TouchMsg::Touch(q)))
            .expect("sent");
    }
    dest.send(Reply::Send(other, TouchMsg::Touch(5)))
        .expect("sent");
    assert!(dest.holds());
    assert_eq!(written(&mut write_rx), None, "a held reply went out");
    assert!(
        via_loop(&mut loop_rx, other).is_empty(),
        "a held reply went out"
    );
    dest.release().expect("released");
    assert!(!dest.holds());
    assert_eq!(written(&mut write_rx), Some(vec![2, 3, 4]));
    assert_eq!(via_loop(&mut loop_rx, other), vec![5]);
    assert_eq!(written(&mut write_rx), None);
    // A release with nothing held sends nothing.
    dest.release().expect("released");
    assert_eq!(written(&mut write_rx), None);

    // The 64th held reply releases them all, by `try_send` as by `send`.
    for q in 100..163 {
        dest.send(Reply::Send(peer, TouchMsg::Touch(q)))
            .expect("sent");
    }
    assert_eq!(written(&mut write_rx), None);
    assert!(SpawnSend::try_send(&mut dest, Reply::Send(peer, TouchMsg::Touch(163))).is_ok());
    assert_eq!(written(&mut write_rx), Some((100..164).collect()));
    assert!(via_loop(&mut loop_rx, peer).is_empty());

    // The write service ends: what is held goes through the loop, before
    // the replies that follow.
    dest.send(Reply::Send(peer, TouchMsg::Touch(200)))
        .expect("sent");
    let (_, _, _, end) = handle.unwrap_state().expect("joined");
    end.expect("the service ended without an error");
    dest.send(Reply::Send(peer, TouchMsg::Touch(201)))
        .expect("sent");
    assert!(
        via_loop(&mut loop_rx, peer).is_empty(),
        "a held reply went out"
    );
    dest.release().expect("released");
    assert_eq!(via_loop(&mut loop_rx, peer), vec![200, 201]);
    assert_eq!(
        written(&mut write_rx),
        None,
        "sent to an ended write service"
    );
    drop(write_tx);
}

#[test]
fn a_dropped_destination_releases_what_it_holds() {
    let peer = *Identity::from_seed([2; 32]).expect("identity").id();
    let poll = mio::Poll::new().expect("poll");
    let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).expect("waker"));
    let (to_loop, _loop_rx) =
        SpawnChannel::<MainLoopCommandSend<Threaded>>::new_channel(&mut MpscChannel::new(16))
            .expect("loop channel");
    let sender = MainLoopSender::<Threaded>::new(to_loop, waker, true);
    let (write_tx, mut write_rx) =
        SpawnChannel::<WriteCommand<Threaded>>::new_channel(&mut MpscChannel::new(16))
            .expect("write channel");
    let weak_send = <MpscChannel as SpawnChannel<WriteCommand<Threaded>>>::get_weak_send(&write_tx)
        .expect("mpsc senders can be shared");
    let (_idle_tx, idle_rx) =
        SpawnChannel::<()>::new_channel(&mut MpscChannel::new(1)).expect("idle channel");
    let handle = ThreadPark
        .spawn(Idle, NoSend, None, idle_rx, 0)
        .expect("spawned");
    let weak_handle = handle.get_weak_handle().expect("shared handle");
    let mut dest = LocalDest::<Threaded>::new(sender, peer, Some((weak_send, weak_handle)));
    dest.hold();
    dest.send(Reply::Send(peer, TouchMsg::Touch(7)))
        .expect("sent");
    dest.send(Reply::Send(peer, TouchMsg::Touch(8)))
        .expect("sent");
    assert_eq!(written(&mut write_rx), None);
    drop(dest);
    assert_eq!(written(&mut write_rx), Some(vec![7, 8]));
    drop(handle);
}
