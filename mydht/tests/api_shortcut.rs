//! The api shortcut: a local service's api reply goes straight into its
//! query's slot through the node's `SharedBook` (no trip through the main
//! loop and the api service), and through the main loop when no such
//! query is pending.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mydht::command::{MainLoopCommand, MainLoopCommandSend, MainLoopSender};
use mydht::service::api::{ApiCommand, ApiResult, ReplySlot, SharedBook};
use mydht::service::{LocalDest, Reply};
use mydht::{Identity, PeerId};
use mydht_base::service::channel::MpscRecv;
use mydht_base::{MpscChannel, SToRef, SpawnChannel, SpawnRecv, SpawnSend};
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::touch::Touched;
use mydht_basetest::touch_conf;
use mydht_tcp::TcpTransport;

touch_conf!(Threaded, threaded, TcpTransport, loopback());

fn peer_id(seed: u8) -> PeerId {
    *Identity::from_seed([seed; 32]).expect("identity").id()
}

fn register(
    book: &SharedBook<Threaded>,
    qid: u64,
    expected: usize,
) -> ReplySlot<ApiResult<Threaded>> {
    let slot = ReplySlot::new(expected);
    book.apply(ApiCommand::Register {
        qid,
        slot: slot.clone(),
        deadline: Instant::now() + Duration::from_secs(60),
    });
    slot
}

fn answered_by(replies: Vec<ApiResult<Threaded>>) -> Vec<PeerId> {
    replies
        .into_iter()
        .map(|r| match r {
            ApiResult::App(Touched(id)) => id,
            _ => panic!("not an application reply"),
        })
        .collect()
}

#[test]
fn a_reply_reaches_its_pending_query_from_any_clone_and_thread() {
    let (a, b, c) = (peer_id(1), peer_id(2), peer_id(3));
    let book = SharedBook::<Threaded>::new(8);
    let slot = register(&book, 7, 2);
    let other = book.clone();
    assert!(other.give_app(7, Touched(a)).is_ok());
    assert!(!slot.is_done(), "one reply of two");
    let given = std::thread::spawn(move || other.give_app(7, Touched(b)).is_ok());
    assert!(given.join().expect("joined"));
    let replies = slot.wait(Duration::from_secs(5)).expect("complete");
    assert_eq!(answered_by(replies), vec![a, b]);
    // Complete: a late reply comes back, as does one to a query never
    // registered.
    assert_eq!(book.give_app(7, Touched(c)), Err(Touched(c)));
    assert_eq!(book.give_app(8, Touched(a)), Err(Touched(a)));
}

#[test]
fn a_query_registered_again_counts_once_against_the_capacity() {
    let book = SharedBook::<Threaded>::new(2);
    let first = register(&book, 1, 1);
    let second = register(&book, 2, 1);
    // The node handle registered query 2, then gave it back to the main
    // loop's way, whose core registers it again: the book is full, yet
    // the same query is not refused as one too many.
    let again = ReplySlot::new(1);
    book.apply(ApiCommand::Register {
        qid: 2,
        slot: again.clone(),
        deadline: Instant::now() + Duration::from_secs(60),
    });
    assert!(
        !again.is_done(),
        "the same query, registered again, is kept"
    );
    // A third query is refused with the book's own error.
    let third = register(&book, 3, 1);
    let refused = third.wait(Duration::from_secs(5)).expect_err("refused");
    assert_eq!(refused.kind(), mydht_base::ErrorKind::TooLarge);
    // Both pending queries still get their replies.
    let (a, b) = (peer_id(1), peer_id(2));
    assert!(book.give_app(1, Touched(a)).is_ok());
    assert!(book.give_app(2, Touched(b)).is_ok());
    let one = first.wait(Duration::from_secs(5)).expect("first");
    let two = again.wait(Duration::from_secs(5)).expect("second");
    assert_eq!(answered_by(one), vec![a]);
    assert_eq!(answered_by(two), vec![b]);
    drop(second);
}

/// The next command in the main loop's channel, if any.
fn from_loop(
    rx: &mut MpscRecv<MainLoopCommandSend<Threaded>>,
) -> Option<MainLoopCommand<Threaded>> {
    rx.recv().expect("loop channel open").map(|c| c.to_ref())
}

#[test]
fn a_local_service_answers_a_pending_query_without_the_main_loop() {
    let (peer, who) = (peer_id(4), peer_id(5));
    let poll = mio::Poll::new().expect("poll");
    let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).expect("waker"));
    let (to_loop, mut loop_rx) =
        SpawnChannel::<MainLoopCommandSend<Threaded>>::new_channel(&mut MpscChannel::new(16))
            .expect("loop channel");
    let sender = MainLoopSender::<Threaded>::new(to_loop, waker, true);
    let book = SharedBook::<Threaded>::new(8);
    let mut dest = LocalDest::<Threaded>::new(sender, peer, None).with_api(book.clone());

    let slot = register(&book, 11, 1);
    dest.send(Reply::Api(11, Touched(who))).expect("sent");
    let replies = slot.wait(Duration::from_secs(5)).expect("answered");
    assert_eq!(answered_by(replies), vec![who]);
    assert!(
        from_loop(&mut loop_rx).is_none(),
        "the reply went through the loop"
    );

    // No such query here: the main loop gets it, by `send` and `try_send`.
    dest.send(Reply::Api(12, Touched(who))).expect("sent");
    assert!(SpawnSend::try_send(&mut dest, Reply::Api(13, Touched(peer))).is_ok());
    for (qid, id) in [(12, who), (13, peer)] {
        match from_loop(&mut loop_rx) {
            Some(MainLoopCommand::Reply(Reply::Api(q, Touched(r)))) => {
                assert_eq!((q, r), (qid, id))
            }
            _ => panic!("the reply to query {qid} did not reach the main loop"),
        }
    }
}
