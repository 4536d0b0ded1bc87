//! How a send-once connection ends, at the TCP level (issue 12): without a
//! reset. The dialler ends its session right after its message; the
//! acceptor closes only once it has read that end, even when its local
//! service dropped the message's lent stream before the end came, so its
//! own session end (the known-key dialler's confirmation) and its FIN go
//! out with nothing unread: the dialler reads them, then a clean end of
//! stream, never `ConnectionReset`; the acceptor reads the dialler's FIN
//! the same way. A dialler that never ends its session is cut at the
//! send-once timeout, one that sends past its stream after 64 KiB, and
//! nothing of the connection is left. Real TCP on loopback, port 0, under
//! `restartable!`, `threaded!` and `single_thread!`.

mod log_capture;

use std::io::{self, Cursor, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log_capture::Captured;
use mydht::auth::{wall_clock_ms, AuthMessage, CipherSuite};
use mydht::frame::WireMessage;
use mydht::service::PeersView;
use mydht::stream::{LentStream, OutStream, StreamSlot};
use mydht::{
    Authenticated, Bincode, ChallengeCache, FrameReader, FrameWriter, GlobalCommand, Handshake,
    Identity, LocalCommand, LocalPeer, MyDHTConf, NodeConstants, NodeHandle, PeerInfo, Reply,
    SessionShadow, Shadow,
};
use mydht_base::{
    Error, ErrorKind as MyErrorKind, ErrorLevel, Peer, ReadYield, Result, Service,
    ServiceRestartable, SpawnerYield,
};
use mydht_basetest::harness::nodes::{stop_all, TIMEOUT};
use mydht_basetest::loopback_conf_items;
use readwrite_comp::{CompR, CompW};
use serde::{Deserialize, Serialize};

/// What the test asks a node.
#[derive(Debug, Clone)]
pub enum Ask {
    /// Send this note once to this address.
    Once(SocketAddr, String),
    /// Send once to this address a file of this many bytes, streamed
    /// behind its message.
    OnceStream(SocketAddr, u64),
    /// The notes received, and the send-once messages reported lost.
    Notes,
}

/// What a node answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// On its way.
    Sent,
    /// The notes received so far, and how many send-once messages this
    /// node was told it lost (`GlobalCommand::SendOnceFailed`).
    Notes(Vec<String>, usize),
}

/// The message between nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Msg {
    /// A note.
    Note(String),
    /// A file of this many bytes follows on the connection.
    File(u64),
}

/// The note a node's local service gives its global service once it has
/// read a file of `len` bytes and dropped the stream.
fn file_note(len: u64) -> String {
    format!("file of {len} bytes read, its stream dropped")
}

macro_rules! close_conf {
    ($m:ident, $profile:ident) => {
        mod $m {
            use super::*;

            /// A node whose local service reads files and drops their
            /// stream, with its identity, logs, live local services and
            /// send-once timeout chosen by the test.
            pub struct Conf {
                pub identity: Identity,
                pub log: Captured,
                pub live: Arc<AtomicUsize>,
                pub send_once_timeout: Duration,
            }

            impl MyDHTConf for Conf {
                loopback_conf_items!();
                type ProtoMsg = Msg;
                type GlobalCmd = Ask;
                type ApiReply = Answer;
                type GlobalService = Global<Conf>;
                type LocalService = Local<Conf>;
                mydht::$profile!();

                fn constants(&self) -> NodeConstants {
                    NodeConstants {
                        send_once_timeout: self.send_once_timeout,
                        ..NodeConstants::default()
                    }
                }
                fn init_identity(&mut self) -> Result<Identity> {
                    Ok(self.identity.clone())
                }
                fn logger(&self) -> slog::Logger {
                    self.log.logger()
                }
                fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Global<Conf>> {
                    Ok(Global::default())
                }
                fn init_local(
                    &mut self,
                    _: &PeerInfo,
                    _: &PeerInfo,
                    _: &PeersView,
                ) -> Result<Local<Conf>> {
                    Ok(Local::new(self.live.clone()))
                }
            }

            impl CloseConf for Conf {
                fn make(identity: Identity, log: Captured, send_once_timeout: Duration) -> Self {
                    Conf {
                        identity,
                        log,
                        live: Arc::new(AtomicUsize::new(0)),
                        send_once_timeout,
                    }
                }
                fn live(&self) -> Arc<AtomicUsize> {
                    self.live.clone()
                }
            }

            #[test]
            fn a_dropped_stream_waits_for_the_dialler_s_end_then_both_close_cleanly() {
                super::waits_for_the_dialler_s_end::<Conf>();
            }

            #[test]
            fn a_dialler_that_never_ends_is_cut_at_the_send_once_timeout() {
                super::never_ends::<Conf>();
            }

            #[test]
            fn bytes_past_the_stream_are_read_at_most_64_kib() {
                super::past_the_stream::<Conf>();
            }

            #[test]
            fn between_nodes_every_send_once_connection_ends_with_two_fins() {
                super::between_nodes::<Conf>();
            }
        }
    };
}

