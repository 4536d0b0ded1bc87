//! [`ReplySlot`]: where the replies of one query are collected, and how the
//! caller waits for them.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use mydht_base::{Error, ErrorKind, ErrorLevel, Result};

struct State<T> {
    replies: Vec<T>,
    expected: usize,
    outcome: Option<Result<()>>,
    waker: Option<Waker>,
}

/// The replies of one query: filled by the api service, waited on by the
/// caller. Cloning shares the slot.
pub struct ReplySlot<T> {
    inner: Arc<(Mutex<State<T>>, Condvar)>,
}

impl<T> Clone for ReplySlot<T> {
    fn clone(&self) -> Self {
        ReplySlot {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Drop for ReplySlot<T> {
    /// The node dropping its side of a query it never completed (a command
    /// lost in a stopped node's channel) fails the query, so the caller
    /// never waits for nothing.
    fn drop(&mut self) {
        if Arc::strong_count(&self.inner) == 2 {
            self.fail(Error::new(
                ErrorKind::ChannelClosed,
                ErrorLevel::Ignore,
                "query dropped: node stopped",
            ));
        }
    }
}

impl<T> std::fmt::Debug for ReplySlot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplySlot")
    }
}

impl<T> ReplySlot<T> {
    /// A slot complete once `expected` replies are in.
    pub fn new(expected: usize) -> Self {
        ReplySlot {
            inner: Arc::new((
                Mutex::new(State {
                    replies: Vec::with_capacity(expected.min(64)),
                    expected,
                    outcome: if expected == 0 { Some(Ok(())) } else { None },
                    waker: None,
                }),
                Condvar::new(),
            )),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock cannot leave the state half
        // updated (every update is one push or one assignment).
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a reply; true when the slot is now complete. Replies past the
    /// expected count, or after completion, are dropped.
    pub fn push(&self, reply: T) -> bool {
        let mut st = self.lock();
        if st.outcome.is_some() {
            return true;
        }
        st.replies.push(reply);
        if st.replies.len() >= st.expected {
            st.outcome = Some(Ok(()));
            self.wake(st);
            return true;
        }
        false
    }

    /// Ends the query with `error` (unless it is already complete).
    pub fn fail(&self, error: Error) {
        let mut st = self.lock();
        if st.outcome.is_none() {
            st.outcome = Some(Err(error));
            self.wake(st);
        }
    }

    /// Ends the query at its deadline: a `Timeout` that says how many
    /// replies came (unless it is already complete).
    pub fn expire(&self) {
        let mut st = self.lock();
        if st.outcome.is_none() {
            st.outcome = Some(Err(timed_out(st.replies.len(), st.expected)));
            self.wake(st);
        }
    }

    /// True once complete or failed.
    pub fn is_done(&self) -> bool {
        self.lock().outcome.is_some()
    }

    fn wake(&self, mut st: MutexGuard<'_, State<T>>) {
        let waker = st.waker.take();
        drop(st);
        self.inner.1.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn take(st: &mut State<T>) -> Option<Result<Vec<T>>> {
        match st.outcome.take() {
            None => None,
            Some(Ok(())) => Some(Ok(std::mem::take(&mut st.replies))),
            Some(Err(e)) => Some(Err(e)),
        }
    }

    /// Waits until the query completes or `timeout` passes: the replies, or
    /// the query's error, or `Timeout`.
    pub fn wait(&self, timeout: Duration) -> Result<Vec<T>> {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            if let Some(r) = Self::take(&mut st) {
                return r;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(timed_out(st.replies.len(), st.expected));
            }
            st = self
                .inner
                .1
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Waits like [`wait`](Self::wait), but a query that times out (here or
    /// by the api service's expiry) gives the replies that did arrive, with
    /// the number expected. Other failures (the node stopped) stay errors.
    pub fn wait_partial(&self, timeout: Duration) -> Result<Partial<T>> {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            let expected = st.expected;
            match st.outcome.take() {
                Some(Ok(())) => {
                    let replies = std::mem::take(&mut st.replies);
                    return Ok(Partial { replies, expected });
                }
                Some(Err(e)) if e.kind() == ErrorKind::Timeout => {
                    let replies = std::mem::take(&mut st.replies);
                    return Ok(Partial { replies, expected });
                }
                Some(Err(e)) => return Err(e),
                None => {}
            }
            let now = Instant::now();
            if now >= deadline {
                // Ends the query here: replies after it are dropped.
                st.outcome = Some(Ok(()));
                continue;
            }
            st = self
                .inner
                .1
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// The same wait as a `Future` (the api service's expiry bounds it);
    /// each reply goes through `map`, which may drop it.
    pub fn into_future<U>(self, map: fn(T) -> Option<U>) -> ReplyFuture<T, U> {
        ReplyFuture { slot: self, map }
    }
}

/// The error of a query that timed out with `got` of its `expected`
/// replies.
fn timed_out(got: usize, expected: usize) -> Error {
    Error::new(
        ErrorKind::Timeout,
        ErrorLevel::Ignore,
        format!("query timed out with {got} of {expected} replies"),
    )
}

/// The replies a query got by its timeout, and how many it expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial<T> {
    /// The replies that arrived, in their order of arrival.
    pub replies: Vec<T>,
    /// How many the query expected.
    pub expected: usize,
}

impl<T> Partial<T> {
    /// True when every expected reply arrived.
    pub fn is_complete(&self) -> bool {
        self.replies.len() >= self.expected
    }
}

/// A query's replies as a `Future`; it resolves when the query completes,
/// fails or expires (the node's query timeout).
pub struct ReplyFuture<T, U = T> {
    slot: ReplySlot<T>,
    map: fn(T) -> Option<U>,
}

impl<T, U> Future for ReplyFuture<T, U> {
    type Output = Result<Vec<U>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = self.slot.lock();
        match ReplySlot::take(&mut st) {
            Some(r) => Poll::Ready(r.map(|v| v.into_iter().filter_map(self.map).collect())),
            None => {
                st.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
