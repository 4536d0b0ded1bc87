//! `LocalDest`, a local service's destination: a reply to its own peer
//! goes straight to the connection's write service while that service
//! runs, and through the main loop (a `MainLoopCommand::Reply` in the
//! loop's channel) once it has ended, instead of into the channel of a
//! write service nobody reads any more.
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
use mydht_base::service::channel::{MpscRecv, NoSend};
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

/// The message the write service's channel got directly, if any.
fn written(rx: &mut MpscRecv<WriteCommand<Threaded>>) -> Option<u64> {
    match rx.recv().expect("write channel open") {
        Some(WriteCommand::Send(WireMessage::App(TouchMsg::Touch(q)))) => Some(q),
        Some(_) => panic!("not a Send of a Touch"),
        None => None,
    }
}

#[test]
fn a_reply_to_the_own_peer_goes_through_the_loop_once_the_write_service_ended() {
    let (peer, other) = (peer_id(1), peer_id(2));
    assert_ne!(peer, other);

    // The main loop's channel and sender (its waker on a real poll; this
    // thread is the loop's, so no wake is needed).
    let poll = mio::Poll::new().expect("poll");
    let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).expect("waker"));
    let (to_loop, mut loop_rx) =
        SpawnChannel::<MainLoopCommandSend<Threaded>>::new_channel(&mut MpscChannel::new(16))
            .expect("loop channel");
    let sender = MainLoopSender::<Threaded>::new(to_loop, waker, true);

    // The write service's channel (kept open throughout: a message sent
    // there after the service ended would be lost, not refused) and its
    // handle.
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
    let mut weak_handle = handle
        .get_weak_handle()
        .expect("thread handles can be shared");
    assert!(!weak_handle.is_finished());

    let mut dest = LocalDest::<Threaded>::new(sender, peer, Some((weak_send, weak_handle.clone())));

    // The write service runs: a reply to the connection's peer goes to it
    // directly; one to another peer goes through the loop.
    dest.send(Reply::Send(peer, TouchMsg::Touch(1)))
        .expect("sent");
    assert_eq!(written(&mut write_rx), Some(1));
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