close_conf!(restart, restartable);
close_conf!(threaded, threaded);
#[cfg(feature = "coroutine")]
close_conf!(single, single_thread);

/// A node configuration of this file.
trait CloseConf: MyDHTConf<GlobalCmd = Ask, ApiReply = Answer, ProtoMsg = Msg> {
    fn make(identity: Identity, log: Captured, send_once_timeout: Duration) -> Self;
    fn live(&self) -> Arc<AtomicUsize>;
}

/// Records notes and lost send-once messages, sends what it is asked.
pub struct Global<C> {
    notes: Vec<String>,
    lost: usize,
    _conf: std::marker::PhantomData<fn() -> C>,
}

impl<C> Default for Global<C> {
    fn default() -> Self {
        Global {
            notes: Vec::new(),
            lost: 0,
            _conf: std::marker::PhantomData,
        }
    }
}

mydht_base::sref_as_itself!(impl<C> for Global<C>);

impl<C: MyDHTConf<GlobalCmd = Ask, ApiReply = Answer, ProtoMsg = Msg>> Service for Global<C> {
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(match cmd {
            GlobalCommand::Api(qid, Ask::Once(to, text)) => match to.to_string().parse() {
                Ok(to) => Reply::Many(vec![
                    Reply::SendOnce(to, Msg::Note(text)),
                    Reply::Api(qid, Answer::Sent),
                ]),
                Err(_) => Reply::None,
            },
            GlobalCommand::Api(qid, Ask::OnceStream(to, len)) => match to.to_string().parse() {
                Ok(to) => {
                    let bytes = OutStream::new(Cursor::new(vec![7u8; len as usize]));
                    Reply::Many(vec![
                        Reply::SendOnceStream(to, Msg::File(len), bytes),
                        Reply::Api(qid, Answer::Sent),
                    ])
                }
                Err(_) => Reply::None,
            },
            GlobalCommand::Api(qid, Ask::Notes) => {
                Reply::Api(qid, Answer::Notes(self.notes.clone(), self.lost))
            }
            GlobalCommand::Distant(_, Msg::Note(text)) => {
                self.notes.push(text);
                Reply::None
            }
            GlobalCommand::SendOnceFailed(..) => {
                self.lost += 1;
                Reply::None
            }
            _ => Reply::None,
        })
    }
}

/// Hands notes to the global service; reads a file's bytes from the lent
/// stream, drops the stream, then tells the global service. Counted live
/// while it exists.
pub struct Local<C: MyDHTConf> {
    live: Arc<AtomicUsize>,
    reading: Option<(C::PeerRef, LentStream<C>, u64, u64)>,
}

impl<C: MyDHTConf> Local<C> {
    fn new(live: Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        Local {
            live,
            reading: None,
        }
    }
}

