//! `IdleInline<ThreadPark>` whose service panics on its thread: a sender
//! of another thread waiting for room in the full channel is released
//! with `ChannelClosed`, as with a plain `ThreadPark` service (the
//! receiver goes with the dead service), and `unwrap_state` reports
//! `ServiceDied`. One test in this binary: on the old code the sender
//! stays blocked for good.

mod common;

use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread;

use common::{settles, test_dest, WAIT};
use mydht_base::service::channel::IdleInlineChannel;
use mydht_base::service::spawn::{IdleInline, InlineCall};
use mydht_base::{
    ErrorKind, Result, Service, ServiceRestartable, SpawnChannel, SpawnHandle, SpawnSend,
    SpawnUnyield, Spawner, SpawnerYield, ThreadPark,
};

enum Cmd {
    /// Answered with its number; never run in place, so it queues.
    Note(u64),
    /// On the service thread: says so on the first channel, waits for
    /// the second, then panics.
    PanicWhenTold(Sender<()>, Receiver<()>),
}

struct Fragile;

impl Service for Fragile {
    type CommandIn = Cmd;
    type CommandOut = u64;
    fn call<Y: SpawnerYield>(&mut self, cmd: Cmd, _: &mut Y) -> Result<u64> {
        match cmd {
            Cmd::Note(n) => Ok(n),
            Cmd::PanicWhenTold(running, told) => {
                running.send(()).expect("the test waits for it");
                // Either the test's word or its end: panic in both cases.
                let _ = told.recv();
                panic!("service panics on purpose (test)");
            }
        }
    }
}

impl ServiceRestartable for Fragile {}

impl InlineCall for Fragile {
    fn inline_ok(&self, _: &Cmd) -> bool {
        false
    }
}

#[test]
fn a_sender_waiting_on_a_full_channel_is_released_when_the_service_panics() {
    let (mut tx, recv) =
        SpawnChannel::<Cmd>::new_channel(&mut IdleInlineChannel::new(1)).expect("channel");
    let (dest, _results) = test_dest();
    let mut handle = IdleInline(ThreadPark)
        .spawn(Fragile, dest, None, recv, 0)
        .expect("spawn");

    let (running_tx, running) = channel();
    let (tell, told) = channel();
    tx.send(Cmd::PanicWhenTold(running_tx, told))
        .expect("queued");
    handle.unyield().expect("the run starts");
    running
        .recv_timeout(WAIT)
        .expect("the service runs the command on its thread");

    // Another sender: its first command fills the channel (capacity 1),
    // the second waits for room, which never comes from this service.
    let mut other = tx.clone();
    let (sent_tx, sent) = channel();
    let sender = thread::spawn(move || {
        let first = other.send(Cmd::Note(71));
        let second = other.send(Cmd::Note(72));
        sent_tx
            .send((first, second))
            .expect("the test waits for it");
    });
    tell.send(()).expect("the service waits for it");

    let (_, second) = sent
        .recv_timeout(WAIT)
        .expect("the waiting sender is released once the service died");
    let e = second.expect_err("no service to take the command");
    assert_eq!(e.kind(), ErrorKind::ChannelClosed);
    sender.join().expect("sender thread");

    // The receiver goes while the panic unwinds; the thread's end, which
    // marks the service finished, follows.
    assert!(settles(|| handle.is_finished()));
    let died = handle
        .unwrap_state()
        .err()
        .expect("the service's state is lost");
    assert_eq!(died.kind(), ErrorKind::ServiceDied);
}
