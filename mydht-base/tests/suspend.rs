//! A service reading a non-blocking stream suspends on `WouldBlock` and
//! completes once woken, under the spawners that can suspend.

mod common;

use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;

use common::{test_dest, Counter, Results, TestDest, WAIT};
use mydht_base::service::channel::NoRecv;
use mydht_base::{
    Error, ErrorKind, ErrorLevel, MpscChannel, ReadYield, RestartOrError, Result, Service,
    ServiceRestartable, SpawnChannel, SpawnHandle, SpawnSend, SpawnUnyield, Spawner, SpawnerYield,
    ThreadPark, ThreadPool,
};

const WOULD_BLOCK: usize = 5;

/// A non-blocking reader: `WouldBlock` a given number of times, then data.
/// Reports each `WouldBlock` so a test can play the poller.
struct MockReader {
    would_block: usize,
    attempts: Arc<AtomicUsize>,
    blocked: SyncSender<()>,
}

impl io::Read for MockReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.would_block > 0 {
            self.would_block -= 1;
            let _ = self.blocked.try_send(());
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let value = 42u64.to_le_bytes();
        buf[..value.len()].copy_from_slice(&value);
        Ok(value.len())
    }
}

/// Reads one value per command; on `WouldBlock` it yields, and under a
/// `Return` yield keeps its progress (the reader) and finishes in `resume`.
struct ReadService {
    reader: MockReader,
    /// A read was interrupted by a `Return` yield.
    pending: bool,
}

