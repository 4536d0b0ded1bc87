//! A dead service is restarted: a global service whose thread panics is
//! made again from the configuration and the node keeps answering. Also
//! the `Future` form of a query.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use mydht::service::PeersView;
use mydht::{GlobalCommand, MyDHTConf, PeerId, PeerInfo, Reply};
use mydht_base::{Peer, Result, Service, SpawnerYield};
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::{connect_and_touch, TIMEOUT};
use mydht_basetest::harness::touch::{Touch, TouchGlobal, Touched};
use mydht_basetest::{touch_conf, touch_conf_items};
use mydht_tcp::TcpTransport;

touch_conf!(ThreadedTcp, threaded, TcpTransport, loopback());

/// The touch global service, which panics when asked to touch the all-zero
/// id (a bug in an application service).
pub struct Fragile(TouchGlobal<FragileNode>);

impl Service for Fragile {
    type CommandIn = GlobalCommand<FragileNode>;
    type CommandOut = Reply<FragileNode>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: GlobalCommand<FragileNode>,
        y: &mut Y,
    ) -> Result<Reply<FragileNode>> {
        if let GlobalCommand::Api(_, Touch(id)) = &cmd {
            assert_ne!(*id, PeerId::from([0; 32]), "application bug");
        }
        self.0.call(cmd, y)
    }
}

/// A touch node with the fragile global service.
pub struct FragileNode;

impl MyDHTConf for FragileNode {
    touch_conf_items!(threaded, TcpTransport, global = Fragile);

    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
    fn init_global(&mut self, me: &PeerInfo, _: &PeersView) -> Result<Fragile> {
        Ok(Fragile(TouchGlobal::new(*me.get_id())))
    }
}

#[test]
fn test_dead_global_service_is_restarted() {
    let n1 = mydht::start_loop(FragileNode).expect("node 1");
    let n2 = mydht::start_loop(ThreadedTcp).expect("node 2");
    connect_and_touch(&n1, &n2);
    let p2 = *n2.local_peer().get_id();
    // The query that kills the global service gets no reply: it times out.
    let short = std::time::Duration::from_millis(300);
    let err = n1
        .query(Touch(PeerId::from([0; 32])), 1, short)
        .expect_err("no reply from a dead service");
    assert!(matches!(err, mydht::NodeError::Timeout(_)), "{err}");
    // A new global service answers again. Commands sent while the dead
    // thread was still unwinding are lost with it, so retry (each attempt
    // waits for its replies, bounded).
    let answered = (0..20).any(|_| {
        n1.query(Touch(p2), 2, std::time::Duration::from_millis(500))
            .map(|r| r.len() == 2)
            .unwrap_or(false)
    });
    assert!(answered, "no answer after the global service died");
    n1.stop().expect("stop node 1");
    n2.stop().expect("stop node 2");
}

struct Unpark(std::thread::Thread);
impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls a future on this thread, parking between wakes.
fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn test_query_as_future() {
    let n1 = mydht::start_loop(ThreadedTcp).expect("node 1");
    let n2 = mydht::start_loop(ThreadedTcp).expect("node 2");
    connect_and_touch(&n1, &n2);
    let p1 = *n1.local_peer().get_id();
    let p2 = *n2.local_peer().get_id();
    let futures: Vec<_> = (0..8)
        .map(|_| n1.query_future(Touch(p2), 2, TIMEOUT).expect("query"))
        .collect();
    for f in futures {
        let mut got = block_on(f).expect("replies");
        got.sort_by_key(|t| *t.0.as_bytes());
        let mut want = vec![Touched(p1), Touched(p2)];
        want.sort_by_key(|t| *t.0.as_bytes());
        assert_eq!(got, want);
    }
    // A query that cannot complete resolves with its expiry.
    let short = std::time::Duration::from_millis(200);
    let f = n1.query_future(Touch(p2), 3, short).expect("query");
    let err = block_on(f).expect_err("expired");
    assert_eq!(err.kind(), mydht_base::ErrorKind::Timeout);
    n1.stop().expect("stop node 1");
    n2.stop().expect("stop node 2");
}
