//! Benchmark workloads, public so that the criterion bench of this crate
//! (`benches/service.rs`) and the `mydht bench` command run the same code.
//!
//! The service dispatch workload: `commands` small commands through one
//! service ([`thread_park_mpsc`]) against a raw bounded std channel
//! between two threads ([`raw_mpsc`]), the baseline.

use std::sync::mpsc;
use std::thread;

use crate::service::channel::NoSend;
use crate::{
    Error, ErrorKind, ErrorLevel, MpscChannel, Result, Service, ServiceRestartable, SpawnChannel,
    SpawnHandle, SpawnSend, SpawnUnyield, Spawner, SpawnerYield, ThreadPark,
};

/// The smallest useful service: adds its commands up.
#[derive(Debug, Default)]
pub struct Sum(pub u64);

impl Service for Sum {
    type CommandIn = u64;
    type CommandOut = ();
    fn call<Y: SpawnerYield>(&mut self, cmd: u64, _: &mut Y) -> Result<()> {
        self.0 = self.0.wrapping_add(cmd);
        Ok(())
    }
}

impl ServiceRestartable for Sum {}

/// What both workloads return for `commands` commands: the wrapping sum
/// of `0..commands`.
pub fn expected_sum(commands: u64) -> u64 {
    (0..commands).fold(0u64, |s, c| s.wrapping_add(c))
}

/// The baseline: `0..commands` through a raw bounded std channel of
/// `capacity` to a consumer thread that sums them; the sum.
pub fn raw_mpsc(commands: u64, capacity: usize) -> Result<u64> {
    let (tx, rx) = mpsc::sync_channel::<u64>(capacity);
    let consumer = thread::spawn(move || rx.iter().fold(0u64, |s, c| s.wrapping_add(c)));
    for c in 0..commands {
        tx.send(c).map_err(|_| {
            Error::new(
                ErrorKind::ChannelClosed,
                ErrorLevel::ShutDown,
                "consumer gone",
            )
        })?;
    }
    drop(tx);
    consumer.join().map_err(|_| {
        Error::new(
            ErrorKind::ServiceDied,
            ErrorLevel::ShutDown,
            "consumer panicked",
        )
    })
}

/// `0..commands` through `ThreadPark` + `MpscChannel` of `capacity` to a
/// [`Sum`] service: send, then unyield (a syscall only when the service
/// thread is parked); the sum.
pub fn thread_park_mpsc(commands: u64, capacity: usize) -> Result<u64> {
    let (mut tx, rx) = MpscChannel::new(capacity).new_channel()?;
    let mut handle = ThreadPark.spawn(Sum::default(), NoSend, None, rx, 0)?;
    for c in 0..commands {
        tx.send(c)?;
        handle.unyield()?;
    }
    drop(tx);
    handle.unyield()?;
    Ok(handle.unwrap_state()?.0 .0)
}
