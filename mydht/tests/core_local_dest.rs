//! `LocalDest`, a local service's destination.
//!
//! A reply to its own peer goes straight to the connection's write
//! service while that service runs, and through the main loop (a
//! `MainLoopCommand::Reply` in the loop's channel) once it has ended,
//! instead of into the channel of a write service nobody reads any more.
//!
//! `LocalDest::hold`: the replies of a local service that runs inline in
//! its read service's thread wait for `release` (the read service calls it
//! before it reads its stream again); those to its own peer go to the
//! write service as one batch, in order, the others through the main loop;
//! past 32 held they go at once; once the write service has ended, what is
//! held goes through the main loop before the replies that follow; a
//! dropped destination releases what it holds.
//!
//! The direct way exists only with a thread spawner (its weak handle,
//! `ThreadWeakHandle`, tells whether the service ended), so the write
//! service's handle here is that of a trivial service on `ThreadPark`:
//! the handle type is the same whatever the service, and what `LocalDest`
//! asks of it is only `is_finished` and `unyield`. The thread is stopped
//! and joined (`unwrap_state`) before the fallback is checked: no sleep,
//! no race.

use std::sync::Arc;

use mydht::command::{MainLoopCommand, MainLoopCommandSend, MainLoopSender};
use mydht::frame::WireMessage;
use mydht::service::{LocalDest, Reply, WriteCommand};
use mydht::{Identity, PeerId};
use mydht_base::service::channel::{MpscRecv, MpscSend, NoSend};
use mydht_base::service::spawn::{Direct, ThreadHandle, ThreadWeakHandle};
use mydht_base::{
    MpscChannel, Result, SToRef, Service, SpawnChannel, SpawnHandle, SpawnRecv, SpawnSend,
    SpawnUnyield, Spawner, SpawnerYield, ThreadPark,
};
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::touch::TouchMsg;
use mydht_tcp::TcpTransport;

/// `threaded!` with write services on threads (`ThreadPark`,
/// `MpscChannel`, as the test builds them by hand): local services may
/// then reply directly.
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

/// A destination for `peer` with the main loop's channel (room for
/// `loop_room` commands) and a write service's channel and handle.
struct Fixture {
    dest: LocalDest<Threaded>,
    loop_rx: MpscRecv<MainLoopCommandSend<Threaded>>,
    /// Kept open throughout: a message sent there after the service ended
    /// would be lost, not refused.
    write_tx: MpscSend<WriteCommand<Threaded>>,
    write_rx: MpscRecv<WriteCommand<Threaded>>,
    handle: ThreadHandle<Idle, NoSend, MpscRecv<()>, Direct>,
    weak_handle: ThreadWeakHandle,
    /// The write service's own channel: while it is open the service runs.
    idle_tx: MpscSend<()>,
}

fn fixture(peer: PeerId, loop_room: usize) -> Fixture {
    // The main loop's channel and sender (its waker on a real poll; this
    // thread is the loop's, so no wake is needed).
    let poll = mio::Poll::new().expect("poll");
    let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).expect("waker"));
    let (to_loop, loop_rx) = SpawnChannel::<MainLoopCommandSend<Threaded>>::new_channel(
        &mut MpscChannel::new(loop_room),
    )
    .expect("loop channel");
    let sender = MainLoopSender::<Threaded>::new(to_loop, waker, true);
    let (write_tx, write_rx) =
        SpawnChannel::<WriteCommand<Threaded>>::new_channel(&mut MpscChannel::new(16))
            .expect("write channel");
    let weak_send = <MpscChannel as SpawnChannel<WriteCommand<Threaded>>>::get_weak_send(&write_tx)
        .expect("mpsc senders can be shared");
    let (idle_tx, idle_rx) =
        SpawnChannel::<()>::new_channel(&mut MpscChannel::new(1)).expect("idle channel");
    let handle = ThreadPark
        .spawn(Idle, NoSend, None, idle_rx, 0)
        .expect("spawned");
    let weak_handle = handle
        .get_weak_handle()
        .expect("thread handles can be shared");
    let dest = LocalDest::<Threaded>::new(sender, peer, Some((weak_send, weak_handle.clone())));
    Fixture {
        dest,
        loop_rx,
        write_tx,
        write_rx,
        handle,
        weak_handle,
        idle_tx,
    }
}

fn peer_id(seed: u8) -> PeerId {
    *Identity::from_seed([seed; 32]).expect("identity").id()
}

/// The next command in the main loop's channel, if any.
fn from_loop(
    rx: &mut MpscRecv<MainLoopCommandSend<Threaded>>,
) -> Option<MainLoopCommand<Threaded>> {
    rx.recv().expect("loop channel open").map(|c| c.to_ref())
}