impl<C: MyDHTConf> Drop for Local<C> {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<C: MyDHTConf<ProtoMsg = Msg>> Local<C> {
    fn receive<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Reply<C>> {
        let mut buf = [0u8; 4096];
        while let Some((_, stream, left, _)) = self.reading.as_mut().filter(|r| r.2 > 0) {
            let want = (*left).min(buf.len() as u64) as usize;
            match ReadYield::new(stream, yld).read(&mut buf[..want]) {
                Ok(0) => {
                    let why = "the file's stream ended early";
                    return Err(Error::new(MyErrorKind::Other, ErrorLevel::ShutDown, why));
                }
                Ok(n) => *left -= n as u64,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Err(Error::yielded()),
                Err(e) => return Err(e.into()),
            }
        }
        let Some((from, stream, _, len)) = self.reading.take() else {
            return Ok(Reply::None);
        };
        drop(stream);
        Ok(Reply::Global(from, Msg::Note(file_note(len))))
    }
}

impl<C: MyDHTConf<ProtoMsg = Msg>> Service for Local<C> {
    type CommandIn = LocalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<C>, yld: &mut Y) -> Result<Reply<C>> {
        match (cmd.msg, cmd.stream) {
            (Msg::File(len), Some(stream)) => {
                self.reading = Some((cmd.from, stream, len, len));
                self.receive(yld)
            }
            (msg, _) => Ok(Reply::Global(cmd.from, msg)),
        }
    }
}

