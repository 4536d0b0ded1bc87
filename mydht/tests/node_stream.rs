//! Streams after a frame between live nodes over TCP: a message announces
//! raw bytes that follow it on its connection; the receiving local service
//! reads them from the read half its read service lent it, then gives it
//! back (frames again on the same connection) or drops it (the connection
//! ends). The 1 GiB attachment crosses with the heap bounded.

use mydht_basetest::alloc_count;

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

use mydht::frame::AttachmentReader;
use mydht::service::PeersView;
use mydht::stream::{LentStream, OutStream};
use mydht::{
    GlobalCommand, LocalCommand, MyDHTConf, NodeConstants, PeerCount, PeerId, PeerInfo, QueryId,
    Reply,
};
use mydht_base::{
    Attachment, Error, Peer, ReadYield, Result, Service, ServiceRestartable, SpawnerYield,
};
use mydht_basetest::harness::nodes::{address_of, connect, start_nodes, stop_all, TIMEOUT};
use mydht_basetest::loopback_conf_items;
use openssl::sha::Sha256;
use serde::{Deserialize, Serialize};

/// How long a transfer may take (1 GiB in a debug build).
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(240);

/// The bytes of a transfer: byte `o` is `(o % 251) ^ seed`, made from one
/// block, never held whole.
struct Pattern {
    block: Vec<u8>,
    offset: u64,
    len: u64,
}

const BLOCK: usize = 64 << 10;

impl Pattern {
    fn new(len: u64, seed: u8) -> Self {
        let block = (0..BLOCK + 251).map(|i| (i % 251) as u8 ^ seed).collect();
        Pattern {
            block,
            offset: 0,
            len,
        }
    }

    fn digest(len: u64, seed: u8) -> [u8; 32] {
        let mut sink = Digest::default();
        io::copy(&mut Pattern::new(len, seed), &mut sink).expect("hash");
        sink.finish()
    }
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len - self.offset;
        let n = (buf.len() as u64).min(left).min(BLOCK as u64) as usize;
        let start = (self.offset % 251) as usize;
        buf[..n].copy_from_slice(&self.block[start..start + n]);
        self.offset += n as u64;
        Ok(n)
    }
}

/// A source that stops once, after `at` bytes, until its go (a blocking
/// read: for write services on threads).
struct Gated {
    pattern: Pattern,
    at: u64,
    go: Option<Receiver<()>>,
}

impl Read for Gated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pattern.offset >= self.at {
            if let Some(go) = self.go.take() {
                go.recv()
                    .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
            }
        }
        let room = if self.go.is_some() {
            (self.at - self.pattern.offset).min(buf.len() as u64) as usize
        } else {
            buf.len()
        };
        self.pattern.read(&mut buf[..room])
    }
}

/// A SHA-256 of what is written, and its length.
#[derive(Default)]
struct Digest {
    sha: Option<Sha256>,
    len: u64,
}

impl Digest {
    fn finish(&mut self) -> [u8; 32] {
        self.sha.take().unwrap_or_default().finish()
    }
}

impl Write for Digest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sha.get_or_insert_with(Sha256::new).update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the receiver does with the stream once read.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum Then {
    /// Gives it back: frames again on the connection.
    GiveBack,
    /// Drops it: the connection ends.
    Drop,
    /// Answers on it (`LentStream::send_back`): the answer, then the end.
    SendBack,
}

