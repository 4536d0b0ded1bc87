//! One counter service run in turn under every spawner, its state carried
//! from one to the next by `unwrap_state`.
//!
//! `cargo run -p mydht-base --example spawners` (`MayCoroutine` with
//! `--features may-sched`, which the crate's own examples and tests enable)

use mydht_base::service::channel::{MpscRecv, MpscSend};
use mydht_base::{
    Blocker, MpscChannel, RestartOrError, Result, Service, ServiceRestartable, SpawnChannel,
    SpawnHandle, SpawnSend, SpawnUnyield, Spawner, SpawnerYield, ThreadBlock, ThreadPark,
    ThreadPool,
};

/// Adds its commands up and answers the running total.
struct Counter {
    total: u64,
}

impl Service for Counter {
    type CommandIn = u64;
    type CommandOut = u64;
    fn call<Y: SpawnerYield>(&mut self, cmd: u64, _: &mut Y) -> Result<u64> {
        self.total += cmd;
        Ok(self.total)
    }
}

impl ServiceRestartable for Counter {}

type State = (Counter, MpscSend<u64>, MpscRecv<u64>);

/// Queues two commands, runs the counter under `sp` until they are done,
/// and takes the state back (the input channel stays open throughout).
fn run_under<Sp>(
    name: &str,
    mut sp: Sp,
    state: State,
    input: &mut MpscSend<u64>,
    results: &mut MpscRecv<u64>,
) -> State
where
    Sp: Spawner<Counter, MpscSend<u64>, MpscRecv<u64>>,
{
    let (counter, dest, recv) = state;
    input.send(counter.total + 1).unwrap();
    input.send(counter.total + 2).unwrap();
    let mut handle = sp.spawn(counter, dest, None, recv, 0).unwrap();
    // Wakes the service if it is suspended or parked (a `Blocker` already
    // ran inline in `spawn`).
    handle.unyield().unwrap();
    for _ in 0..2 {
        let total = results
            .recv_timeout(std::time::Duration::from_secs(5))
            .unwrap()
            .expect("result delivered");
        println!("{name:<15} total = {total}");
    }
    // Ends the loop (its channel is empty) and gives the state back.
    let (counter, dest, recv, end) = handle.unwrap_state().unwrap();
    end.unwrap();
    (counter, dest, recv)
}

fn main() {
    let (dest, mut results) = MpscChannel::new(4).new_channel().unwrap();
    let (mut input, recv) = MpscChannel::new(4).new_channel().unwrap();
    let mut state: State = (Counter { total: 0 }, dest, recv);
    let (i, r) = (&mut input, &mut results);
    state = run_under("Blocker", Blocker, state, i, r);
    state = run_under("RestartOrError", RestartOrError, state, i, r);
    state = run_under("ThreadPark", ThreadPark, state, i, r);
    state = run_under("ThreadBlock", ThreadBlock, state, i, r);
    state = run_under("ThreadPool", ThreadPool::new(2, 8).unwrap(), state, i, r);
    #[cfg(feature = "coroutine")]
    {
        state = run_under("CoRoutine", mydht_base::CoRoutine::new(), state, i, r);
    }
    #[cfg(feature = "may-sched")]
    {
        // SAFETY: the counter touches no thread-local storage and uses
        // little stack.
        let may = unsafe { mydht_base::service::spawn::MayCoroutine::new() };
        state = run_under("MayCoroutine", may, state, i, r);
    }
    println!("final total: {}", state.0.total);
}
