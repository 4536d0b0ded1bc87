//! A service on a `ThreadPark` thread that waits for a command waits
//! parked: its thread uses (almost) no CPU while its channel stays empty,
//! and a command sent then is served at once. The thread's CPU time is read
//! from the kernel's per-thread accounting (`/proc/self/task/<tid>`), the
//! wait is a `recv_timeout` on the service's results, never a sleep.
#![cfg(target_os = "linux")]

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use mydht_base::{
    MpscChannel, Result, Service, SpawnChannel, SpawnHandle, SpawnSend, SpawnUnyield, Spawner,
    SpawnerYield, ThreadPark, TrySendError,
};

/// Long enough for a loaded 2-core machine, short enough to fail a hang.
const WAIT: Duration = Duration::from_secs(10);
/// How long the service is left waiting while its CPU time is measured.
const IDLE: Duration = Duration::from_millis(300);
/// The share of the wait the service thread may spend on a CPU: its brief
/// spin before parking is microseconds; spinning the whole wait is ~100%.
const MAX_SHARE: f64 = 0.10;

/// Answers each command with itself and the id of the thread it ran on.
struct WhereAmI;

impl Service for WhereAmI {
    type CommandIn = u64;
    type CommandOut = (u64, u32);
    fn call<Y: SpawnerYield>(&mut self, cmd: u64, _: &mut Y) -> Result<(u64, u32)> {
        Ok((cmd, current_tid()))
    }
}

/// The kernel's id of the calling thread: `/proc/thread-self` links to
/// `<pid>/task/<tid>`.
fn current_tid() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    link.file_name()
        .and_then(|t| t.to_str())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no tid in {link:?}"))
}

/// CPU time thread `tid` of this process has used so far: `schedstat`'s
/// nanoseconds when the kernel has them, else `stat`'s utime + stime (in
/// clock ticks, 100 per second on Linux).
fn thread_cpu(tid: u32) -> Duration {
    let dir = format!("/proc/self/task/{tid}");
    if let Ok(s) = std::fs::read_to_string(format!("{dir}/schedstat")) {
        if let Some(ns) = s.split_whitespace().next().and_then(|n| n.parse().ok()) {
            return Duration::from_nanos(ns);
        }
    }
    let stat = std::fs::read_to_string(format!("{dir}/stat")).expect("thread stat");
    // Fields after the command name (which may hold spaces), from `state`:
    // utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    Duration::from_millis((f[11] + f[12]) * 10)
}

/// Results the test waits on with a timeout.
struct Dest(SyncSender<(u64, u32)>);

impl SpawnSend<(u64, u32)> for Dest {
    fn send(&mut self, r: (u64, u32)) -> Result<()> {
        self.try_send(r).map_err(|_| {
            mydht_base::Error::new(
                mydht_base::ErrorKind::ChannelFull,
                mydht_base::ErrorLevel::ShutDown,
                "test destination full or gone",
            )
        })
    }
    fn try_send(&mut self, r: (u64, u32)) -> std::result::Result<(), TrySendError<(u64, u32)>> {
        self.0.try_send(r).map_err(|e| match e {
            mpsc::TrySendError::Full(c) => TrySendError::Full(c),
            mpsc::TrySendError::Disconnected(c) => TrySendError::Closed(c),
        })
    }
}

fn next(results: &Receiver<(u64, u32)>) -> (u64, u32) {
    results.recv_timeout(WAIT).expect("result delivered")
}

#[test]
fn a_waiting_thread_park_service_uses_no_cpu() {
    let (mut commands, recv) = MpscChannel::new(8).new_channel().expect("channel");
    let (tx, results) = mpsc::sync_channel(8);
    let mut handle = ThreadPark
        .spawn(WhereAmI, Dest(tx), Some(1), recv, 0)
        .expect("spawn");
    // The first command tells where the service runs.
    let (first, tid) = next(&results);
    assert_eq!(first, 1);
    assert_ne!(tid, current_tid(), "the service runs on its own thread");

    // Its channel is empty: it waits. Nothing comes during the wait.
    let cpu_before = thread_cpu(tid);
    let start = Instant::now();
    assert_eq!(
        results.recv_timeout(IDLE),
        Err(RecvTimeoutError::Timeout),
        "a result without a command"
    );
    let waited = start.elapsed();
    let used = thread_cpu(tid) - cpu_before;
    assert!(
        used.as_secs_f64() < MAX_SHARE * waited.as_secs_f64(),
        "the waiting service thread used {used:?} of CPU in {waited:?}"
    );

    // A command sent now is served, on the same thread.
    commands.send(2).expect("send");
    handle.unyield().expect("wake");
    assert_eq!(next(&results), (2, tid));

    drop(commands);
    handle.unyield().expect("wake to end");
    let (_, _, _, end) = handle.unwrap_state().expect("state back");
    end.expect("the loop ends normally");
}