impl ReadService {
    /// Reads through `ReadYield`: a `Loop` yield retries inside it, a
    /// `Return` yield gives `WouldBlock` back and the read is finished in
    /// `resume`.
    fn read<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<u64> {
        let mut buf = [0u8; 8];
        match ReadYield::new(&mut self.reader, yld).read(&mut buf) {
            Ok(8) => Ok(u64::from_le_bytes(buf)),
            Ok(_) => Err(Error::new(
                ErrorKind::Decode,
                ErrorLevel::ShutDown,
                "short read",
            )),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.pending = true;
                Err(Error::yielded())
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl Service for ReadService {
    type CommandIn = ();
    type CommandOut = u64;
    fn call<Y: SpawnerYield>(&mut self, _: (), yld: &mut Y) -> Result<u64> {
        self.read(yld)
    }
}

impl ServiceRestartable for ReadService {
    fn resume<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Option<u64>> {
        if !std::mem::take(&mut self.pending) {
            return Ok(None);
        }
        self.read(yld).map(Some)
    }
}

fn read_service() -> (ReadService, Arc<AtomicUsize>, Receiver<()>) {
    let attempts = Arc::new(AtomicUsize::new(0));
    let (blocked, blocked_rx) = mpsc::sync_channel(WOULD_BLOCK + 1);
    let svc = ReadService {
        reader: MockReader {
            would_block: WOULD_BLOCK,
            attempts: attempts.clone(),
            blocked,
        },
        pending: false,
    };
    (svc, attempts, blocked_rx)
}

/// Same-thread spawners: the owner unyields until the result is there; each
/// unyield is one more read attempt.
fn owner_wakes<Sp, H>(mut sp: Sp)
where
    Sp: Spawner<ReadService, TestDest<u64>, NoRecv, Handle = H>,
    H: SpawnHandle<ReadService, TestDest<u64>, NoRecv>,
{
    let (svc, attempts, _blocked) = read_service();
    let (dest, results) = test_dest();
    let mut handle = sp.spawn(svc, dest, Some(()), NoRecv, 0).unwrap();
    let mut unyields = 0;
    let value = loop {
        if let Some(v) = results.try_take() {
            break v;
        }
        assert!(unyields <= WOULD_BLOCK, "woken more than needed");
        handle.unyield().unwrap();
        unyields += 1;
    };
    assert_eq!(value, 42);
    assert_eq!(unyields, WOULD_BLOCK);
    assert_eq!(attempts.load(Ordering::SeqCst), WOULD_BLOCK + 1);
    let (_, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
}

#[test]
fn restart_or_error_completes_when_the_owner_restarts_it() {
    owner_wakes(RestartOrError);
}

#[cfg(feature = "coroutine")]
#[test]
fn coroutine_completes_when_the_owner_resumes_it() {
    owner_wakes(mydht_base::CoRoutine::new());
}

/// `ThreadPark`: a "poller" thread holding a weak handle unyields the
/// service once per `WouldBlock`; nothing else wakes it.
#[test]
fn thread_park_completes_when_unyielded_from_another_thread() {
    let (svc, attempts, blocked) = read_service();
    let (dest, results) = test_dest();
    let handle = ThreadPark.spawn(svc, dest, Some(()), NoRecv, 0).unwrap();
    let mut weak = handle.get_weak_handle().unwrap();
    let poller = std::thread::spawn(move || {
        for _ in 0..WOULD_BLOCK {
            blocked.recv_timeout(WAIT).expect("service did not block");
            weak.unyield().unwrap();
        }
    });
    assert_eq!(results.take(1), vec![42]);
    poller.join().unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), WOULD_BLOCK + 1);
    let (_, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
}

/// A pool service waiting on its stream does not hold the pool's only
/// worker: another service runs meanwhile, then the first completes when
/// unyielded.
#[test]
fn pool_service_waiting_frees_its_worker() {
    let mut pool = ThreadPool::new(1, 4).unwrap();
    let (reader, attempts, blocked) = read_service();
    let (dest, read_results) = test_dest();
    let mut reading = pool.spawn(reader, dest, Some(()), NoRecv, 0).unwrap();
    blocked.recv_timeout(WAIT).unwrap();

    let (mut tx, recv) = MpscChannel::new(4).new_channel().unwrap();
    let (dest, counts): (_, Results<u64>) = test_dest();
    let mut counting = pool.spawn(Counter::default(), dest, None, recv, 0).unwrap();
    tx.send(5).unwrap();
    counting.unyield().unwrap();
    assert_eq!(counts.take(1), vec![5]);
    assert!(read_results.try_take().is_none());

    for i in 0..WOULD_BLOCK {
        reading.unyield().unwrap();
        if i + 1 < WOULD_BLOCK {
            blocked.recv_timeout(WAIT).unwrap();
        }
    }
    assert_eq!(read_results.take(1), vec![42]);
    assert_eq!(attempts.load(Ordering::SeqCst), WOULD_BLOCK + 1);
    drop(tx);
    counting.unyield().unwrap();
    counting.unwrap_state().unwrap().3.unwrap();
    reading.unwrap_state().unwrap().3.unwrap();
}

/// A `ThreadPark` service parked in the middle of a read is asked for its
/// state: its yield answers `Return`, it comes back with `Err(yielded)`, and
/// `RestartOrError` finishes the same read through `resume`.
#[test]
fn service_suspended_mid_read_moves_from_a_thread_to_restart_or_error() {
    let (svc, attempts, blocked) = read_service();
    let (dest, results) = test_dest();
    let handle = ThreadPark.spawn(svc, dest, Some(()), NoRecv, 0).unwrap();
    blocked.recv_timeout(WAIT).unwrap();
    let (svc, dest, recv, end) = handle.unwrap_state().unwrap();
    assert!(end.unwrap_err().is_yielded());
    assert!(svc.pending);
    assert!(results.try_take().is_none());

    let mut handle = RestartOrError.spawn(svc, dest, None, recv, 0).unwrap();
    let mut unyields = 0;
    while results.try_take().is_none() {
        assert!(unyields <= WOULD_BLOCK, "woken more than needed");
        handle.unyield().unwrap();
        unyields += 1;
    }
    // Whichever spawner made an attempt, each one used up one `WouldBlock`:
    // no attempt was lost or repeated in the move.
    assert_eq!(attempts.load(Ordering::SeqCst), WOULD_BLOCK + 1);
    let (_, _, _, end) = handle.unwrap_state().unwrap();
    end.unwrap();
}
