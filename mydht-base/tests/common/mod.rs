//! What the service-layer tests share: a counter service, a destination the
//! test can wait on, and waiting helpers (timeouts, never sleeps).

#![allow(dead_code)] // each test file uses its own part of this module

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::time::Duration;

use mydht_base::{Result, Service, ServiceRestartable, SpawnSend, SpawnerYield, TrySendError};

/// Long enough for a loaded 2-core machine, short enough to fail a hang.
pub const WAIT: Duration = Duration::from_secs(10);

/// Adds each command to a running total and answers the total.
#[derive(Debug, Default)]
pub struct Counter {
    pub total: u64,
    pub calls: usize,
}

impl Service for Counter {
    type CommandIn = u64;
    type CommandOut = u64;
    fn call<Y: SpawnerYield>(&mut self, cmd: u64, _: &mut Y) -> Result<u64> {
        self.total += cmd;
        self.calls += 1;
        Ok(self.total)
    }
}

impl ServiceRestartable for Counter {}

/// A destination the test reads with a timeout; `Send`, so it works for
/// thread spawners too.
#[derive(Clone)]
pub struct TestDest<T>(SyncSender<T>);

pub struct Results<T>(Receiver<T>);

/// Room for every result a test makes (the longest makes 5,000): a full
/// destination is an error that ends the service, and a test thread that
/// reads its results late on a loaded machine must not cause that (it did:
/// `concurrent_wakers_lose_nothing` failed as if a wake-up were lost).
const RESULTS: usize = 1 << 14;

pub fn test_dest<T>() -> (TestDest<T>, Results<T>) {
    let (tx, rx) = mpsc::sync_channel(RESULTS);
    (TestDest(tx), Results(rx))
}

impl<T> SpawnSend<T> for TestDest<T> {
    fn send(&mut self, cmd: T) -> Result<()> {
        self.0.try_send(cmd).map_err(|_| {
            mydht_base::Error::new(
                mydht_base::ErrorKind::ChannelFull,
                mydht_base::ErrorLevel::ShutDown,
                "test destination full or gone",
            )
        })
    }
    fn try_send(&mut self, cmd: T) -> std::result::Result<(), TrySendError<T>> {
        self.0.try_send(cmd).map_err(|e| match e {
            mpsc::TrySendError::Full(c) => TrySendError::Full(c),
            mpsc::TrySendError::Disconnected(c) => TrySendError::Closed(c),
        })
    }
}

impl<T: std::fmt::Debug> Results<T> {
    /// The next `n` results, each waited for at most [`WAIT`].
    pub fn take(&self, n: usize) -> Vec<T> {
        (0..n)
            .map(|i| {
                self.0
                    .recv_timeout(WAIT)
                    .unwrap_or_else(|e| panic!("result {i} of {n} not delivered: {e}"))
            })
            .collect()
    }

    /// Nothing more was delivered (call once the service is stopped).
    pub fn assert_empty(&self) {
        if let Ok(extra) = self.0.try_recv() {
            panic!("unexpected extra result {extra:?}");
        }
    }

    /// A result if one is already there.
    pub fn try_take(&self) -> Option<T> {
        self.0.try_recv().ok()
    }
}

/// Polls `done`, yielding the thread between looks, until it holds or
/// [`WAIT`] passed (never a sleep to wait); whether it held.
pub fn settles(mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + WAIT;
    while !done() {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::yield_now();
    }
    true
}
