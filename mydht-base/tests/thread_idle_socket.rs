//! `ThreadIdle` waiting in its socket (`SpawnerYield::spawn_yield_read`):
//! a read that would block waits in the socket itself with the poller's
//! watch of its reads off, so the data alone wakes the thread (no
//! `unyield`); a stop ends that wait at once whatever the idle time; an
//! idle service turns the poller's watch back on before it gives its
//! thread up, and is restarted by the poller's wake-up as before; the end
//! of the peer's stream is seen. One test in this binary: it counts the
//! process's suspended services.

#![cfg(target_os = "linux")]

mod common;

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use common::{settles, test_dest, WAIT};
use mydht_base::service::channel::NoRecv;
use mydht_base::service::spawn::ThreadIdle;
use mydht_base::{
    Error, ErrorKind, ReadWait, Result, Service, ServiceRestartable, SpawnHandle, SpawnUnyield,
    Spawner, SpawnerYield, YieldReturn,
};

/// The poller's side of a socket: whether it watches the reads.
struct Watch {
    fd: RawFd,
    poller: Arc<AtomicBool>,
}

impl ReadWait for Watch {
    fn fd(&self) -> RawFd {
        self.fd
    }

    fn poller_reads(&mut self, on: bool) -> Result<()> {
        self.poller.store(on, Ordering::SeqCst);
        Ok(())
    }
}

/// Reads its socket byte by byte until its end, yielding in the socket on
/// `WouldBlock`; reports each byte with the thread that read it.
struct SocketReader {
    stream: UnixStream,
    watch: Watch,
    read: usize,
    seen: SyncSender<(usize, ThreadId)>,
    in_call: bool,
}

impl SocketReader {
    fn run<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<usize> {
        self.in_call = true;
        let mut byte = [0u8];
        loop {
            match self.stream.read(&mut byte) {
                Ok(0) => break,
                Ok(_) => {
                    self.read += 1;
                    // The test's receiver outlives the service.
                    let _ = self.seen.send((self.read, thread::current().id()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let YieldReturn::Return = yld.spawn_yield_read(&mut self.watch) {
                        return Err(Error::yielded());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.in_call = false;
        Ok(self.read)
    }
}

impl Service for SocketReader {
    type CommandIn = ();
    type CommandOut = usize;
    fn call<Y: SpawnerYield>(&mut self, (): (), yld: &mut Y) -> Result<usize> {
        self.run(yld)
    }
}

impl ServiceRestartable for SocketReader {
    fn resume<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Option<usize>> {
        if self.in_call {
            self.run(yld).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// A reader of one end of a socket pair, the other end, the poller's flag
/// and the reports.
fn reader() -> (
    SocketReader,
    UnixStream,
    Arc<AtomicBool>,
    mpsc::Receiver<(usize, ThreadId)>,
) {
    let (ours, peer) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    let poller = Arc::new(AtomicBool::new(true));
    let (seen_tx, seen) = mpsc::sync_channel(64);
    let reader = SocketReader {
        watch: Watch {
            fd: ours.as_raw_fd(),
            poller: poller.clone(),
        },
        stream: ours,
        read: 0,
        seen: seen_tx,
        in_call: false,
    };
    (reader, peer, poller, seen)
}

#[test]
fn a_thread_idle_service_waits_in_its_socket() {
    // Waiting in the socket, idle for longer than any test: the data wakes
    // it with no unyield, the poller's watch off meanwhile.
    let (svc, mut peer, poller, seen) = reader();
    let (dest, _results) = test_dest();
    let handle = ThreadIdle::new(Duration::from_secs(3600))
        .spawn(svc, dest, Some(()), NoRecv, 0)
        .unwrap();
    assert!(settles(|| !poller.load(Ordering::SeqCst)), "watch off");
    for n in 1..=3 {
        peer.write_all(b"x").unwrap();
        let (got, on) = seen.recv_timeout(WAIT).unwrap();
        assert_eq!(got, n);
        assert_ne!(on, thread::current().id());
    }
    assert!(!poller.load(Ordering::SeqCst));
    assert_eq!(ThreadIdle::idle_services(), (1, 0));

    // A stop ends the wait in the socket at once (not after the hour), and
    // the poller watches the socket again.
    let asked = Instant::now();
    let (svc, _, _, end) = handle.unwrap_state().unwrap();
    assert!(
        asked.elapsed() < WAIT,
        "stop seen while waiting in the socket"
    );
    assert_eq!(end.unwrap_err().kind(), ErrorKind::Yielded);
    assert_eq!(svc.read, 3);
    assert!(poller.load(Ordering::SeqCst));
    drop(svc);
    // The run's thread lets its share go just after it gave the state.
    assert!(settles(|| ThreadIdle::idle_services() == (0, 0)));

    // Idle after 50 ms: the watch back on, then the thread given up; the
    // poller's wake-up restarts it, and it waits in its socket again.
    let (svc, mut peer, poller, seen) = reader();
    let (dest, results) = test_dest();
    let mut handle = ThreadIdle::new(Duration::from_millis(50))
        .spawn(svc, dest, Some(()), NoRecv, 0)
        .unwrap();
    assert!(
        settles(|| ThreadIdle::idle_services() == (1, 1)),
        "suspends"
    );
    assert!(poller.load(Ordering::SeqCst), "watch on while suspended");
    peer.write_all(b"x").unwrap();
    handle.unyield().unwrap();
    assert_eq!(seen.recv_timeout(WAIT).unwrap().0, 1);
    assert!(settles(
        || !poller.load(Ordering::SeqCst) || ThreadIdle::idle_services() == (1, 1)
    ));

    // The peer's end: the command ends with what it read.
    drop(peer);
    handle.unyield().unwrap();
    assert_eq!(results.take(1), vec![1]);
    assert!(settles(|| handle.is_finished()));
    drop(handle);
    assert!(settles(|| ThreadIdle::idle_services() == (0, 0)));
}
