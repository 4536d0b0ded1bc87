//! [`ReplySlot`]: where the replies of one query are collected, and how the
//! caller waits for them.
//!
//! A synchronous caller ([`ReplySlot::wait`], [`ReplySlot::wait_partial`])
//! whose query is the only one of the process not yet complete spins for
//! its reply for up to [`SPIN`] before it sleeps on the slot's condvar.
//! On a machine whose idle CPUs halt at once (the 2-vCPU VM of the mydht
//! README, "`threaded!` latency"), a caller asleep lets its CPU halt, and
//! the reply's wake-up then costs ~20 µs; a caller that spins keeps its
//! CPU awake and needs no wake-up. With more queries outstanding (a
//! pipeline, many callers) nobody spins: the CPU goes to the node's
//! threads. [`SPIN_MISSES`] spins in a row that end without the reply
//! make the thread's next waits skip theirs (1, 3, 7, … up to
//! [`SPIN_SKIP_MAX`] of them, until a spin catches its reply again): a
//! caller whose replies come slower than [`SPIN`] soon stops spinning,
//! while the odd late reply (a scheduling hiccup) changes nothing.
//! [`ReplySlot::with_spin`] sets another bound for one query
//! (`Duration::ZERO`: no spin).
//!
//! A [`ReplyFuture`] never spins unless asked: an executor's thread that
//! spins runs nothing else meanwhile. [`ReplyFuture::spin_first_poll`]
//! lets a caller with nothing else to run (one query at a time, in a
//! `block_on` of its own) opt in: the future's first poll spins by the
//! same rules (only query outstanding, skipped after misses in a row)
//! before it answers `Pending`.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use mydht_base::{Error, ErrorKind, ErrorLevel, Result};

/// How long a synchronous caller whose query is the only one outstanding
/// spins for its reply before it sleeps: above a `threaded!` request's
/// round trip on loopback when the caller's CPU stays awake (~30 µs on
/// the VM of the mydht README).
pub const SPIN: Duration = Duration::from_micros(100);

/// The most waits a thread skips the spin after spins that missed.
pub const SPIN_SKIP_MAX: u32 = 63;

/// The spins in a row that must miss their reply before a thread skips
/// any: a single miss (the caller's CPU taken for a while, the reply's
/// threads placed badly once) then costs one spin, not the next 1 to 63
/// waits' spins. Skipping after every miss left whole runs of the
/// latency bench's `lat1_sync` at 67–110 µs instead of ~45 µs: a few
/// isolated misses (~1 in 100 requests) made the caller sleep, its CPU
/// halted, and the spins it then tried missed again.
pub const SPIN_MISSES: u32 = 3;

/// Queries of this process not yet complete: slots expecting replies
/// whose outcome is not set.
static OUTSTANDING: Outstanding = Outstanding(AtomicUsize::new(0));

/// A count of queries not yet complete.
struct Outstanding(AtomicUsize);

thread_local! {
    /// This thread's spin state.
    static SPIN_STATE: Cell<SpinState> = const { Cell::new(SpinState::FRESH) };
}

/// A thread's record of its spins.
#[derive(Clone, Copy)]
struct SpinState {
    /// Waits left to skip the spin.
    skip: u32,
    /// The skip after the next miss that reaches [`SPIN_MISSES`].
    next: u32,
    /// Spins that missed since the last that caught its reply.
    misses: u32,
}

impl SpinState {
    const FRESH: SpinState = SpinState {
        skip: 0,
        next: 1,
        misses: 0,
    };

    /// After a spin that missed: skip the next waits' spins once
    /// [`SPIN_MISSES`] missed in a row, longer each time.
    fn missed(self) -> SpinState {
        let misses = self.misses.saturating_add(1);
        if misses < SPIN_MISSES {
            return SpinState { misses, ..self };
        }
        SpinState {
            skip: self.next,
            next: (self.next * 2 + 1).min(SPIN_SKIP_MAX),
            misses,
        }
    }
}

struct State<T> {
    replies: Vec<T>,
    expected: usize,
    outcome: Option<Result<()>>,
    waker: Option<Waker>,
    /// Still counted as outstanding (no outcome was ever set).
    counted: bool,
    /// Synchronous callers asleep on the condvar: an outcome notifies it
    /// only when one is (a notify is a system call even with no waiter).
    sleepers: u32,
}