impl<C: MyDHTConf<ProtoMsg = Msg>> ServiceRestartable for Local<C> {
    fn resume<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Option<Reply<C>>> {
        if self.reading.is_some() {
            self.receive(yld).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// The nodes' encoder.
const ENC: Bincode = Bincode;
/// Frames of the handshake and of the test's messages are small.
const FRAME: usize = 8 * 1024;
/// The send-once timeout of the nodes that do not test it.
const LONG: Duration = Duration::from_secs(60);
/// The send-once timeout of the node that cuts a dialler never ending.
const SHORT: Duration = Duration::from_millis(300);
/// A file's length: several chunks of the session shadow.
const FILE: u64 = 200_000;

/// Asks until `done` holds of the answer, at most [`TIMEOUT`].
fn until<T: std::fmt::Debug>(
    what: &str,
    mut ask: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let start = Instant::now();
    loop {
        let got = ask();
        if done(&got) {
            return got;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "{what}: not in time, last {got:?}"
        );
        std::thread::yield_now();
    }
}

fn notes<C: CloseConf>(node: &NodeHandle<C>) -> (Vec<String>, usize) {
    match &node.query(Ask::Notes, 1, TIMEOUT).expect("notes")[..] {
        [Answer::Notes(n, lost)] => (n.clone(), *lost),
        other => panic!("not notes: {other:?}"),
    }
}

fn start<C: CloseConf>(
    send_once_timeout: Duration,
) -> (NodeHandle<C>, Identity, Captured, Arc<AtomicUsize>) {
    let (identity, log) = (Identity::generate().unwrap(), Captured::new());
    let conf = C::make(identity.clone(), log.clone(), send_once_timeout);
    let live = conf.live();
    let node = mydht::start_loop(conf).expect("node");
    (node, identity, log, live)
}

/// Waits until `node` has no connection left and no local service alive.
fn nothing_left<C: CloseConf>(node: &NodeHandle<C>, live: &AtomicUsize) {
    until(
        "connections and local services gone",
        || {
            let open = node.stats(TIMEOUT).expect("stats").open_connections;
            (open, live.load(Ordering::SeqCst))
        },
        |&(open, live)| open == 0 && live == 0,
    );
}

/// A client dialling a node the way a node's send-once dial does: its
/// known-key send-once flight, then frames and bytes sealed under the
/// session keys, each part written when the test says.
struct Client {
    socket: TcpStream,
    sealed: CompW<Vec<u8>, <SessionShadow as Shadow>::Writer>,
    auth: Authenticated,
}

impl Client {
    /// Dials `node` (whose `identity` it verified) with a send-once
    /// flight, then `Once` and a file's message, sealed; no byte of the
    /// file yet.
    fn dial<C: CloseConf>(node: &NodeHandle<C>, identity: &Identity, len: u64) -> Self {
        let me = LocalPeer::new(Identity::generate().unwrap(), "127.0.0.1:9".into()).unwrap();
        let mut memory = ChallengeCache::new(64, 2 * TIMEOUT);
        memory
            .verify_peer(node.local_peer(), identity.key_binding())
            .expect("binding");
        let (flight, auth) = Handshake::dial_known_send_once(
            &me,
            node.local_peer(),
            &mut memory,
            CipherSuite::default(),
            wall_clock_ms(),
        )
        .expect("flight");
        let mut socket = TcpStream::connect(node.local_peer().get_address()).expect("dial");
        socket.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let mut out = FrameWriter::new(FRAME);
        out.push_msg(&ENC, &AuthMessage::Known(flight))
            .expect("flight frame");
        let mut bytes = Vec::new();
        out.write_to(&mut bytes).expect("frame");
        socket.write_all(&bytes).expect("flight sent");
        let writer = SessionShadow::default().writer(&auth.keys).expect("shadow");
        let mut client = Client {
            socket,
            sealed: CompW::new(Vec::new(), writer),
            auth,
        };
        let mut frames = FrameWriter::new(FRAME);
        for msg in [
            WireMessage::Once,
            WireMessage::AppStream(Msg::File(len), StreamSlot::default()),
        ] {
            frames.push_msg(&ENC, &msg).expect("frame");
        }
        frames.write_to(&mut client.sealed).expect("seal");
        client.push();
        client
    }

    /// Seals `n` bytes of a file and sends them.
    fn file(&mut self, n: u64) {
        io::copy(&mut io::repeat(7).take(n), &mut self.sealed).expect("seal");
        self.sealed.flush().expect("seal");
        self.push();
    }

    /// Ends the session: its last chunk, sealed.
    fn end(&mut self) {
        self.sealed.write_end().expect("end");
        self.push();
    }

    fn push(&mut self) {
        let bytes = std::mem::take(self.sealed.get_mut());
        self.socket.write_all(&bytes).expect("sent");
    }

    /// Reads until the node closes: what came, and how the stream ended
    /// (`Ok`: a clean end of stream, `Ok(0)`).
    fn read_to_close(&mut self) -> (Vec<u8>, io::Result<()>) {
        let mut back = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.socket.read(&mut buf) {
                Ok(0) => return (back, Ok(())),
                Ok(n) => back.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return (back, Err(e)),
            }
        }
    }

    /// True when `back` is the node's session end alone, sealed under the
    /// keys: what confirms a send-once flight to its dialler.
    fn is_sealed_end(&self, back: &[u8]) -> bool {
        let reader = SessionShadow::default()
            .reader(&self.auth.keys)
            .expect("shadow");
        let mut opened = CompR::new(back, reader);
        matches!(
            FrameReader::new(FRAME).read_msg::<WireMessage<Msg>, _, _>(&ENC, &mut opened),
            Ok(None)
        )
    }
}

/// The node reads the file, drops its stream, and must not close before
/// the dialler's session end: the dialler sends it only once the drop is
/// known (what a close at the drop would reset). Then the node's sealed
/// session end, a clean end of stream with no reset pending, and the node
/// sees the dialler's FIN the same way (no connection dropped with an
/// error); nothing is left of the connection.
fn waits_for_the_dialler_s_end<C: CloseConf>() {
    let (node, identity, log, live) = start::<C>(LONG);
    let mut client = Client::dial(&node, &identity, FILE);
    client.file(FILE);
    until(
        "the file read",
        || notes(&node).0,
        |n| n == &[file_note(FILE)],
    );
    client.end();
    let (back, end) = client.read_to_close();
    assert!(
        end.is_ok(),
        "the node did not close cleanly after {} bytes: {end:?}",
        back.len()
    );
    assert!(
        client.is_sealed_end(&back),
        "not the node's sealed session end alone: {} bytes",
        back.len()
    );
    // A reset that came after the FIN would be pending here.
    assert!(
        client.socket.take_error().expect("socket").is_none(),
        "a reset after the FIN"
    );
    assert_eq!(
        client.socket.read(&mut [0u8; 16]).expect("end of stream"),
        0
    );
    drop(client);
    nothing_left(&node, &live);
    let errors: Vec<_> = log
        .lines()
        .into_iter()
        .filter(|l| l.contains("connection dropped") || l.contains("read service ended"))
        .collect();
    assert!(
        errors.is_empty(),
        "the node's end was not clean: {errors:#?}"
    );
    stop_all([node]).expect("stop");
}

/// A dialler that sends its file and never its session end: the node
/// reads it all, waits for the end, and drops the connection at its
/// send-once timeout (logged, a `Timeout`), its local service gone with
/// it; the node serves the next dialler as before.
fn never_ends<C: CloseConf>() {
    let (node, identity, log, live) = start::<C>(SHORT);
    let started = Instant::now();
    let mut client = Client::dial(&node, &identity, FILE);
    client.file(FILE);
    until(
        "the file read",
        || notes(&node).0,
        |n| n == &[file_note(FILE)],
    );
    let dropped = log
        .wait_for(TIMEOUT, |l| {
            l.contains("connection dropped")
                && l.contains("send-once connection open past its timeout")
        })
        .unwrap_or_else(|| panic!("no timeout drop: {:#?}", log.lines()));
    assert!(
        started.elapsed() >= SHORT,
        "cut before its timeout: {dropped}"
    );
    // Everything the dialler sent was read: the close is a FIN, and the
    // node's session end (its message did arrive) comes first.
    let (back, end) = client.read_to_close();
    assert!(end.is_ok(), "{end:?} after {} bytes", back.len());
    assert!(client.is_sealed_end(&back), "{} bytes back", back.len());
    drop(client);
    nothing_left(&node, &live);

    // The next one, ended, closes as before.
    let mut next = Client::dial(&node, &identity, 10);
    next.file(10);
    next.end();
    let (back, end) = next.read_to_close();
    assert!(end.is_ok() && next.is_sealed_end(&back), "{end:?}");
    until(
        "the second file read",
        || notes(&node).0,
        |n| n.len() == 2 && n[1] == file_note(10),
    );
    stop_all([node]).expect("stop");
}

/// A dialler that sends 80 KiB past the file it announced, then its end:
/// the node reads at most 64 KiB of them looking for the end, then drops
/// the connection at once with the error (`TooLarge`, logged); its close
/// may then be a reset. Nothing is left of the connection.
fn past_the_stream<C: CloseConf>() {
    let (node, identity, log, live) = start::<C>(LONG);
    let mut client = Client::dial(&node, &identity, 1000);
    client.file(1000 + (80 << 10));
    client.end();
    let cut = log
        .wait_for(TIMEOUT, |l| {
            l.contains("connection dropped") && l.contains("past its message")
        })
        .unwrap_or_else(|| panic!("no cut logged: {:#?}", log.lines()));
    assert!(cut.contains("send-once peer sent"), "{cut}");
    let (_, end) = client.read_to_close();
    match end {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("not closed: {e}"),
    }
    drop(client);
    nothing_left(&node, &live);
    assert_eq!(notes(&node).0, [file_note(1000)]);
    stop_all([node]).expect("stop");
}

/// How one direction of a proxied connection ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// End of stream (`Ok(0)`), passed on as a FIN.
    Fin,
    /// A read error: a reset, or the test's timeout.
    Failed(ErrorKind),
}

/// A TCP proxy to `to` for `n` connections: each byte passed on at once,
/// each direction's end passed on as it came (a FIN as a shutdown, a reset
/// as a close), and reported: `(connection, from the dialler, how)`; once
/// every connection ended, a reset that came to a socket after its end of
/// stream is reported too.
fn proxy(to: SocketAddr, n: usize) -> (SocketAddr, Receiver<(usize, bool, Ended)>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("proxy");
    let address = listener.local_addr().expect("address");
    let (tx, rx) = channel();
    let thread = std::thread::spawn(move || {
        let (mut pipes, mut sockets) = (Vec::new(), Vec::new());
        for (i, dialler) in listener.incoming().take(n).enumerate() {
            let dialler = dialler.expect("accepted");
            let acceptor = TcpStream::connect(to).expect("to the node");
            for s in [&dialler, &acceptor] {
                s.set_nodelay(true).expect("nodelay");
                s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
            }
            let (d2, a2) = (
                dialler.try_clone().expect("clone"),
                acceptor.try_clone().expect("clone"),
            );
            sockets.push((i, true, dialler.try_clone().expect("clone")));
            sockets.push((i, false, acceptor.try_clone().expect("clone")));
            let (t1, t2) = (tx.clone(), tx.clone());
            pipes.push(std::thread::spawn(move || {
                pipe(dialler, acceptor, i, true, t1)
            }));
            pipes.push(std::thread::spawn(move || pipe(a2, d2, i, false, t2)));
        }
        for p in pipes {
            p.join().expect("pipe");
        }
        for (i, up, socket) in sockets {
            if let Ok(Some(e)) = socket.take_error() {
                let _ = tx.send((i, up, Ended::Failed(e.kind())));
            }
        }
    });
    (address, rx, thread)
}

fn pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    i: usize,
    up: bool,
    tx: Sender<(usize, bool, Ended)>,
) {
    let mut buf = [0u8; 16 << 10];
    let ended = loop {
        match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                break Ended::Fin;
            }
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    // The other side is gone: its own pipe reports how.
                    let _ = from.shutdown(Shutdown::Both);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = to.shutdown(Shutdown::Both);
                break Ended::Failed(e.kind());
            }
        }
    };
    let _ = tx.send((i, up, ended));
}

