//! [`ThreadPark`] and [`ThreadParkRef`]: a service on its own thread, parked
//! when it yields, unparked by `unyield`.

use super::thread::{spawn_thread, Direct, Shared, ThreadHandle, ThreadMode, ViaSRef, Waiter};
use super::{LoopYield, OnEmpty};
use crate::error::Result;
#[cfg(unix)]
use crate::service::ReadWait;
use crate::service::{Service, SpawnRecv, SpawnSend, Spawner, SpawnerYield, YieldReturn};
use crate::sref::SRef;

/// Runs each service on its own thread. A yield (inside `call`, or on an
/// empty channel) parks the thread until
/// [`SpawnUnyield::unyield`](crate::SpawnUnyield::unyield) from the handle or a weak handle on any
/// thread; the yield answers [`YieldReturn::Loop`]. Whoever queues a command
/// or sees the service's stream become ready must `unyield` it.
///
/// On an empty channel the thread first polls it again for a few
/// microseconds (std's channel backoff: spins, then `yield_now`), then
/// parks; a service whose polls kept finding nothing (its last four idle
/// periods ended in a park of 20 µs or more) parks at once, until a short
/// park or a wake-up with four commands queued. `unyield` is a load while a
/// wake-up is already pending (the service is busy or polling), an atomic
/// swap otherwise, and a syscall only when the thread is really parked. On
/// Linux, before parking, the thread issues one `membarrier(2)` so that
/// load needs no fence (elsewhere it is a `fence(SeqCst)`).
///
/// A read inside `call` that would block, yielded through
/// [`SpawnerYield::spawn_yield_read`], waits in its socket on Linux
/// (`poll(2)` on it and the thread's eventfd, the poller's watch of its
/// reads off): the data wakes the thread itself, and an `unyield` or a
/// stop ends the wait as it ends a park.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadPark;

/// [`ThreadPark`] for services that hold `Rc`s: the service, its
/// destination, its receiver and its first command are [`SRef`]s, sent to
/// the thread as their sendable form and rebuilt there (and the other way
/// for `unwrap_state`). Pair it with
/// [`MpscChannelRef`](crate::service::channel::MpscChannelRef).
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadParkRef;

pub(crate) struct Park;

pub(crate) struct ParkYield<'a>(&'a Shared, Waiter);

impl SpawnerYield for ParkYield<'_> {
    fn spawn_yield(&mut self) -> YieldReturn {
        if self.0.stopping() {
            return YieldReturn::Return;
        }
        self.0.yield_until_notified(&mut self.1);
        YieldReturn::Loop
    }

    /// Waits in the socket (Linux; module doc of [`ReadWait`]): the data
    /// wakes this thread itself, not the poller's thread which then wakes
    /// it; a notification ends the wait as it ends a park. The poller's
    /// watch of the socket's reads stays off after the wait (the reader
    /// reads on; whoever holds the socket turns it on again). Elsewhere,
    /// or when it cannot wait so, it parks as
    /// [`spawn_yield`](SpawnerYield::spawn_yield) does, the watch on.
    #[cfg(unix)]
    fn spawn_yield_read(&mut self, io: &mut dyn ReadWait) -> YieldReturn {
        if self.0.stopping() {
            let _ = io.poller_reads(true);
            return YieldReturn::Return;
        }
        #[cfg(target_os = "linux")]
        if self.0.wait_read(io, &mut self.1) {
            return YieldReturn::Loop;
        }
        // The poller wakes the service: its watch on, then a park.
        let _ = io.poller_reads(true);
        self.spawn_yield()
    }
}

impl LoopYield for ParkYield<'_> {
    fn on_empty(&mut self, empties: u32) -> OnEmpty {
        if self.0.stopping() {
            return OnEmpty::End;
        }
        self.0.wait_for_input(empties, &mut self.1);
        OnEmpty::Retry
    }

    #[inline]
    fn took(&mut self) {
        self.1.took();
    }
}

impl ThreadMode for Park {
    type Yield<'a> = ParkYield<'a>;
    const NAME: &'static str = "mydht-thread-park";
    fn yielder(shared: &Shared) -> ParkYield<'_> {
        ParkYield(shared, Waiter::default())
    }
}