struct Inner<T> {
    state: Mutex<State<T>>,
    cond: Condvar,
    /// The outcome is set: what a spinning caller looks at.
    done: AtomicBool,
    /// Where the query counts while outstanding.
    count: &'static Outstanding,
    /// The longest a synchronous caller spins ([`SPIN`] by default).
    spin: Duration,
}

impl<T> Drop for Inner<T> {
    /// A slot dropped before any outcome (its query forgotten) stops
    /// counting as outstanding.
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if st.counted {
            self.count.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The replies of one query: filled by the api service, waited on by the
/// caller. Cloning shares the slot.
pub struct ReplySlot<T> {
    inner: Arc<Inner<T>>,
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
        if Arc::strong_count(&self.inner) == 2 && !self.is_done() {
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
    /// A slot complete once `expected` replies are in; a lone synchronous
    /// caller spins up to 100 µs for them before it sleeps.
    pub fn new(expected: usize) -> Self {
        Self::with_spin(expected, SPIN)
    }

    /// [`new`](Self::new), its lone synchronous caller spinning up to
    /// `spin` (`Duration::ZERO`: never) before it sleeps.
    pub fn with_spin(expected: usize, spin: Duration) -> Self {
        Self::counted_in(expected, &OUTSTANDING, spin)
    }

    fn counted_in(expected: usize, count: &'static Outstanding, spin: Duration) -> Self {
        let pending = expected > 0;
        if pending {
            count.0.fetch_add(1, Ordering::Relaxed);
        }
        ReplySlot {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    replies: Vec::with_capacity(expected.min(64)),
                    expected,
                    outcome: if pending { None } else { Some(Ok(())) },
                    waker: None,
                    counted: pending,
                    sleepers: 0,
                }),
                cond: Condvar::new(),
                done: AtomicBool::new(!pending),
                count,
                spin,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock cannot leave the state half
        // updated (every update is one push or a few assignments).
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the outcome (none was set): the query no longer counts as
    /// outstanding, and a spinning caller sees it done.
    fn settle(&self, st: &mut State<T>, outcome: Result<()>) {
        st.outcome = Some(outcome);
        if std::mem::take(&mut st.counted) {
            self.inner.count.0.fetch_sub(1, Ordering::Relaxed);
        }
        self.inner.done.store(true, Ordering::Release);
    }

    /// Before a synchronous wait sleeps: spins for the outcome, for up to
    /// the slot's spin (and `until`), when this query is the only one
    /// outstanding and this thread's last spins did not miss (module doc).
    fn spin(&self, until: Instant) {
        self.spin_up_to(self.inner.spin, until);
    }

    /// [`spin`](Self::spin) for up to `bound` (and `until`).
    fn spin_up_to(&self, bound: Duration, until: Instant) {
        if bound.is_zero() || self.inner.done.load(Ordering::Acquire) {
            return;
        }
        if self.inner.count.0.load(Ordering::Relaxed) != 1 {
            return;
        }
        let state = SPIN_STATE.with(Cell::get);
        if state.skip > 0 {
            SPIN_STATE.with(|s| {
                s.set(SpinState {
                    skip: state.skip - 1,
                    ..state
                })
            });
            return;
        }
        let now = Instant::now();
        if until <= now {
            return;
        }
        let end = until.min(now + bound);
        loop {
            for _ in 0..16 {
                if self.inner.done.load(Ordering::Acquire) {
                    SPIN_STATE.with(|s| s.set(SpinState::FRESH));
                    return;
                }
                std::hint::spin_loop();
            }
            if Instant::now() >= end {
                SPIN_STATE.with(|s| s.set(state.missed()));
                return;
            }
        }
    }

    /// Adds a reply; true when the slot is now complete. Replies past the
    /// expected count, or after completion, are dropped.
    pub fn push(&self, reply: T) -> bool {
        let mut st = self.lock();
        if self.is_done() {
            return true;
        }
        st.replies.push(reply);
        if st.replies.len() >= st.expected {
            self.settle(&mut st, Ok(()));
            self.wake(st);
            return true;
        }
        false
    }

    /// Ends the query with `error` (unless it is already complete).
    pub fn fail(&self, error: Error) {
        let mut st = self.lock();
        if !self.is_done() {
            self.settle(&mut st, Err(error));
            self.wake(st);
        }
    }

    /// Ends the query at its deadline: a `Timeout` that says how many
    /// replies came (unless it is already complete).
    pub fn expire(&self) {
        let mut st = self.lock();
        if !self.is_done() {
            let e = timed_out(st.replies.len(), st.expected);
            self.settle(&mut st, Err(e));
            self.wake(st);
        }
    }

    /// True once complete or failed.
    pub fn is_done(&self) -> bool {
        self.inner.done.load(Ordering::Acquire)
    }

    fn wake(&self, mut st: MutexGuard<'_, State<T>>) {
        let waker = st.waker.take();
        let asleep = st.sleepers > 0;
        drop(st);
        if asleep {
            self.inner.cond.notify_all();
        }
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Sleeps on the condvar for up to `timeout`, counted as asleep
    /// meanwhile (what [`wake`](Self::wake) looks at).
    fn sleep<'a>(
        &'a self,
        mut st: MutexGuard<'a, State<T>>,
        timeout: Duration,
    ) -> MutexGuard<'a, State<T>> {
        st.sleepers += 1;
        let mut st = self
            .inner
            .cond
            .wait_timeout(st, timeout)
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
        st.sleepers -= 1;
        st
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
        self.spin(deadline);
        let mut st = self.lock();
        loop {
            if let Some(r) = Self::take(&mut st) {
                return r;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(timed_out(st.replies.len(), st.expected));
            }
            st = self.sleep(st, deadline - now);
        }
    }

    /// Waits like [`wait`](Self::wait), but a query that times out (here or
    /// by the api service's expiry) gives the replies that did arrive, with
    /// the number expected. Other failures (the node stopped) stay errors.
    pub fn wait_partial(&self, timeout: Duration) -> Result<Partial<T>> {
        let deadline = Instant::now() + timeout;
        self.spin(deadline);
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
                self.settle(&mut st, Ok(()));
                continue;
            }
            st = self.sleep(st, deadline - now);
        }
    }

