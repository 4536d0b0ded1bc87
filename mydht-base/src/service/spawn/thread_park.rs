//! [`ThreadPark`] and [`ThreadParkRef`]: a service on its own thread, parked
//! when it yields, unparked by `unyield`.

use super::thread::{spawn_thread, Direct, Shared, ThreadHandle, ThreadMode, ViaSRef, Waiter};
use super::{LoopYield, OnEmpty};
use crate::error::Result;
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
