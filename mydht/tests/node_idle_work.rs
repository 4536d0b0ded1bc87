//! The main loop's idle work (the next handshakes' keys) is done one piece
//! after each turn that leaves nothing waiting, so a loop whose gaps are
//! shorter than the quiet its remaining work waits for (1 ms) still gets
//! it done: a tunnel relay's next send-once dial then finds its key made.

use std::time::{Duration, Instant};

use mydht::{MainLoopDriver, MainLoopSpawn, MyDHTConf, NodeHandle};
use mydht_base::Result;
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::TIMEOUT;
use mydht_basetest::touch_conf_items;
use mydht_tcp::TcpTransport;

/// The loop's quiet before the idle work left is done in one go.
const QUIET: Duration = Duration::from_millis(1);

/// A touch node whose main loop the test thread drives.
struct Driven;

impl MyDHTConf for Driven {
    touch_conf_items!(restartable, TcpTransport);

    fn main_loop_spawn(&self) -> MainLoopSpawn {
        MainLoopSpawn::Caller
    }
    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
}

/// Stopping is asked through the handle and done by the next turns.
fn stop_driven<C: MyDHTConf>(driver: &mut MainLoopDriver<C>, handle: NodeHandle<C>) {
    let deadline = Instant::now() + TIMEOUT;
    handle.stop().expect("stop asked");
    while driver
        .run_once(Duration::from_millis(10))
        .expect("loop turn")
    {
        assert!(Instant::now() < deadline, "driven node did not stop");
    }
}

/// A fresh node has spare keys to make (it makes one at start, the others
/// when idle): while any is left the loop may wait at most the quiet.
/// Turns of 200 µs, each shorter than that quiet, make them one a turn;
/// then the loop may wait longer. (Before, idle work waited for 1 ms of
/// quiet: such turns never made a key.)
#[test]
fn idle_work_is_done_in_turns_shorter_than_the_quiet() {
    let (mut driver, handle) = mydht::start_driven(Driven).expect("driven node");
    assert!(
        driver.next_wait() <= QUIET,
        "a fresh node has spare keys to make"
    );
    let mut turns = 0;
    while driver.next_wait() <= QUIET {
        assert!(turns < 64, "idle work left after {turns} short turns");
        assert!(driver
            .run_once(Duration::from_micros(200))
            .expect("loop turn"));
        turns += 1;
    }
    stop_driven(&mut driver, handle);
}
