//! The api bookkeeping as a plain state machine: replies complete a query,
//! expiry and the bound fail it, a dropped book fails what it held, and a
//! caller never waits past its timeout.

use std::time::{Duration, Instant};

use mydht::service::api::{ApiBook, ApiCommand, ApiResult, ReplySlot};
use mydht::PeerId;
use mydht_base::ErrorKind;
use mydht_basetest::harness::touch::Touched;
use mydht_basetest::touch_conf;
use mydht_tcp::TcpTransport;

touch_conf!(
    Conf,
    restartable,
    TcpTransport,
    TcpTransport::bind("127.0.0.1:0".parse().expect("literal address"))
);

fn touched(b: u8) -> ApiResult<Conf> {
    ApiResult::App(Touched(PeerId::from([b; 32])))
}

fn register(
    book: &mut ApiBook<Conf>,
    qid: u64,
    expected: usize,
    deadline: Instant,
) -> ReplySlot<ApiResult<Conf>> {
    let slot = ReplySlot::new(expected);
    book.apply(ApiCommand::Register {
        qid,
        slot: slot.clone(),
        deadline,
    });
    slot
}

#[test]
fn replies_complete_a_query_and_extra_ones_are_dropped() {
    let mut book = ApiBook::<Conf>::new(8);
    let later = Instant::now() + Duration::from_secs(60);
    let slot = register(&mut book, 1, 2, later);
    book.apply(ApiCommand::Reply(1, touched(1)));
    assert!(!slot.is_done());
    book.apply(ApiCommand::Reply(1, touched(2)));
    assert!(slot.is_done());
    assert!(book.is_empty(), "a complete query leaves the book");
    book.apply(ApiCommand::Reply(1, touched(3)));
    // An unknown query's reply is ignored.
    book.apply(ApiCommand::Reply(99, touched(4)));
    let got = slot.wait(Duration::ZERO).expect("complete");
    assert_eq!(got.len(), 2);
}

#[test]
fn expiry_fails_late_queries_only() {
    let mut book = ApiBook::<Conf>::new(8);
    let now = Instant::now();
    let early = register(&mut book, 1, 1, now);
    let late = register(&mut book, 2, 1, now + Duration::from_secs(60));
    book.apply(ApiCommand::Expire(now));
    let err = early.wait(Duration::ZERO).expect_err("expired");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(!late.is_done());
    assert_eq!(book.len(), 1);
}

#[test]
fn the_book_is_bounded_and_fails_what_it_holds_when_dropped() {
    let mut book = ApiBook::<Conf>::new(2);
    let later = Instant::now() + Duration::from_secs(60);
    let a = register(&mut book, 1, 1, later);
    let b = register(&mut book, 2, 1, later);
    let over = register(&mut book, 3, 1, later);
    let err = over.wait(Duration::ZERO).expect_err("over the bound");
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_eq!(book.len(), 2);
    drop(book);
    for slot in [a, b] {
        let err = slot.wait(Duration::ZERO).expect_err("node stopped");
        assert_eq!(err.kind(), ErrorKind::ChannelClosed);
    }
}

#[test]
fn a_caller_waits_no_longer_than_its_timeout() {
    let slot = ReplySlot::<ApiResult<Conf>>::new(1);
    let keep = slot.clone();
    let start = Instant::now();
    let err = slot.wait(Duration::from_millis(50)).expect_err("timeout");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(start.elapsed() >= Duration::from_millis(50));
    // The other side dropping its clone fails the query at once.
    drop(keep);
    let err = slot.wait(Duration::from_secs(10)).expect_err("dropped");
    assert_eq!(err.kind(), ErrorKind::ChannelClosed);
}
