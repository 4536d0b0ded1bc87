//! A lent stream whose bytes are late, under the blocking profiles
//! (`may_blocking!`, `threaded_blocking!`): the node holding it waits
//! without burning CPU. The sender (a `threaded!` node) writes a message
//! and the first bytes of its stream, then holds the rest back; while the
//! receiver waits for them, no thread of the process may be runnable
//! (running or queued for a core, the kernel's `schedstat`) as much as a
//! thread of the test that spins on `yield_now` over the same window, all
//! of it. CPU time would not do: a thread spinning on `yield_now` gets
//! little of a loaded machine's CPU, and a thread woken 20 times a second
//! (its socket's timeout) queues for a core most of the window at load 30+
//! here, but not all of it.
//!
//! Under `threaded_blocking!` the read service waits for its stream in
//! `ThreadBlock` yields, which park (until the stream comes back, or
//! `BLOCK_SLICE`); they came back at once before, and the thread was 100 %
//! runnable.
//!
//! Under `may_blocking!` the local service runs inline in the read
//! coroutine, which waits in the socket while the local service reads.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use mydht::service::PeersView;
use mydht::stream::{LentStream, OutStream};
use mydht::{GlobalCommand, LocalCommand, MyDHTConf, PeerId, PeerInfo, QueryId, Reply};
use mydht_base::{Error, Peer, ReadYield, Result, Service, ServiceRestartable, SpawnerYield};
use mydht_basetest::harness::conf::{blocking_loopback, loopback, BLOCKING_IO_TIMEOUT};
use mydht_basetest::harness::nodes::{connect, TIMEOUT};
use mydht_tcp::{BlockingTcpTransport, MayTcpTransport, TcpTransport};
use serde::{Deserialize, Serialize};

/// Bytes sent before the sender holds back.
/// Bytes sent before the sender holds back: enough for the session
/// shadow's chunk writer (64 KiB chunks, up to four per socket write) to
/// put most of them on the socket.
const FIRST: usize = 1 << 20;
/// What the receiver reads before it tells the test it is waiting.
const SEEN: u64 = 256 << 10;
/// Bytes of the whole stream.
const LEN: usize = FIRST + 4096;

/// Where the receiver tells it read `SEEN` bytes (one test at a time).
static SEEN_TX: Mutex<Option<SyncSender<()>>> = Mutex::new(None);
/// How long the receiver is watched while it waits.
const WINDOW: Duration = Duration::from_millis(1500);

/// The sender's stream: `FIRST` bytes, a word that they are out, then the
/// rest once told to go (a blocking read: the sender's write service is a
/// thread).
struct HeldBack {
    sent: usize,
    reached: Option<SyncSender<()>>,
    go: Option<Receiver<()>>,
}

impl Read for HeldBack {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.sent == FIRST {
            if let Some(reached) = self.reached.take() {
                let _ = reached.send(());
            }
            if let Some(go) = self.go.take() {
                go.recv()
                    .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
            }
        }
        let end = if self.sent < FIRST { FIRST } else { LEN };
        let n = buf.len().min(end - self.sent);
        buf[..n].fill(7);
        self.sent += n;
        Ok(n)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Msg {
    Stream(QueryId),
    Got(QueryId, u64),
}

/// Sends the held-back stream to a peer.
struct Send(PeerId, Mutex<Option<HeldBack>>);

impl std::fmt::Debug for Send {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Send").field(&self.0).finish()
    }
}

struct Global<C>(std::marker::PhantomData<fn() -> C>);
mydht_base::sref_as_itself!(impl<C> for Global<C>);

impl<C: MyDHTConf<GlobalCmd = Send, ProtoMsg = Msg>> Service for Global<C> {
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(match cmd {
            GlobalCommand::Api(qid, Send(to, source)) => match source.lock().unwrap().take() {
                Some(source) => Reply::SendStream(to, Msg::Stream(qid), OutStream::new(source)),
                None => Reply::None,
            },
            _ => Reply::None,
        })
    }
}

/// Reads a lent stream to its end, then answers how much it read.
struct Local<C: MyDHTConf> {
    reading: Option<(QueryId, PeerId, LentStream<C>, u64)>,
}