    /// The same wait as a `Future` (the api service's expiry bounds it);
    /// each reply goes through `map`, which may drop it.
    pub fn into_future<U>(self, map: fn(T) -> Option<U>) -> ReplyFuture<T, U> {
        ReplyFuture {
            slot: self,
            map,
            first_spin: Duration::ZERO,
        }
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
    /// How long the next poll may spin before `Pending` (set by
    /// [`spin_first_poll`](Self::spin_first_poll), spent by the first).
    first_spin: Duration,
}

impl<T, U> ReplyFuture<T, U> {
    /// Opt-in: the first poll spins for the replies, up to `bound`, before
    /// it answers `Pending`, by the rules of a synchronous caller's spin
    /// (only while this query is the only one outstanding in the process,
    /// skipped after spins that missed in a row; module doc). It blocks
    /// the thread that polls for up to `bound` (the default, without this
    /// call, never spins): for a caller with nothing else to run
    /// meanwhile, such as one query at a time in a `block_on` of its own.
    /// On a machine whose idle CPUs halt at once, the caller's CPU then
    /// stays awake and its reply needs no wake-up (mydht README,
    /// "`threaded!` latency"). `Duration::ZERO`: no spin.
    pub fn spin_first_poll(mut self, bound: Duration) -> Self {
        self.first_spin = bound;
        self
    }
}

impl<T, U> Future for ReplyFuture<T, U> {
    type Output = Result<Vec<U>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let bound = std::mem::take(&mut this.first_spin);
        if !bound.is_zero() {
            this.slot.spin_up_to(bound, Instant::now() + bound);
        }
        let mut st = this.slot.lock();
        match ReplySlot::take(&mut st) {
            Some(r) => Poll::Ready(r.map(|v| v.into_iter().filter_map(this.map).collect())),
            None => {
                st.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::sync_channel;
    use std::task::{Context, Poll, Waker};
    use std::thread;
    use std::time::{Duration, Instant};

    use mydht_base::{Error, ErrorKind, ErrorLevel};

    use super::{Outstanding, ReplySlot, SpinState, SPIN, SPIN_MISSES, SPIN_SKIP_MAX};

    const WAIT: Duration = Duration::from_secs(10);

    fn stopped() -> Error {
        Error::new(ErrorKind::ChannelClosed, ErrorLevel::Ignore, "stopped")
    }

    /// A query counts as outstanding from its slot's creation until its
    /// first outcome (complete, failed, expired, ended by a partial wait)
    /// or until the slot is dropped without one; a slot expecting nothing
    /// never counts.
    #[test]
    fn a_query_counts_as_outstanding_until_its_outcome() {
        static COUNT: Outstanding = Outstanding(AtomicUsize::new(0));
        let n = || COUNT.0.load(Ordering::Relaxed);
        let none = ReplySlot::<u32>::counted_in(0, &COUNT, SPIN);
        assert_eq!(n(), 0);
        assert!(none.is_done());
        let two = ReplySlot::<u32>::counted_in(2, &COUNT, SPIN);
        let failed = ReplySlot::<u32>::counted_in(1, &COUNT, SPIN);
        let expired = ReplySlot::<u32>::counted_in(1, &COUNT, SPIN);
        let partial = ReplySlot::<u32>::counted_in(3, &COUNT, SPIN);
        let forgotten = ReplySlot::<u32>::counted_in(1, &COUNT, SPIN);
        assert_eq!(n(), 5);
        assert!(!two.push(1));
        assert_eq!(n(), 5);
        assert!(two.push(2));
        assert_eq!(n(), 4);
        // Replies and failures after the outcome change nothing.
        two.push(3);
        two.fail(stopped());
        assert_eq!(two.wait(WAIT).unwrap(), vec![1, 2]);
        assert_eq!(n(), 4);
        failed.fail(stopped());
        failed.fail(stopped());
        assert_eq!(n(), 3);
        expired.expire();
        assert_eq!(n(), 2);
        partial.push(7);
        let got = partial.wait_partial(Duration::ZERO).unwrap();
        assert_eq!((got.replies, got.expected), (vec![7], 3));
        assert_eq!(n(), 1);
        drop(forgotten);
        assert_eq!(n(), 0);
    }

    /// A lone query's caller spins, then sleeps (or only sleeps, its spin
    /// off): a reply pushed at any moment (from right away to well past
    /// the spin) reaches it, none is lost between the spin's last look and
    /// the sleep.
    #[test]
    fn a_lone_query_gets_its_reply_whenever_it_comes() {
        static COUNT: Outstanding = Outstanding(AtomicUsize::new(0));
        let (tx, rx) = sync_channel::<(ReplySlot<u32>, u32, Duration)>(1);
        let pusher = thread::spawn(move || {
            for (slot, k, after) in rx {
                let at = Instant::now() + after;
                while Instant::now() < at {
                    std::hint::spin_loop();
                }
                slot.push(k);
            }
        });
        for k in 0..600u32 {
            // Every other query never spins (`with_spin(.., ZERO)`).
            let spin = if k % 2 == 0 { SPIN } else { Duration::ZERO };
            let slot = ReplySlot::counted_in(1, &COUNT, spin);
            assert_eq!(COUNT.0.load(Ordering::Relaxed), 1);
            // 0 to 297 µs, across the spin's bound (SPIN, 100 µs).
            let after = Duration::from_micros(u64::from(k % 100) * 3);
            tx.send((slot.clone(), k, after)).unwrap();
            let waited = Instant::now();
            assert_eq!(slot.wait(WAIT).unwrap(), vec![k]);
            assert!(waited.elapsed() < WAIT);
        }
        drop(tx);
        pusher.join().unwrap();
        assert_eq!(COUNT.0.load(Ordering::Relaxed), 0);
    }

    /// Misses fewer than [`SPIN_MISSES`] in a row skip nothing; from
    /// then on each miss skips 1, 3, 7, … up to [`SPIN_SKIP_MAX`] waits.
    #[test]
    fn only_misses_in_a_row_make_a_thread_skip_its_spins() {
        let mut st = SpinState::FRESH;
        for _ in 1..SPIN_MISSES {
            st = st.missed();
            assert_eq!(st.skip, 0);
        }
        let mut skips = Vec::new();
        for _ in 0..8 {
            st = st.missed();
            skips.push(st.skip);
        }
        assert_eq!(skips, vec![1, 3, 7, 15, 31, 63, 63, 63]);
        assert_eq!(SPIN_SKIP_MAX, 63);
        // A catch starts afresh (what `spin` stores): one miss skips nothing.
        assert_eq!(SpinState::FRESH.missed().skip, 0);
    }

    /// A future's first poll spins only when asked
    /// (`spin_first_poll`) and only while its query is the only one
    /// outstanding: asked, alone, it gets a reply pushed by another thread
    /// at that poll; not asked, or with another query outstanding, that
    /// poll is `Pending` at once and the reply comes by the waker.
    #[test]
    fn a_future_spins_at_its_first_poll_only_when_asked_and_alone() {
        static COUNT: Outstanding = Outstanding(AtomicUsize::new(0));
        let mut cx = Context::from_waker(Waker::noop());
        // Asked and alone: the spin (bound WAIT) catches the reply.
        let slot = ReplySlot::<u32>::counted_in(1, &COUNT, SPIN);
        let pushed = slot.clone();
        let pusher = thread::spawn(move || pushed.push(7));
        let mut fut = pin!(slot.into_future(Some).spin_first_poll(WAIT));
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(r) => assert_eq!(r.unwrap(), vec![7]),
            Poll::Pending => panic!("the first poll's spin missed a reply within its bound"),
        }
        pusher.join().unwrap();
        // Not asked: Pending at once, then the reply.
        let slot = ReplySlot::<u32>::counted_in(1, &COUNT, SPIN);
        let mut fut = pin!(slot.clone().into_future(Some));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        slot.push(8);
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(r) => assert_eq!(r.unwrap(), vec![8]),
            Poll::Pending => panic!("a complete slot's future is ready"),
        }
        // Asked, another query outstanding: no spin (it would last WAIT).
        let other = ReplySlot::<u32>::counted_in(1, &COUNT, SPIN);
        let slot = ReplySlot::<u32>::counted_in(1, &COUNT, SPIN);
        let mut fut = pin!(slot.clone().into_future(Some).spin_first_poll(WAIT));
        let polled = Instant::now();
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert!(polled.elapsed() < WAIT / 2);
        slot.push(9);
        other.push(0);
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(r) => assert_eq!(r.unwrap(), vec![9]),
            Poll::Pending => panic!("a complete slot's future is ready"),
        }
        assert_eq!(COUNT.0.load(Ordering::Relaxed), 0);
    }