#[derive(Debug)]
enum Ask {
    /// Stream `len` bytes to `to` after a message; `once`: on a send-once
    /// connection to this address instead of the pooled one; `ended`: told
    /// how the stream ended on this side (`OutStream::on_end`).
    Send {
        to: PeerId,
        len: u64,
        seed: u8,
        then: Then,
        once: Option<SocketAddr>,
        ended: Option<SyncSender<std::result::Result<(), String>>>,
        /// Stop after `.0` bytes until `.1` gives a go.
        gate: Option<(u64, Receiver<()>)>,
    },
    /// A frame to `to` and its answer.
    Ping(PeerId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Received {
        len: u64,
        digest: [u8; 32],
    },
    /// The receiver's answer on the lent stream.
    SentBack {
        len: u64,
    },
    Pong,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Msg {
    File {
        qid: QueryId,
        len: u64,
        then: Then,
    },
    SentBack {
        qid: QueryId,
        len: u64,
    },
    Received {
        qid: QueryId,
        len: u64,
        digest: [u8; 32],
    },
    Ping(QueryId),
    Pong(QueryId),
}

impl<C: MyDHTConf<GlobalCmd = Ask, ProtoMsg = Msg, ApiReply = Answer>> Service for GlobalOf<C> {
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(match cmd {
            GlobalCommand::Api(
                qid,
                Ask::Send {
                    to,
                    len,
                    seed,
                    then,
                    once,
                    ended,
                    gate,
                },
            ) => {
                let file = Msg::File { qid, len, then };
                let pattern = Pattern::new(len, seed);
                let mut bytes = match gate {
                    Some((at, go)) => OutStream::new(Gated {
                        pattern,
                        at,
                        go: Some(go),
                    }),
                    None => OutStream::new(pattern),
                };
                if let Some(ended) = ended {
                    bytes = bytes.on_end(move |r| {
                        let _ = ended.send(r.map_err(|e| e.to_string()));
                    });
                }
                match once {
                    Some(address) => match address.to_string().parse() {
                        Ok(address) => Reply::SendOnceStream(address, file, bytes),
                        Err(_) => Reply::None,
                    },
                    None => Reply::SendStream(to, file, bytes),
                }
            }
            GlobalCommand::Api(qid, Ask::Ping(to)) => Reply::Send(to, Msg::Ping(qid)),
            _ => Reply::None,
        })
    }
}

struct GlobalOf<C>(std::marker::PhantomData<fn() -> C>);
mydht_base::sref_as_itself!(impl<C> for GlobalOf<C>);

/// A transfer being read.
struct Receiving<C: MyDHTConf> {
    qid: QueryId,
    from: PeerId,
    then: Then,
    stream: LentStream<C>,
    reader: AttachmentReader,
    sink: Digest,
}

struct Local<C: MyDHTConf> {
    receiving: Option<Receiving<C>>,
}

/// The most a transfer may announce.
const MAX_TRANSFER: u64 = 2 << 30;

impl<C: MyDHTConf<ProtoMsg = Msg, ApiReply = Answer>> Local<C> {
    /// Reads the transfer on; its reply once whole.
    fn receive<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Reply<C>> {
        let Some(r) = self.receiving.as_mut() else {
            return Ok(Reply::None);
        };
        let mut conn = ReadYield::new(&mut r.stream, yld);
        match r.reader.read_into(&mut conn, &mut r.sink) {
            Ok(()) => {}
            Err(e) if e.is_would_block() => return Err(Error::yielded()),
            Err(e) => return Err(e),
        }
        let Some(mut r) = self.receiving.take() else {
            return Ok(Reply::None);
        };
        let (len, digest) = (r.sink.len, r.sink.finish());
        match r.then {
            Then::GiveBack => r.stream.give_back(),
            // The connection ends.
            Then::Drop => drop(r.stream),
            Then::SendBack => {
                r.stream.send_back(Msg::SentBack { qid: r.qid, len });
                return Ok(Reply::None);
            }
        }
        Ok(Reply::Send(
            r.from,
            Msg::Received {
                qid: r.qid,
                len,
                digest,
            },
        ))
    }
}

impl<C: MyDHTConf<ProtoMsg = Msg, ApiReply = Answer>> Service for Local<C> {
    type CommandIn = LocalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<C>, yld: &mut Y) -> Result<Reply<C>> {
        let from = *cmd.from.get_id();
        match (cmd.msg, cmd.stream) {
            (Msg::File { qid, len, then }, Some(stream)) => {
                let reader = AttachmentReader::new(Attachment::new(len), MAX_TRANSFER, 64 << 10)?;
                self.receiving = Some(Receiving {
                    qid,
                    from,
                    then,
                    stream,
                    reader,
                    sink: Digest::default(),
                });
                self.receive(yld)
            }
            (Msg::Received { qid, len, digest }, _) => {
                Ok(Reply::Api(qid, Answer::Received { len, digest }))
            }
            (Msg::SentBack { qid, len }, _) => Ok(Reply::Api(qid, Answer::SentBack { len })),
            (Msg::Ping(qid), _) => Ok(Reply::Send(from, Msg::Pong(qid))),
            (Msg::Pong(qid), _) => Ok(Reply::Api(qid, Answer::Pong)),
            (Msg::File { .. }, None) => Ok(Reply::None),
        }
    }
}

impl<C: MyDHTConf<ProtoMsg = Msg, ApiReply = Answer>> ServiceRestartable for Local<C> {
    fn resume<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Option<Reply<C>>> {
        if self.receiving.is_some() {
            self.receive(yld).map(Some)
        } else {
            Ok(None)
        }
    }
}

