//! The application's timer: a configuration's `global_tick` reaches its
//! global service every period, as an api command nobody waits for.

use std::sync::mpsc::{sync_channel, SyncSender};
use std::time::{Duration, Instant};

use mydht::conf::GlobalTick;
use mydht::prelude::*;
use mydht_basetest::harness::nodes::TIMEOUT;
use mydht_basetest::loopback_conf_items;

const PERIOD: Duration = Duration::from_millis(30);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Cmd {
    Tick,
    /// An ordinary query: how many ticks so far.
    Count,
}

struct Global {
    ticks: u32,
    told: SyncSender<Instant>,
}

impl Service for Global {
    type CommandIn = GlobalCommand<TickNode>;
    type CommandOut = Reply<TickNode>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: Self::CommandIn,
        _: &mut Y,
    ) -> Result<Reply<TickNode>> {
        Ok(match cmd {
            GlobalCommand::Api(qid, Cmd::Tick) => {
                self.ticks += 1;
                let _ = self.told.try_send(Instant::now());
                // Answered as any api command: the answer goes nowhere.
                Reply::Api(qid, self.ticks)
            }
            GlobalCommand::Api(qid, Cmd::Count) => Reply::Api(qid, self.ticks),
            _ => Reply::None,
        })
    }
}

struct Local;

impl Service for Local {
    type CommandIn = LocalCommand<TickNode>;
    type CommandOut = Reply<TickNode>;
    fn call<Y: SpawnerYield>(&mut self, _: Self::CommandIn, _: &mut Y) -> Result<Reply<TickNode>> {
        Ok(Reply::None)
    }
}

struct TickNode(SyncSender<Instant>);

impl MyDHTConf for TickNode {
    loopback_conf_items!();
    type ProtoMsg = ();
    type GlobalCmd = Cmd;
    type ApiReply = u32;
    type GlobalService = Global;
    type LocalService = Local;
    mydht::threaded!();

    fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Global> {
        Ok(Global {
            ticks: 0,
            told: self.0.clone(),
        })
    }
    fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<Local> {
        Ok(Local)
    }
    fn global_tick(&self) -> Option<GlobalTick<Self>> {
        Some((PERIOD, || Cmd::Tick))
    }
}

#[test]
fn the_global_service_gets_its_tick_every_period() {
    let (told, ticks) = sync_channel(16);
    let started = Instant::now();
    let node = start_loop(TickNode(told)).expect("node");
    for k in 1..=3u32 {
        let at = ticks.recv_timeout(TIMEOUT).expect("a tick");
        // Tick k fires no sooner than k periods after the start (each one
        // period after the previous fired; a busy loop fires late, never
        // early). Two deliveries may come closer than a period: the first
        // one can be the later.
        assert!(at.duration_since(started) >= PERIOD * k, "tick {k} early");
    }
    // An ordinary query still gets exactly its own answer.
    let count = node.query(Cmd::Count, 1, TIMEOUT).expect("count");
    assert_eq!(count.len(), 1);
    assert!(count[0] >= 3, "{count:?}");
    node.stop().expect("stop");
}
