//! A service and commands holding `Rc`s run on another thread through
//! `ThreadParkRef` + `MpscChannelRef`, and come back as `Rc`s.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::WAIT;
use mydht_base::service::channel::{MpscRefRecv, MpscRefSend};
use mydht_base::{
    MpscChannelRef, Result, SRef, SToRef, Service, SpawnChannel, SpawnHandle, SpawnSend,
    SpawnUnyield, Spawner, SpawnerYield, ThreadParkRef,
};

/// A command holding an `Rc` (not `Send`).
#[derive(Debug, Clone)]
struct Msg(Rc<String>);

/// Its sendable form.
struct MsgSend(String);

impl SRef for Msg {
    type Send = MsgSend;
    fn get_sendable(self) -> MsgSend {
        MsgSend((*self.0).clone())
    }
}

impl SToRef<Msg> for MsgSend {
    fn to_ref(self) -> Msg {
        Msg(Rc::new(self.0))
    }
}

/// A service whose state is shared through `Rc`s.
struct Greeter {
    seen: Rc<RefCell<Vec<Rc<String>>>>,
}

struct GreeterSend(Vec<String>);

impl SRef for Greeter {
    type Send = GreeterSend;
    fn get_sendable(self) -> GreeterSend {
        GreeterSend(self.seen.borrow().iter().map(|s| (**s).clone()).collect())
    }
}

impl SToRef<Greeter> for GreeterSend {
    fn to_ref(self) -> Greeter {
        Greeter {
            seen: Rc::new(RefCell::new(self.0.into_iter().map(Rc::new).collect())),
        }
    }
}

impl Service for Greeter {
    type CommandIn = Msg;
    type CommandOut = Msg;
    fn call<Y: SpawnerYield>(&mut self, cmd: Msg, _: &mut Y) -> Result<Msg> {
        self.seen.borrow_mut().push(cmd.0.clone());
        Ok(Msg(Rc::new(format!("hello {}", cmd.0))))
    }
}

#[test]
fn rc_commands_cross_threads_and_come_back_as_rc() {
    let (mut tx, recv): (MpscRefSend<Msg>, MpscRefRecv<Msg>) =
        MpscChannelRef::new(4).new_channel().unwrap();
    let (dest, mut results): (MpscRefSend<Msg>, MpscRefRecv<Msg>) =
        MpscChannelRef::new(4).new_channel().unwrap();
    let service = Greeter {
        seen: Rc::new(RefCell::new(vec![Rc::new("before".to_string())])),
    };
    let first = Msg(Rc::new("alice".to_string()));
    let mut handle = ThreadParkRef
        .spawn(service, dest, Some(first), recv, 0)
        .unwrap();
    tx.send(Msg(Rc::new("bob".to_string()))).unwrap();
    handle.unyield().unwrap();

    let mut replies: Vec<Rc<String>> = Vec::new();
    while replies.len() < 2 {
        if let Some(Msg(rc)) = results.recv_timeout(WAIT).unwrap() {
            replies.push(rc);
        }
    }
    assert_eq!(*replies[0], "hello alice");
    assert_eq!(*replies[1], "hello bob");
    // Rebuilt on this side: a fresh, unshared `Rc`.
    assert_eq!(Rc::strong_count(&replies[0]), 1);

    let (service, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    let seen: Vec<String> = service
        .seen
        .borrow()
        .iter()
        .map(|s| (**s).clone())
        .collect();
    assert_eq!(seen, ["before", "alice", "bob"]);
}
