//! A service shaped as a node's read service, for the `ThreadIdle` tests:
//! it runs one command for as long as its source lasts, reading "bytes"
//! (a counter others raise), and yields when there is nothing to read, as
//! a socket read answering `WouldBlock` does. Each byte read is reported
//! with the thread that read it; the progress survives a `Return` yield
//! (`resume` goes on).

#![allow(dead_code)] // each test file uses its own part of this module

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::thread::{self, ThreadId};

use mydht_base::{Error, Result, Service, ServiceRestartable, SpawnerYield, YieldReturn};

/// The bytes available to read: the count written so far.
#[derive(Default)]
pub struct Source(AtomicUsize);

impl Source {
    /// One more byte to read.
    pub fn push(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// What the reader does after a yield answered `Return`, before it
/// returns: tells the test and waits for its go (a test that acts inside
/// the window between the decision to suspend and the end of the run).
pub struct Pause {
    pub returned: SyncSender<()>,
    pub go: Receiver<()>,
}

/// Reads the source until `until` bytes were read; reports each byte.
pub struct Reader {
    pub src: Arc<Source>,
    pub read: usize,
    pub until: usize,
    pub seen: SyncSender<(usize, ThreadId)>,
    pub pause: Option<Pause>,
    in_call: bool,
}

impl Reader {
    pub fn new(src: Arc<Source>, until: usize, seen: SyncSender<(usize, ThreadId)>) -> Self {
        Reader {
            src,
            read: 0,
            until,
            seen,
            pause: None,
            in_call: false,
        }
    }

    fn run<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<usize> {
        self.in_call = true;
        while self.read < self.until {
            if self.src.0.load(Ordering::SeqCst) > self.read {
                self.read += 1;
                // The test's receiver outlives the service.
                let _ = self.seen.send((self.read, thread::current().id()));
                continue;
            }
            if let YieldReturn::Return = yld.spawn_yield() {
                if let Some(p) = &self.pause {
                    let _ = p.returned.send(());
                    let _ = p.go.recv();
                }
                return Err(Error::yielded());
            }
        }
        self.in_call = false;
        Ok(self.read)
    }
}

impl Service for Reader {
    type CommandIn = ();
    type CommandOut = usize;
    fn call<Y: SpawnerYield>(&mut self, (): (), yld: &mut Y) -> Result<usize> {
        self.run(yld)
    }
}

impl ServiceRestartable for Reader {
    fn resume<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Option<usize>> {
        if self.in_call {
            self.run(yld).map(Some)
        } else {
            Ok(None)
        }
    }
}
