//! The handle's calls as a user makes them: `get` as a `Future` polled by
//! an executor of the test's own (found, not found), and the typed
//! timeout of a blocking call to a node whose loop does not run.

mod dht_support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use dht_support::{conf, link, node, wait_peers, T};
use mydht::prelude::Peer;
use mydht::MainLoopSpawn;
use mydht_kvstore::dht::{Dht, DhtError, DhtSettings};
use mydht_kvstore::Key;

/// Wakes the test's thread.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` on this thread until it is ready, parked between wakes;
/// `None` if not ready within `within`.
fn run<F: Future + Unpin>(mut fut: F, within: Duration) -> Option<F::Output> {
    let end = Instant::now() + within;
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = Pin::new(&mut fut).poll(&mut cx) {
            return Some(out);
        }
        let now = Instant::now();
        if now >= end {
            return None;
        }
        std::thread::park_timeout(end - now);
    }
}

#[test]
fn get_as_a_future_finds_the_value_or_not_found() {
    let a = node(61, DhtSettings::default());
    let b = node(62, DhtSettings::default());
    link(&b, &a);
    wait_peers(&a, 1);
    let key = Key::hash_of(b"future value");
    assert_eq!(a.put(key, b"polled".to_vec(), T).unwrap(), 1);
    let fut = b.get_future(key, T).unwrap();
    let got = run(fut, T).expect("ready in time").unwrap();
    assert_eq!(got.value(), b"polled");
    assert_eq!(got.publisher(), *a.local_peer().get_id());
    // Nobody holds this one: NotFound by the query's deadline.
    let start = Instant::now();
    let fut = b.get_future(Key::hash_of(b"nobody's"), T).unwrap();
    let got = run(fut, T).expect("ready in time");
    assert!(matches!(got, Err(DhtError::NotFound)), "{got:?}");
    assert!(start.elapsed() < T, "answered by the deadline");
    a.stop().unwrap();
    b.stop().unwrap();
}

#[test]
fn a_call_to_a_node_that_does_not_run_times_out_typed() {
    let mut c = conf(63, DhtSettings::default(), None);
    c.main_loop = MainLoopSpawn::Caller;
    let settings = c.settings.clone();
    // The driver is never turned: the node takes no command.
    let (driver, handle) = mydht::start_driven(c).unwrap();
    let dht = Dht::from_node(handle, settings.query, settings.ttl);
    let timeout = Duration::from_millis(300);
    let start = Instant::now();
    let got = dht.get(Key::hash_of(b"anything"), timeout);
    let took = start.elapsed();
    assert!(matches!(got, Err(DhtError::Timeout)), "{got:?}");
    assert!(took >= timeout, "{took:?}");
    assert!(took < timeout + Duration::from_secs(2), "{took:?}");
    let put = dht.put(Key::hash_of(b"anything"), b"x".to_vec(), timeout);
    assert!(matches!(put, Err(DhtError::Timeout)), "{put:?}");
    drop(driver);
}