macro_rules! stream_conf {
    ($name:ident, constants: $constants:expr; $($profile:tt)*) => {
        struct $name;

        impl MyDHTConf for $name {
            loopback_conf_items!();
            type ProtoMsg = Msg;
            type GlobalCmd = Ask;
            type ApiReply = Answer;
            type GlobalService = GlobalOf<$name>;
            type LocalService = Local<$name>;
            $($profile)*

            fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<GlobalOf<$name>> {
                Ok(GlobalOf(std::marker::PhantomData))
            }
            fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<Local<$name>> {
                Ok(Local { receiving: None })
            }
            fn constants(&self) -> NodeConstants {
                $constants
            }
        }
    };
    ($name:ident, $($profile:tt)*) => {
        stream_conf!($name, constants: NodeConstants::default(); $($profile)*);
    };
}

stream_conf!(Threaded, mydht::threaded!(););
// Restartable: the local service reads the lent stream, so it must be
// restartable too (an inline one would spin on the loop's thread).
stream_conf!(Restartable, mydht::restartable!(local: RestartOrError, LocalRcChannel;););
/// Verdicts (and admissions) due within 300 ms.
const SHORT: Duration = Duration::from_millis(300);
stream_conf!(
    ShortVerdict,
    constants: NodeConstants { verdict_timeout: SHORT, ..NodeConstants::default() }; mydht::threaded!();
);

/// Streams `len` bytes from node 0 to node 1 of a new pair, checks them,
/// then a frame each way on the same connection; returns the peak heap
/// growth during the transfer.
fn transfer_and_go_on<C: MyDHTConf<GlobalCmd = Ask, ApiReply = Answer> + Send>(
    conf: fn() -> C,
    len: u64,
    seed: u8,
) -> usize {
    let nodes = start_nodes(2, conf).expect("nodes");
    let (a, b) = (&nodes[0], &nodes[1]);
    let peer_b = connect(a, b).expect("connect");
    let to = *peer_b.get_id();
    let expected = Pattern::digest(len, seed);
    let before = alloc_count::reset_peak();
    let start = Instant::now();
    let (ended, end) = sync_channel(1);
    let ask = Ask::Send {
        to,
        len,
        seed,
        then: Then::GiveBack,
        once: None,
        ended: Some(ended),
        gate: None,
    };
    let got = a.query(ask, 1, TRANSFER_TIMEOUT).expect("transfer");
    let took = start.elapsed();
    assert_eq!(end.recv_timeout(TIMEOUT).expect("told"), Ok(()));
    let growth = alloc_count::peak().saturating_sub(before);
    assert_eq!(
        got,
        vec![Answer::Received {
            len,
            digest: expected
        }]
    );
    println!(
        "{len} bytes streamed in {took:?} ({:.0} MB/s), peak heap growth {growth} bytes",
        len as f64 / took.as_secs_f64() / 1e6
    );
    // The stream came back: frames again, both ways, on that connection.
    for _ in 0..3 {
        assert_eq!(
            a.query(Ask::Ping(to), 1, TIMEOUT).expect("ping"),
            vec![Answer::Pong]
        );
    }
    assert_eq!(a.stats(TIMEOUT).expect("stats").open_connections, 1);
    stop_all(nodes).expect("stop");
    growth
}

/// The heap two nodes may grow by during a transfer of any size: buffers,
/// not the payload.
const HEAP_BOUND: usize = 8 << 20;

#[test]
fn a_1_gib_attachment_streams_after_its_message_with_the_heap_bounded() {
    let growth = transfer_and_go_on(|| Threaded, 1 << 30, 7);
    assert!(growth < HEAP_BOUND, "peak heap grew by {growth} bytes");
}

#[test]
fn a_stream_crosses_restartable_nodes_and_the_connection_goes_on() {
    let growth = transfer_and_go_on(|| Restartable, 64 << 20, 9);
    assert!(growth < HEAP_BOUND, "peak heap grew by {growth} bytes");
}

#[test]
fn a_stream_dropped_by_its_receiver_ends_the_connection() {
    let nodes = start_nodes(2, || Threaded).expect("nodes");
    let (a, b) = (&nodes[0], &nodes[1]);
    let peer_b = connect(a, b).expect("connect");
    let ask = Ask::Send {
        to: *peer_b.get_id(),
        len: 1 << 20,
        seed: 3,
        then: Then::Drop,
        once: None,
        ended: None,
        gate: None,
    };
    // The receiver drops the stream, which closes the connection (its
    // answer races with the close: not waited for).
    a.query_partial(ask, 1, Duration::from_millis(1))
        .expect("asked");
    let left = a
        .wait_peers(PeerCount::AtMost(0), TIMEOUT)
        .expect("a's peer offline");
    assert!(left.is_empty());
    b.wait_peers(PeerCount::AtMost(0), TIMEOUT)
        .expect("b's peer offline");
    stop_all(nodes).expect("stop");
}