impl<C: MyDHTConf<ProtoMsg = Msg, ApiReply = u64>> Local<C> {
    fn read_on<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Reply<C>> {
        let Some((_, _, stream, got)) = self.reading.as_mut() else {
            return Ok(Reply::None);
        };
        let mut buf = [0u8; 1024];
        while (*got as usize) < LEN {
            let want = buf.len().min(LEN - *got as usize);
            match ReadYield::new(&mut *stream, yld).read(&mut buf[..want]) {
                Ok(0) => return Err(Error::from(io::Error::from(io::ErrorKind::UnexpectedEof))),
                Ok(n) => {
                    let before = *got;
                    *got += n as u64;
                    if before < SEEN && *got >= SEEN {
                        if let Some(seen) = SEEN_TX.lock().unwrap().as_ref() {
                            let _ = seen.try_send(());
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(Error::yielded()),
                Err(e) => return Err(e.into()),
            }
        }
        let Some((qid, from, stream, got)) = self.reading.take() else {
            return Ok(Reply::None);
        };
        stream.give_back();
        Ok(Reply::Send(from, Msg::Got(qid, got)))
    }
}

impl<C: MyDHTConf<ProtoMsg = Msg, ApiReply = u64>> Service for Local<C> {
    type CommandIn = LocalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<C>, yld: &mut Y) -> Result<Reply<C>> {
        let from = *cmd.from.get_id();
        match (cmd.msg, cmd.stream) {
            (Msg::Stream(qid), Some(stream)) => {
                self.reading = Some((qid, from, stream, 0));
                self.read_on(yld)
            }
            (Msg::Got(qid, n), _) => Ok(Reply::Api(qid, n)),
            (Msg::Stream(_), None) => Ok(Reply::None),
        }
    }
}

impl<C: MyDHTConf<ProtoMsg = Msg, ApiReply = u64>> ServiceRestartable for Local<C> {
    fn resume<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Option<Reply<C>>> {
        if self.reading.is_some() {
            self.read_on(yld).map(Some)
        } else {
            Ok(None)
        }
    }
}

fn may_loopback() -> Result<MayTcpTransport> {
    Ok(MayTcpTransport::bind(([127, 0, 0, 1], 0).into())?
        .with_io_timeout(Some(BLOCKING_IO_TIMEOUT)))
}

macro_rules! lent_conf {
    ($name:ident, $transport:ty, $init:expr, $($profile:tt)*) => {
        struct $name;

        impl MyDHTConf for $name {
            type Transport = $transport;
            type MsgEnc = mydht::Bincode;
            type Shadow = mydht::SessionShadow;
            type ProtoMsg = Msg;
            type GlobalCmd = Send;
            type ApiReply = u64;
            type GlobalService = Global<$name>;
            type LocalService = Local<$name>;
            $($profile)*

            fn init_transport(&mut self) -> Result<$transport> {
                $init
            }
            fn init_msg_enc(&mut self) -> mydht::Bincode {
                mydht::Bincode
            }
            fn init_shadow(&mut self) -> mydht::SessionShadow {
                mydht::SessionShadow::default()
            }
            fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Global<$name>> {
                Ok(Global(std::marker::PhantomData))
            }
            fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<Local<$name>> {
                Ok(Local { reading: None })
            }
        }
    };
}

lent_conf!(Sender, TcpTransport, loopback(), mydht::threaded!(););
lent_conf!(OnMay, MayTcpTransport, may_loopback(), mydht::may_blocking!(););
lent_conf!(
    OnThreads,
    BlockingTcpTransport,
    blocking_loopback(),
    mydht::threaded_blocking!();
);

/// How long each thread of this process has been running or ready to run
/// (queued for a core), from the kernel's `schedstat`, by thread id, with
/// its name: a thread that spins is one or the other all the time, a
/// thread that waits (a futex, a socket, a park) neither.
fn runnable_per_thread() -> HashMap<String, (String, Duration)> {
    let mut all = HashMap::new();
    for task in std::fs::read_dir("/proc/self/task")
        .expect("tasks")
        .flatten()
    {
        let dir = task.path();
        let (Ok(stat), Ok(name)) = (
            std::fs::read_to_string(dir.join("schedstat")),
            std::fs::read_to_string(dir.join("comm")),
        ) else {
            continue; // ended meanwhile
        };
        let ns: u64 = stat
            .split_whitespace()
            .take(2)
            .filter_map(|f| f.parse::<u64>().ok())
            .sum();
        let tid = task.file_name().to_string_lossy().into_owned();
        all.insert(tid, (name.trim().to_string(), Duration::from_nanos(ns)));
    }
    all
}

/// Over `WINDOW`: how long each thread of the process was runnable, the
/// most first, with its name, a spinner of the test aside, and how long
/// that spinner (`yield_now` in a loop) was: what a spinning thread shows.
fn watch() -> (Vec<(String, Duration)>, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let (tid_tx, tid_rx) = sync_channel(1);
    let before = runnable_per_thread();
    let spinner = thread::spawn(move || {
        // SAFETY: a plain syscall.
        tid_tx.send(unsafe { libc::gettid() }).expect("tid");
        while !stopping.load(Ordering::Acquire) {
            thread::yield_now();
        }
    });
    let spinner_tid = tid_rx.recv_timeout(TIMEOUT).expect("spinner").to_string();
    // The measuring window (nothing waits on it to happen).
    thread::sleep(WINDOW);
    let after = runnable_per_thread();
    stop.store(true, Ordering::Release);
    spinner.join().expect("spinner");
    let grown = |tid: &String| {
        let (name, now) = &after[tid];
        let then = before.get(tid).map_or(Duration::ZERO, |b| b.1);
        (name.clone(), now.saturating_sub(then))
    };
    let mut threads: Vec<_> = after
        .keys()
        .filter(|tid| **tid != spinner_tid)
        .map(grown)
        .collect();
    threads.sort_by_key(|(_, runnable)| std::cmp::Reverse(*runnable));
    (threads, grown(&spinner_tid).1)
}

/// The sender streams to a `C` receiver, holds back, and the receiver's
/// process share of the CPU is measured while it waits; then the rest
/// comes and the receiver answers it read the whole stream.
fn waits_without_spinning<C>(receiver: C)
where
    C: MyDHTConf<GlobalCmd = Send, ApiReply = u64>,
    mydht::conf::Address<C>: std::str::FromStr,
{
    // One at a time: the CPU time measured is the whole process's.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (seen_tx, seen) = sync_channel(1);
    *SEEN_TX.lock().unwrap() = Some(seen_tx);
    let a = mydht::start_loop(Sender).expect("sender");
    let b = mydht::start_loop(receiver).expect("receiver");
    let to = *connect(&a, &b).expect("connect").get_id();
    let (reached_tx, reached) = sync_channel(1);
    let (go, go_rx) = sync_channel(1);
    let source = HeldBack {
        sent: 0,
        reached: Some(reached_tx),
        go: Some(go_rx),
    };
    let asked = thread::spawn(move || {
        let got = a.query(Send(to, Mutex::new(Some(source))), 1, 4 * TIMEOUT);
        (a, got)
    });
    reached.recv_timeout(TIMEOUT).expect("first bytes sent");
    // The receiver has the stream and reads it: it waits for the rest.
    seen.recv_timeout(TIMEOUT).expect("first bytes read");
    let (threads, spun) = watch();
    go.send(()).expect("go");
    let (a, got) = asked.join().expect("asker");
    assert_eq!(got.expect("answer"), vec![LEN as u64]);
    a.stop().expect("stop sender");
    b.stop().expect("stop receiver");
    let (busiest, runnable) = threads[0].clone();
    eprintln!(
        "over {WINDOW:?}: a yield_now spinner runnable {spun:?}; the most runnable threads {:?}",
        &threads[..threads.len().min(4)]
    );
    assert!(spun > WINDOW * 3 / 4, "the spinner runnable {spun:?}");
    // A spinning thread is runnable all the window, as the control is; a
    // waiting one only when woken (its socket's timeout, 20 times a
    // second), plus its wait for a core: most of the window at load 30+.
    assert!(
        runnable < spun * 9 / 10,
        "thread {busiest} runnable {runnable:?} of {WINDOW:?} while the receiver waited \
         (a spinner {spun:?})"
    );
}

#[test]
fn a_lent_stream_waits_without_spinning_on_may() {
    waits_without_spinning(OnMay);
}

#[test]
fn a_lent_stream_waits_without_spinning_on_threads() {
    waits_without_spinning(OnThreads);
}