/// The `Reply::Send` the loop got: its peer and query id.
fn loop_send(cmd: Option<MainLoopCommand<Threaded>>) -> (PeerId, u64) {
    match cmd {
        Some(MainLoopCommand::Reply(Reply::Send(to, TouchMsg::Touch(q)))) => (to, q),
        Some(other) => panic!("not a Reply::Send: {:?}", std::mem::discriminant(&other)),
        None => panic!("nothing reached the main loop"),
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
fn a_reply_to_the_own_peer_goes_through_the_loop_once_the_write_service_ended() {
    let (peer, other) = (peer_id(1), peer_id(2));
    assert_ne!(peer, other);
    let Fixture {
        mut dest,
        mut loop_rx,
        write_tx,
        mut write_rx,
        handle,
        mut weak_handle,
        idle_tx: _idle_tx,
    } = fixture(peer, 16);
    assert!(!weak_handle.is_finished());

    // The write service runs: a reply to the connection's peer goes to it
    // directly; one to another peer goes through the loop.
    dest.send(Reply::Send(peer, TouchMsg::Touch(1)))
        .expect("sent");
    assert_eq!(written(&mut write_rx), Some(vec![1]));
    assert!(
        from_loop(&mut loop_rx).is_none(),
        "the direct reply went through the loop"
    );
    dest.send(Reply::Send(other, TouchMsg::Touch(2)))
        .expect("sent");
    assert_eq!(loop_send(from_loop(&mut loop_rx)), (other, 2));
    assert_eq!(written(&mut write_rx), None);

    // The write service ends (stopped, its thread joined).
    let (_, _, _, end) = handle.unwrap_state().expect("joined");
    end.expect("the service ended without an error");
    assert!(weak_handle.is_finished());

    // Now a reply to the connection's peer goes through the loop, not into
    // the ended service's channel: by `send`, and by `try_send`.
    dest.send(Reply::Send(peer, TouchMsg::Touch(3)))
        .expect("sent");
    assert_eq!(loop_send(from_loop(&mut loop_rx)), (peer, 3));
    assert_eq!(
        written(&mut write_rx),
        None,
        "sent to an ended write service"
    );
    assert!(SpawnSend::try_send(&mut dest, Reply::Send(peer, TouchMsg::Touch(4))).is_ok());
    assert_eq!(loop_send(from_loop(&mut loop_rx)), (peer, 4));
    assert_eq!(
        written(&mut write_rx),
        None,
        "sent to an ended write service"
    );
    assert!(from_loop(&mut loop_rx).is_none());
    drop(write_tx);
}

#[test]
fn held_direct_replies_go_as_one_batch_on_release() {
    let (peer, other) = (peer_id(1), peer_id(3));
    assert_ne!(peer, other);
    let Fixture {
        mut dest,
        mut loop_rx,
        write_tx,
        mut write_rx,
        handle,
        idle_tx: _idle_tx,
        ..
    } = fixture(peer, 256);

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

    // The 32nd held reply releases them all, by `try_send` as by `send`.
    for q in 100..131 {
        dest.send(Reply::Send(peer, TouchMsg::Touch(q)))
            .expect("sent");
    }
    assert_eq!(written(&mut write_rx), None);
    assert!(SpawnSend::try_send(&mut dest, Reply::Send(peer, TouchMsg::Touch(131))).is_ok());
    assert_eq!(written(&mut write_rx), Some((100..132).collect()));
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
    let peer = peer_id(2);
    let Fixture {
        mut dest,
        loop_rx: _loop_rx,
        write_tx,
        mut write_rx,
        handle,
        idle_tx: _idle_tx,
        ..
    } = fixture(peer, 16);
    dest.hold();
    dest.send(Reply::Send(peer, TouchMsg::Touch(7)))
        .expect("sent");
    dest.send(Reply::Send(peer, TouchMsg::Touch(8)))
        .expect("sent");
    assert_eq!(written(&mut write_rx), None);
    drop(dest);
    assert_eq!(written(&mut write_rx), Some(vec![7, 8]));
    drop(handle);
    drop(write_tx);
}

#[test]
fn once_a_reply_finds_the_write_channel_full_the_later_ones_follow_it_through_the_loop() {
    let peer = peer_id(4);
    let Fixture {
        mut dest,
        mut loop_rx,
        write_tx,
        mut write_rx,
        // Kept: a dropped handle asks its thread to stop, and a direct
        // reply finding it ended would take the loop's way early.
        handle: _handle,
        idle_tx: _idle_tx,
        ..
    } = fixture(peer, 256);

    // Direct replies fill the write service's channel (room for 16) until
    // one is refused and takes the loop's way.
    let mut q = 0;
    let mut direct = Vec::new();
    let diverted = loop {
        assert!(q < 64, "the write channel never filled up");
        dest.send(Reply::Send(peer, TouchMsg::Touch(q)))
            .expect("sent");
        if let Some(cmd) = from_loop(&mut loop_rx) {
            break loop_send(Some(cmd));
        }
        direct.push(q);
        q += 1;
    };
    assert_eq!(diverted, (peer, q));
    assert!(direct.len() >= 16, "refused early: {direct:?}");
    let mut taken = Vec::new();
    while let Some(ids) = written(&mut write_rx) {
        taken.extend(ids);
    }
    assert_eq!(taken, direct);

    // The write channel has room again, but a later reply must not
    // overtake the one the loop still holds: it goes the same way.
    dest.send(Reply::Send(peer, TouchMsg::Touch(q + 1)))
        .expect("sent");
    assert!(SpawnSend::try_send(&mut dest, Reply::Send(peer, TouchMsg::Touch(q + 2))).is_ok());
    assert_eq!(via_loop(&mut loop_rx, peer), vec![q + 1, q + 2]);
    assert_eq!(written(&mut write_rx), None, "a later reply went direct");
    drop(write_tx);
}