/// Node A sends notes and files once to node B through a proxy: the
/// first dial signed, the later ones known-key, framed and streamed. Every
/// connection ends with a FIN each way (no reset either way), B has every
/// note and file, and A lost none (each known-key flight confirmed by B's
/// session end).
fn between_nodes<C: CloseConf>() {
    let (a, _, log_a, live_a) = start::<C>(LONG);
    let (b, _, _, live_b) = start::<C>(LONG);
    const N: usize = 6;
    let (via, ends, thread) = proxy(b.local_peer().get_address().parse().expect("address"), N);
    let mut expected = Vec::new();
    for i in 0..N {
        let ask = if i % 2 == 0 {
            let text = format!("note {i}");
            expected.push(text.clone());
            Ask::Once(via, text)
        } else {
            let len = FILE + i as u64;
            expected.push(file_note(len));
            Ask::OnceStream(via, len)
        };
        a.query(ask, 1, TIMEOUT).expect("sent");
        // One connection at a time, so that each is the proxy's next.
        until("delivered", || notes(&b).0.len(), |&n| n == expected.len());
    }
    let mut got: Vec<(usize, bool, Ended)> = (0..2 * N)
        .map(|_| ends.recv_timeout(TIMEOUT).expect("a connection's end"))
        .collect();
    thread.join().expect("proxy");
    got.extend(ends.try_iter());
    got.sort_by_key(|e| (e.0, e.1));
    let unclean: Vec<_> = got.iter().filter(|e| e.2 != Ended::Fin).collect();
    assert!(unclean.is_empty(), "ends not a FIN: {unclean:?}");
    assert_eq!(notes(&b).0, expected);
    assert_eq!(notes(&a).1, 0, "A was told it lost a message");
    let known = log_a
        .lines()
        .iter()
        .filter(|l| l.contains("known-key dial;"))
        .count();
    assert!(known >= 1, "no known-key dial: {:#?}", log_a.lines());
    nothing_left(&a, &live_a);
    nothing_left(&b, &live_b);
    stop_all([a, b]).expect("stop");
}