    /// With two queries outstanding a caller does not spin, and gets its
    /// replies from another thread in whichever order they come.
    #[test]
    fn two_outstanding_queries_both_get_their_replies() {
        static COUNT: Outstanding = Outstanding(AtomicUsize::new(0));
        let a = ReplySlot::<u32>::counted_in(1, &COUNT, SPIN);
        let b = ReplySlot::<u32>::counted_in(1, &COUNT, SPIN);
        assert_eq!(COUNT.0.load(Ordering::Relaxed), 2);
        let (a2, b2) = (a.clone(), b.clone());
        let pusher = thread::spawn(move || {
            b2.push(2);
            a2.push(1);
        });
        assert_eq!(a.wait(WAIT).unwrap(), vec![1]);
        assert_eq!(b.wait(WAIT).unwrap(), vec![2]);
        pusher.join().unwrap();
        assert_eq!(COUNT.0.load(Ordering::Relaxed), 0);
    }

    /// A caller that took its replies and dropped its side leaves the
    /// query as it was: not failed after the fact (the node's side still
    /// holds it), and later replies dropped.
    #[test]
    fn a_caller_that_took_its_replies_leaves_the_query_complete() {
        static COUNT: Outstanding = Outstanding(AtomicUsize::new(0));
        let mut cx = Context::from_waker(Waker::noop());
        let node = ReplySlot::<u32>::counted_in(1, &COUNT, Duration::ZERO);
        {
            let mut fut = pin!(node.clone().into_future(Some));
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            assert!(node.push(5));
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(r) => assert_eq!(r.unwrap(), vec![5]),
                Poll::Pending => panic!("a complete slot's future is ready"),
            }
        }
        assert!(node.is_done());
        let st = node.lock();
        assert!(st.outcome.is_none(), "the caller's drop set an outcome");
        drop(st);
        assert!(node.push(6));
        assert!(node.lock().replies.is_empty());
        assert_eq!(COUNT.0.load(Ordering::Relaxed), 0);
    }

    /// A synchronous caller counts as asleep only while it sleeps on the
    /// condvar, and a reply pushed then wakes it.
    #[test]
    fn a_sleeping_caller_is_counted_and_woken() {
        static COUNT: Outstanding = Outstanding(AtomicUsize::new(0));
        let slot = ReplySlot::<u32>::counted_in(1, &COUNT, Duration::ZERO);
        let waiter = {
            let slot = slot.clone();
            thread::spawn(move || slot.wait(WAIT))
        };
        let deadline = Instant::now() + WAIT;
        while slot.lock().sleepers == 0 {
            assert!(Instant::now() < deadline, "the caller never slept");
            thread::yield_now();
        }
        let pushed = Instant::now();
        assert!(slot.push(3));
        assert_eq!(waiter.join().unwrap().unwrap(), vec![3]);
        assert!(pushed.elapsed() < WAIT / 2);
        assert_eq!(slot.lock().sleepers, 0);
    }
}
