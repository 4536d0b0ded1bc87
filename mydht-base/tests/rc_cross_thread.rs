//! A service and commands holding `Rc`s run on another thread through
//! `ThreadParkRef` + `MpscChannelRef`, and come back as `Rc`s. Their
//! sendable twins come from `sref_enum!` / `sref_struct!`, as users write
//! them.

mod common;

use std::rc::Rc;

use common::WAIT;
use mydht_base::service::channel::{MpscRefRecv, MpscRefSend};
use mydht_base::{
    MpscChannelRef, RcRef, Result, Service, SpawnChannel, SpawnHandle, SpawnSend, SpawnUnyield,
    Spawner, SpawnerYield, ThreadParkRef,
};

mydht_base::sref_enum! {
    /// A command holding an `Rc` (not `Send`).
    #[derive(Debug, Clone)]
    pub enum Msg => MsgSend {
        /// Greet someone.
        Greet(RcRef<String>),
    }
}

mydht_base::sref_struct! {
    /// A service whose state holds `Rc`s.
    pub struct Greeter => GreeterSend {
        seen: Vec<RcRef<String>>,
    }
}

impl Service for Greeter {
    type CommandIn = Msg;
    type CommandOut = Msg;
    fn call<Y: SpawnerYield>(&mut self, cmd: Msg, _: &mut Y) -> Result<Msg> {
        let Msg::Greet(name) = cmd;
        self.seen.push(name.clone());
        Ok(Msg::Greet(RcRef::new(format!("hello {}", *name))))
    }
}

fn greet(name: &str) -> Msg {
    Msg::Greet(RcRef::new(name.to_string()))
}

#[test]
fn rc_commands_cross_threads_and_come_back_as_rc() {
    let (mut tx, recv): (MpscRefSend<Msg>, MpscRefRecv<Msg>) =
        MpscChannelRef::new(4).new_channel().unwrap();
    let (dest, mut results): (MpscRefSend<Msg>, MpscRefRecv<Msg>) =
        MpscChannelRef::new(4).new_channel().unwrap();
    let service = Greeter {
        seen: vec![RcRef::new("before".to_string())],
    };
    let mut handle = ThreadParkRef
        .spawn(service, dest, Some(greet("alice")), recv, 0)
        .unwrap();
    tx.send(greet("bob")).unwrap();
    handle.unyield().unwrap();

    let mut replies: Vec<RcRef<String>> = Vec::new();
    while replies.len() < 2 {
        if let Some(Msg::Greet(name)) = results.recv_timeout(WAIT).unwrap() {
            replies.push(name);
        }
    }
    assert_eq!(*replies[0], "hello alice");
    assert_eq!(*replies[1], "hello bob");
    // Rebuilt on this side as a fresh, unshared `Rc`.
    assert_eq!(Rc::strong_count(replies[0].as_rc()), 1);

    let (service, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    let seen: Vec<&str> = service.seen.iter().map(|s| s.as_str()).collect();
    assert_eq!(seen, ["before", "alice", "bob"]);
}
