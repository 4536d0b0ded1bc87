//! [`DhtFuture`]: a DHT call as a `Future`, which ticks its node when the
//! query's time is up; `block_on`, how the blocking calls wait for it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use mydht::conf::MyDHTConf;
use mydht::service::{ApiResult, ReplyFuture};
use mydht::NodeHandle;
use mydht_base::ErrorKind;

use crate::dht::error::DhtError;
use crate::dht::msg::{DhtCmd, DhtReply};

/// What a call makes of its reply.
pub(crate) type Finish<T> = fn(DhtReply) -> Result<T, DhtError>;

type Replies<C> = ReplyFuture<ApiResult<C>, DhtReply>;

/// A DHT call under way. It resolves with the call's answer, or
/// [`DhtError::Timeout`] after the call's timeout.
///
/// The node's engine ends a query at its deadline only when something
/// ticks it: from the query's deadline on, the future sends
/// [`DhtCmd::Tick`] (woken by a [`DhtCmd::Timer`] query that expires then),
/// again every `tick_every` until the answer comes.
pub struct DhtFuture<C: MyDHTConf, T> {
    node: NodeHandle<C>,
    reply: Replies<C>,
    timer: Option<Replies<C>>,
    tick_every: Duration,
    finish: Finish<T>,
}

impl<C, T> DhtFuture<C, T>
where
    C: MyDHTConf<GlobalCmd = DhtCmd, ApiReply = DhtReply>,
{
    /// Sends `cmd` to `node`, answered within `timeout`; the engine's
    /// query ends at `deadline` from now (none: no ticks).
    pub(crate) fn start(
        node: &NodeHandle<C>,
        cmd: DhtCmd,
        timeout: Duration,
        deadline: Option<Duration>,
        finish: Finish<T>,
    ) -> Result<Self, DhtError> {
        // The call first, so that the node's loop starts it at once (the
        // timer sent first made the loop handle it before the call, on
        // every lookup's path); the timer, sent after, cannot expire
        // before the query's deadline.
        let reply = node.query_future(cmd, 1, timeout)?;
        let timer = match deadline {
            Some(d) => Some(node.query_future(DhtCmd::Timer, 1, d + TICK_MARGIN)?),
            None => None,
        };
        let tick_every = deadline.map_or(TICK_MARGIN, |d| (d / 8).max(TICK_MARGIN));
        Ok(DhtFuture {
            node: node.clone(),
            reply,
            timer,
            tick_every,
            finish,
        })
    }
}

/// How late after a query's deadline the first tick goes, and the least
/// time between ticks.
const TICK_MARGIN: Duration = Duration::from_millis(20);

impl<C, T> Future for DhtFuture<C, T>
where
    C: MyDHTConf<GlobalCmd = DhtCmd, ApiReply = DhtReply>,
{
    type Output = Result<T, DhtError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            if let Poll::Ready(r) = Pin::new(&mut this.reply).poll(cx) {
                return Poll::Ready(match r {
                    Ok(mut replies) => match replies.pop() {
                        Some(reply) => (this.finish)(reply),
                        None => Err(DhtError::Timeout),
                    },
                    Err(e) if e.kind() == ErrorKind::Timeout => Err(DhtError::Timeout),
                    Err(e) => Err(DhtError::from(e)),
                });
            }
            let Some(timer) = &mut this.timer else {
                return Poll::Pending;
            };
            if Pin::new(timer).poll(cx).is_pending() {
                return Poll::Pending;
            }
            // The deadline passed: tick, and again later if need be. The
            // tick's own answer is not waited for; a node that cannot take
            // it fails the reply too.
            let _ = this.node.query_future(DhtCmd::Tick, 1, this.tick_every);
            this.timer = this
                .node
                .query_future(DhtCmd::Timer, 1, this.tick_every)
                .ok();
        }
    }
}

/// Wakes a thread parked in [`block_on`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Waits on this thread for `fut`, at most `timeout`
/// ([`DhtError::Timeout`] then).
pub(crate) fn block_on<F, T>(mut fut: F, timeout: Duration) -> Result<T, DhtError>
where
    F: Future<Output = Result<T, DhtError>> + Unpin,
{
    let end = Instant::now() + timeout;
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(r) = Pin::new(&mut fut).poll(&mut cx) {
            return r;
        }
        let now = Instant::now();
        if now >= end {
            return Err(DhtError::Timeout);
        }
        // Woken by the future, or spuriously: polled again either way.
        std::thread::park_timeout(end - now);
    }
}