#[test]
fn a_send_once_connection_streams_then_closes() {
    let nodes = start_nodes(2, || Threaded).expect("nodes");
    let (a, b) = (&nodes[0], &nodes[1]);
    // The answer comes back on the pooled connection.
    let peer_b = connect(a, b).expect("connect");
    let once = Some(address_of(b).expect("address"));
    let len = 8 << 20;
    let ask = Ask::Send {
        to: *peer_b.get_id(),
        len,
        seed: 5,
        then: Then::Drop,
        once,
        ended: None,
        gate: None,
    };
    let got = a.query(ask, 1, TRANSFER_TIMEOUT).expect("transfer");
    let digest = Pattern::digest(len, 5);
    assert_eq!(got, vec![Answer::Received { len, digest }]);
    // The send-once connection closed on both sides; the pooled one stays.
    for node in [a, b] {
        let start = Instant::now();
        while node.stats(TIMEOUT).expect("stats").open_connections != 1 {
            assert!(start.elapsed() < TIMEOUT, "send-once connection still open");
        }
    }
    assert_eq!(a.connected_peers(TIMEOUT).expect("peers").len(), 1);
    stop_all(nodes).expect("stop");
}

#[test]
fn a_receiver_answers_on_the_lent_stream_then_the_connection_ends() {
    let nodes = start_nodes(2, || Threaded).expect("nodes");
    let (a, b) = (&nodes[0], &nodes[1]);
    let peer_b = connect(a, b).expect("connect");
    let len = 3 << 20;
    let ask = Ask::Send {
        to: *peer_b.get_id(),
        len,
        seed: 11,
        then: Then::SendBack,
        once: None,
        ended: None,
        gate: None,
    };
    let got = a.query(ask, 1, TRANSFER_TIMEOUT).expect("answer");
    assert_eq!(got, vec![Answer::SentBack { len }]);
    // Then the receiver closed the connection: both sides see it.
    a.wait_peers(PeerCount::AtMost(0), TIMEOUT)
        .expect("a's peer offline");
    b.wait_peers(PeerCount::AtMost(0), TIMEOUT)
        .expect("b's peer offline");
    stop_all(nodes).expect("stop");
}

#[test]
fn a_stream_for_a_closed_port_ends_with_an_error() {
    let nodes = start_nodes(1, || Threaded).expect("nodes");
    // A port nothing listens on: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let (ended, end) = sync_channel(1);
    let ask = Ask::Send {
        to: PeerId::from([1; 32]),
        len: 1 << 20,
        seed: 1,
        then: Then::Drop,
        once: Some(closed),
        ended: Some(ended),
        gate: None,
    };
    nodes[0]
        .query_partial(ask, 1, Duration::from_millis(1))
        .expect("asked");
    let told = end.recv_timeout(TIMEOUT).expect("told");
    assert!(told.is_err(), "{told:?}");
    stop_all(nodes).expect("stop");
}

#[test]
fn a_send_once_stream_outlasts_the_admission_timeout() {
    let nodes = start_nodes(2, || ShortVerdict).expect("nodes");
    let (a, b) = (&nodes[0], &nodes[1]);
    let peer_b = connect(a, b).expect("connect");
    let len = 4 << 20;
    let (go, gate) = sync_channel(1);
    let ask = Ask::Send {
        to: *peer_b.get_id(),
        len,
        seed: 13,
        then: Then::Drop,
        once: Some(address_of(b).expect("address")),
        ended: None,
        gate: Some((1 << 20, gate)),
    };
    // The stream stops half-way for three admission timeouts: time must
    // pass, on purpose, beyond the deadline a connection waiting for its
    // peer's admission has (a send-once one has its own, longer).
    let opener = std::thread::spawn(move || {
        std::thread::sleep(SHORT * 3);
        go.send(())
    });
    let got = a.query(ask, 1, TIMEOUT).expect("answer");
    opener.join().expect("opener").expect("go");
    assert_eq!(
        got,
        vec![Answer::Received {
            len,
            digest: Pattern::digest(len, 13)
        }]
    );
    stop_all(nodes).expect("stop");
}
