//! The application's timer: a configuration's `global_tick` reaches its
//! global service every period, as an api command nobody waits for; a
//! tick made with `GlobalTick::when` skips the periods it has nothing for.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
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

/// A tick's gate: the tick is given only while `open`; each period the
/// maker is consulted it says so on `asked`.
struct Gate {
    open: Arc<AtomicBool>,
    asked: SyncSender<()>,
}

struct TickNode(SyncSender<Instant>, Option<Gate>);

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
        Some(match &self.1 {
            None => GlobalTick::every(PERIOD, || Cmd::Tick),
            Some(gate) => {
                let (open, asked) = (gate.open.clone(), gate.asked.clone());
                GlobalTick::when(PERIOD, move || {
                    let _ = asked.try_send(());
                    open.load(Ordering::SeqCst).then_some(Cmd::Tick)
                })
            }
        })
    }
}

#[test]
fn the_global_service_gets_its_tick_every_period() {
    let (told, ticks) = sync_channel(16);
    let started = Instant::now();
    let node = start_loop(TickNode(told, None)).expect("node");
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

#[test]
fn a_tick_with_nothing_due_does_not_call_the_service() {
    let (told, ticks) = sync_channel(16);
    let (asked_tx, asked) = sync_channel(16);
    let open = Arc::new(AtomicBool::new(false));
    let gate = Gate {
        open: open.clone(),
        asked: asked_tx,
    };
    let node = start_loop(TickNode(told, Some(gate))).expect("node");
    // Three periods pass, the maker consulted each time, with nothing due.
    for _ in 0..3 {
        asked.recv_timeout(TIMEOUT).expect("the maker consulted");
    }
    let count = node.query(Cmd::Count, 1, TIMEOUT).expect("count");
    assert_eq!(count, vec![0], "a skipped tick reached the service");
    assert!(
        ticks.try_recv().is_err(),
        "a skipped tick reached the service"
    );
    // Work due: the next period's tick reaches it.
    open.store(true, Ordering::SeqCst);
    ticks
        .recv_timeout(TIMEOUT)
        .expect("a tick once the gate opened");
    let count = node.query(Cmd::Count, 1, TIMEOUT).expect("count");
    assert!(count[0] >= 1, "{count:?}");
    node.stop().expect("stop");
}