impl<S, D, R> Spawner<S, D, R> for ThreadPark
where
    S: Service + Send + 'static,
    S::CommandIn: Send + 'static,
    D: SpawnSend<S::CommandOut> + Send + 'static,
    R: SpawnRecv<S::CommandIn> + Send + 'static,
{
    type Handle = ThreadHandle<S, D, R, Direct>;

    fn spawn(
        &mut self,
        service: S,
        dest: D,
        first_cmd: Option<S::CommandIn>,
        recv: R,
        nb_loop: usize,
    ) -> Result<Self::Handle> {
        spawn_thread::<S, D, R, Direct, Park>(service, dest, first_cmd, recv, nb_loop)
    }
}

impl<S, D, R> Spawner<S, D, R> for ThreadParkRef
where
    S: Service + SRef + 'static,
    S::Send: 'static,
    S::CommandIn: SRef,
    <S::CommandIn as SRef>::Send: 'static,
    D: SpawnSend<S::CommandOut> + SRef + 'static,
    D::Send: 'static,
    R: SpawnRecv<S::CommandIn> + SRef + 'static,
    R::Send: 'static,
{
    type Handle = ThreadHandle<S, D, R, ViaSRef>;

    fn spawn(
        &mut self,
        service: S,
        dest: D,
        first_cmd: Option<S::CommandIn>,
        recv: R,
        nb_loop: usize,
    ) -> Result<Self::Handle> {
        spawn_thread::<S, D, R, ViaSRef, Park>(service, dest, first_cmd, recv, nb_loop)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
    use std::time::Duration;

    use super::ThreadPark;
    use crate::service::channel::{MpscChannel, MpscRecv};
    use crate::{Result, Service, SpawnChannel, SpawnRecv, SpawnSend, Spawner, SpawnerYield};

    const WAIT: Duration = Duration::from_secs(10);

    /// Gives back its commands.
    struct Echo;

    impl Service for Echo {
        type CommandIn = u64;
        type CommandOut = u64;
        fn call<Y: SpawnerYield>(&mut self, cmd: u64, _: &mut Y) -> Result<u64> {
            Ok(cmd)
        }
    }

    /// A receiver that, the first time it finds its channel empty, says so
    /// and waits for the test's go before answering "empty".
    struct Gate {
        rx: MpscRecv<u64>,
        empty_seen: Option<(SyncSender<()>, Receiver<()>)>,
    }

    impl SpawnRecv<u64> for Gate {
        fn recv(&mut self) -> Result<Option<u64>> {
            let got = self.rx.recv()?;
            if got.is_none() {
                if let Some((seen, go)) = self.empty_seen.take() {
                    seen.send(()).expect("test alive");
                    go.recv_timeout(WAIT).expect("the test's go");
                }
            }
            Ok(got)
        }
        fn recv_wait(&mut self) -> Result<Option<u64>> {
            self.recv()
        }
    }

    /// The poller's side of a socket: whether it watches the reads.
    #[cfg(target_os = "linux")]
    struct Watch {
        fd: std::os::fd::RawFd,
        poller: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    #[cfg(target_os = "linux")]
    impl crate::ReadWait for Watch {
        fn fd(&self) -> std::os::fd::RawFd {
            self.fd
        }

        fn poller_reads(&mut self, on: bool) -> Result<()> {
            self.poller.store(on, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    /// What the socket reader reports: a byte read, or a wait in the
    /// socket that ended with nothing to read.
    #[cfg(target_os = "linux")]
    #[derive(Debug, PartialEq)]
    enum Seen {
        Byte(usize),
        Woken,
    }

    /// Reads its socket byte by byte, waiting in it (`spawn_yield_read`)
    /// on `WouldBlock`, until a yield answers `Return` (then its count).
    #[cfg(target_os = "linux")]
    struct SocketReader {
        stream: std::net::TcpStream,
        watch: Watch,
        seen: SyncSender<Seen>,
    }

    #[cfg(target_os = "linux")]
    impl Service for SocketReader {
        type CommandIn = ();
        type CommandOut = usize;
        fn call<Y: SpawnerYield>(&mut self, (): (), yld: &mut Y) -> Result<usize> {
            use std::io::Read;
            let mut read = 0;
            let mut byte = [0u8];
            let mut waited = false;
            loop {
                match self.stream.read(&mut byte) {
                    Ok(0) => return Ok(read),
                    Ok(_) => {
                        read += 1;
                        waited = false;
                        let _ = self.seen.send(Seen::Byte(read));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if waited {
                            let _ = self.seen.send(Seen::Woken);
                        }
                        if yld.spawn_yield_read(&mut self.watch) == crate::YieldReturn::Return {
                            return Ok(read);
                        }
                        waited = true;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }

    /// A `ThreadPark` service whose read would block waits in its socket:
    /// the poller's watch of its reads off, the data alone wakes it (no
    /// `unyield`), an `unyield` ends the wait as it ends a park, and a stop
    /// ends it at once, the watch back on.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_parked_service_waits_in_its_socket() {
        use std::io::Write;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        use std::time::Instant;

        use crate::{SpawnHandle, SpawnUnyield};

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (ours, _) = listener.accept().unwrap();
        ours.set_nonblocking(true).unwrap();
        let poller = Arc::new(AtomicBool::new(true));
        let (seen_tx, seen) = sync_channel(64);
        let svc = SocketReader {
            watch: Watch {
                fd: std::os::fd::AsRawFd::as_raw_fd(&ours),
                poller: poller.clone(),
            },
            stream: ours,
            seen: seen_tx,
        };
        let (out_tx, mut out_rx) = MpscChannel::new(8).new_channel().unwrap();
        let (_tx, rx): (_, crate::service::channel::MpscRecv<()>) =
            MpscChannel::new(8).new_channel().unwrap();
        let handle = ThreadPark.spawn(svc, out_tx, Some(()), rx, 0).unwrap();
        let off = |on: bool| {
            let deadline = Instant::now() + WAIT;
            while poller.load(Ordering::SeqCst) != on {
                assert!(Instant::now() < deadline, "the watch never went {on}");
                std::thread::yield_now();
            }
        };
        off(false);
        // The data wakes it: nothing else does here.
        for n in 1..=3 {
            peer.write_all(b"x").unwrap();
            assert_eq!(seen.recv_timeout(WAIT).unwrap(), Seen::Byte(n));
        }
        assert!(!poller.load(Ordering::SeqCst));
        // An unyield ends the wait, with nothing to read; it waits again.
        let mut weak = handle.get_weak_handle().unwrap();
        weak.unyield().unwrap();
        assert_eq!(seen.recv_timeout(WAIT).unwrap(), Seen::Woken);
        peer.write_all(b"x").unwrap();
        assert_eq!(seen.recv_timeout(WAIT).unwrap(), Seen::Byte(4));
        // A stop ends the wait at once; the poller watches again.
        let asked = Instant::now();
        let (_, _, _, end) = handle.unwrap_state().unwrap();
        assert!(asked.elapsed() < WAIT);
        end.unwrap();
        assert_eq!(out_rx.recv_timeout(WAIT).unwrap(), Some(4));
        assert!(poller.load(Ordering::SeqCst));
    }

    /// Commands queued between the service's empty receive and its reading
    /// of the stop request (the handle dropped meanwhile) still run: the
    /// loop looks at its channel once more before it ends.
    #[test]
    fn commands_queued_before_the_stop_request_run() {
        let (mut tx, rx) = MpscChannel::new(8).new_channel().unwrap();
        let (out_tx, mut out_rx) = MpscChannel::new(8).new_channel().unwrap();
        let (seen_tx, seen_rx) = sync_channel(1);
        let (go_tx, go_rx) = sync_channel(1);
        let gate = Gate {
            rx,
            empty_seen: Some((seen_tx, go_rx)),
        };
        // The service holds the only sender of the results: their channel
        // closes when the service ends.
        let handle = ThreadPark.spawn(Echo, out_tx, None, gate, 0).unwrap();
        seen_rx
            .recv_timeout(WAIT)
            .expect("the service found its channel empty");
        for c in [3, 5, 7] {
            tx.send(c).unwrap();
        }
        // The stop request, while the service is between its empty receive
        // and its look at the request.
        drop(handle);
        go_tx.send(()).unwrap();
        let mut got = Vec::new();
        loop {
            match out_rx.recv_timeout(WAIT) {
                Ok(Some(c)) => got.push(c),
                Ok(None) => panic!("no result or end within {WAIT:?}"),
                Err(_) => break,
            }
        }
        assert_eq!(got, vec![3, 5, 7]);
    }
}
