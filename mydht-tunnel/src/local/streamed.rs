//! The streamed carriage at a hop: the header in the frame, the cells on
//! the lent read stream, pumped on by a write service (relays) or read
//! here, restartable (the exit, the sender of a reply).

use std::io::{Cursor, Read};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mydht::stream::{LentStream, OutStream};
use mydht::{MyDHTConf, Reply};
use mydht_base::{Error, ReadYield, Result, SpawnerYield};
use readwrite_comp::ExtRead;
use tunnel::{HopFailure, HopKind, HopReader, ReplyWriter, TunnelError, TunnelReadProv};

use crate::address::decode_address;
use crate::app::{InnerCommand, MyDHTTunnelConf};
use crate::book::ReplyId;
use crate::conf::TunnelConfOf;
use crate::error::TunnelSendError;
use crate::global::io_to_send;
use crate::link::{new_link, LinkId, SharedReader};
use crate::msg::{encode_content, ContentReader, TunnelMsg};
use crate::stream::{split_header, CellsAfterHeader, RelaySource, ReportTo};

use super::{
    api_replies, first_reply, hop, is_would_block, next_address, reply_failed, send_failure,
    HopError, HopResult, TunnelLocal,
};

/// Attachment bytes handed to the inner service at a time.
const CHUNK: usize = 64 << 10;

/// Who reads a streamed onion to its end here.
enum Role {
    /// The exit: reports go to `upstream` on `link`.
    Exit {
        upstream: Option<SocketAddr>,
        link: LinkId,
    },
    /// The sender reading the reply `id` (left in the book until read
    /// whole: a report from the routes may answer it first), after
    /// `relays` reply relays.
    Sender { id: ReplyId, relays: usize },
}

/// Where a streamed onion's reading is.
enum Stage<T: MyDHTTunnelConf> {
    /// The exit's reply preamble.
    Preamble,
    /// The message.
    Message,
    /// The first bytes after the message: is there an attachment?
    Peek(T::Msg),
    /// The attachment's bytes.
    Attachment,
    /// The end of a reply's cells: a reply is its message alone (the
    /// exit streams nothing else), so data here fails the reply.
    ReplyEnd(T::Msg),
}

/// A streamed onion being read from the lent stream, kept across
/// `WouldBlock` restarts.
pub(super) struct Reading<C: MyDHTConf, T: MyDHTTunnelConf> {
    lent: LentStream<C>,
    state: ReadState<T>,
    /// The buffer it reads into, kept across restarts (a wake per cell
    /// or so: a buffer per wake was 64 KiB allocated and zeroed each
    /// time).
    chunk: Vec<u8>,
}

/// Where the reading of a streamed onion is.
struct ReadState<T: MyDHTTunnelConf> {
    reader: HopReader,
    role: Role,
    content: ContentReader,
    stage: Stage<T>,
}

impl<C: TunnelConfOf<T>, T: MyDHTTunnelConf> TunnelLocal<C, T> {
    /// A streamed onion: its header in the frame, its cells on `lent`.
    pub(super) fn on_stream<Y: SpawnerYield>(
        &mut self,
        upstream: Option<SocketAddr>,
        link: LinkId,
        header: Vec<u8>,
        mut lent: LentStream<C>,
        yld: &mut Y,
    ) -> Result<Reply<C>> {
        let mut reader = self.view.new_reader();
        let conn = lent.conn();
        // The fixed header is all in the frame: only the exit's preamble
        // may wait on the stream (the exit goes on reading it below).
        let first = {
            let mut src = (&header[..]).chain(ReadYield::new(&mut lent, yld));
            self.header(&mut reader, &mut src)
        };
        let pending_preamble = match first {
            Ok(()) => false,
            Err(e) if is_would_block(&e) && reader.kind() == Some(HopKind::Exit) => true,
            Err(e) => return self.failed(&reader, upstream, link, e),
        };
        match reader.kind() {
            Some(HopKind::Relay | HopKind::ReplyRelay) => {
                match self.relay_stream(reader, lent, upstream, link, conn) {
                    Ok(r) => Ok(r),
                    Err(failed) => {
                        let (reader, e) = *failed;
                        self.failed(&reader, upstream, link, e)
                    }
                }
            }
            Some(HopKind::Exit) => {
                self.reading = Some(Reading {
                    lent,
                    chunk: vec![0u8; CHUNK],
                    state: ReadState {
                        reader,
                        role: Role::Exit { upstream, link },
                        content: ContentReader::new(self.settings.max_msg),
                        stage: if pending_preamble {
                            Stage::Preamble
                        } else {
                            Stage::Message
                        },
                    },
                });
                self.proceed(yld)
            }
            Some(HopKind::ReplyExit) => {
                let id: Option<ReplyId> = reader.reply_id().and_then(|id| id.try_into().ok());
                let relays = id.and_then(|id| {
                    let mut shared = self.shared.lock();
                    let q = shared.book.arriving(&id)?;
                    let relays = q.reports.reply_relays();
                    Some((id, relays.unwrap_or(0)))
                });
                let Some((id, relays)) = relays else {
                    // Late (answered or expired): the connection ends.
                    return Ok(Reply::None);
                };
                self.reading = Some(Reading {
                    lent,
                    chunk: vec![0u8; CHUNK],
                    state: ReadState {
                        reader,
                        role: Role::Sender { id, relays },
                        content: ContentReader::new(self.settings.max_msg),
                        stage: Stage::Message,
                    },
                });
                self.proceed(yld)
            }
            None => {
                let e = reader.failure().cloned().unwrap_or(TunnelError::NoHeader);
                self.failed(
                    &reader,
                    upstream,
                    link,
                    hop(HopFailure::BadHeader, e.into()),
                )
            }
        }
    }

    /// A streamed relay: the next header goes in the frame, the write
    /// service pumps the cells from `lent` through the reader.
    fn relay_stream(
        &mut self,
        mut reader: HopReader,
        lent: LentStream<C>,
        upstream: Option<SocketAddr>,
        link: LinkId,
        conn: mydht::command::ConnRef,
    ) -> std::result::Result<Reply<C>, Box<(HopReader, HopError)>> {
        let next = match next_address(&reader) {
            Ok(a) => a,
            Err(e) => return Err(Box::new((reader, e))),
        };
        // The next header comes first out of the reader, without reading
        // the stream.
        let mut header = vec![0u8; self.view.layout().header.header_len()];
        let mut have = 0;
        while have < header.len() {
            match reader.read_from(&mut &[][..], &mut header[have..]) {
                Ok(0) => break,
                Ok(n) => have += n,
                Err(e) => return Err(Box::new((reader, hop(HopFailure::BadHeader, e)))),
            }
        }
        let out_link = match new_link() {
            Ok(l) => l,
            Err(e) => return Err(Box::new((reader, send_failure(HopFailure::BadContent, e)))),
        };
        let reader = Arc::new(Mutex::new(reader));
        // Query and reply relays alike report upstream: a reply relay's
        // report goes back to the exit, which passes it on to the sender.
        let report = upstream.map(|upstream| ReportTo {
            upstream,
            link,
            out_link,
        });
        self.keep_link(out_link, upstream, link, reader.clone());
        let grace = self.settings.grace;
        let logger = self.logger.clone();
        let source = RelaySource::new(lent, reader, self.shared.clone(), report, grace, logger);
        let on_end = self.on_end(out_link, Some(source.failed_flag()));
        let stream = OutStream::pumping(source).woken_by(conn).on_end(on_end);
        let msg = TunnelMsg::Stream {
            link: out_link,
            header,
        };
        Ok(Reply::SendOnceStream(next, msg, stream))
    }

    /// Reads the streamed onion in hand on; its replies once read whole.
    pub(super) fn proceed<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Reply<C>> {
        match self.read_on(yld) {
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => Err(Error::yielded()),
            Err(e) => {
                let Some(r) = self.reading.take() else {
                    return Err(e.error);
                };
                match r.state.role {
                    Role::Exit { upstream, link } => {
                        self.failed(&r.state.reader, upstream, link, e)
                    }
                    Role::Sender { id, relays } => {
                        // A reply cut or tampered on the way: a reply relay
                        // that caught it reports back through the exit;
                        // the reply's own failure answers after the grace.
                        slog::warn!(self.logger, "tunnel reply failed"; "error" => %e.error);
                        let at = Instant::now() + self.settings.grace;
                        let error = reply_failed(relays, e.failure);
                        self.shared.lock().book.fail_reply(&id, at, error);
                        Ok(Reply::None)
                    }
                }
            }
        }
    }

    /// Reads on; `Ok(None)` when the stream would block (restart later).
    fn read_on<Y: SpawnerYield>(&mut self, yld: &mut Y) -> HopResult<Option<Reply<C>>> {
        loop {
            let step = {
                let Some(r) = self.reading.as_mut() else {
                    return Ok(Some(Reply::None));
                };
                let mut src = ReadYield::new(&mut r.lent, yld);
                step(&mut r.state, &mut src, &mut r.chunk, &self.view)?
            };
            match step {
                Step::Again => {}
                Step::Blocked => return Ok(None),
                Step::Inner(cmds) => {
                    for cmd in cmds {
                        // Answers to an attachment's first bytes and
                        // chunks are not replies: the end's is.
                        self.inner_call(cmd, yld)?;
                    }
                }
                Step::Exit(cmd) => return self.exit_reply(cmd, yld).map(Some),
                Step::Replied(msg) => return self.reply_read(msg, yld).map(Some),
            }
        }
    }

    /// The exit's inner service answers; its reply goes back streamed.
    fn exit_reply<Y: SpawnerYield>(
        &mut self,
        cmd: InnerCommand<T>,
        yld: &mut Y,
    ) -> HopResult<Reply<C>> {
        let reply = self.inner_call(cmd, yld)?;
        let Some(r) = self.reading.take() else {
            return Ok(Reply::None);
        };
        let Some(msg) = first_reply(reply) else {
            return Ok(Reply::None);
        };
        // The connection it came on ends here: the onion is read whole.
        let Reading {
            lent, mut state, ..
        } = r;
        drop(lent);
        let writer = self
            .view
            .reply_writer(&mut state.reader)
            .map_err(|e| hop(HopFailure::BadContent, e.into()))?;
        let (upstream, link) = match state.role {
            Role::Exit { upstream, link } => (upstream, link),
            Role::Sender { .. } => (None, [0; 8]),
        };
        let reader = Arc::new(Mutex::new(state.reader));
        self.send_reply(writer, &msg, upstream, link, reader)
            .map_err(|e| send_failure(HopFailure::BadContent, e))
    }

    /// Sends the reply `msg` with `writer`: header in the frame, cells
    /// streamed on a send-once connection to the first reply hop. Reports
    /// from the reply route (and this exit's own, if the first reply hop
    /// cannot be reached) go to `upstream` on the query's `link`, wrapped
    /// with the exit's `reader`.
    fn send_reply(
        &self,
        mut writer: ReplyWriter,
        msg: &T::Msg,
        upstream: Option<SocketAddr>,
        link: LinkId,
        reader: SharedReader,
    ) -> std::result::Result<Reply<C>, TunnelSendError> {
        let content = encode_content(msg)?;
        let first = decode_address(writer.first_address())?;
        let header_len = self.view.layout().header.header_len();
        let (header, prefix) = split_header(&mut writer, header_len).map_err(io_to_send)?;
        let layer = CellsAfterHeader::new(prefix, Arc::new(Mutex::new(writer)));
        let out_link = new_link()?;
        self.keep_link(out_link, upstream, link, reader);
        let stream = OutStream::new(Cursor::new(content))
            .reads_never_wait()
            .through(layer)
            .on_end(self.on_end(out_link, None));
        let msg = TunnelMsg::Stream {
            link: out_link,
            header,
        };
        Ok(Reply::SendOnceStream(first, msg, stream))
    }

    /// The sender's inner service reads the reply to its query (unless a
    /// report or the deadline answered it meanwhile).
    fn reply_read<Y: SpawnerYield>(&mut self, msg: T::Msg, yld: &mut Y) -> HopResult<Reply<C>> {
        let Some(r) = self.reading.take() else {
            return Ok(Reply::None);
        };
        let Role::Sender { id, .. } = r.state.role else {
            return Ok(Reply::None);
        };
        drop(r);
        let Some(q) = self.shared.lock().book.take(&id) else {
            return Ok(Reply::None);
        };
        let reply = self.inner_call(InnerCommand::Replied(msg), yld)?;
        Ok(api_replies(q.qid, reply))
    }
}

/// What reading a streamed onion on asks for next.
enum Step<T: MyDHTTunnelConf> {
    /// Read on.
    Again,
    /// The stream would block.
    Blocked,
    /// Give these to the inner service (no reply expected).
    Inner(Vec<InnerCommand<T>>),
    /// Give this to the inner service at the exit; its reply goes back.
    Exit(InnerCommand<T>),
    /// The sender read the reply.
    Replied(T::Msg),
}

/// One step of reading `r` from `src`.
fn step<T: MyDHTTunnelConf>(
    r: &mut ReadState<T>,
    src: &mut dyn Read,
    chunk: &mut [u8],
    view: &TunnelReadProv,
) -> HopResult<Step<T>> {
    let would_block = |e: &std::io::Error| e.kind() == std::io::ErrorKind::WouldBlock;
    match &mut r.stage {
        Stage::Preamble => match r.reader.read_header(src) {
            Err(e) if would_block(&e) => Ok(Step::Blocked),
            Err(e) => Err(hop(HopFailure::BadContent, e)),
            Ok(()) => {
                r.stage = Stage::Message;
                Ok(Step::Again)
            }
        },
        Stage::Message => {
            let bad = |e| send_failure(HopFailure::BadContent, e);
            let wants = r.content.wants().map_err(bad)?;
            if wants == 0 {
                let msg = r.content.message().map_err(bad)?;
                r.stage = match r.role {
                    Role::Exit { .. } => Stage::Peek(msg),
                    Role::Sender { .. } => Stage::ReplyEnd(msg),
                };
                return Ok(Step::Again);
            }
            let n = wants.min(chunk.len());
            match r.reader.read_from(src, &mut chunk[..n]) {
                Err(e) if would_block(&e) => Ok(Step::Blocked),
                Err(e) => Err(hop(HopFailure::BadContent, e)),
                Ok(0) => Err(bad(TunnelSendError::Codec("message cut short".into()))),
                Ok(n) => {
                    r.content.push(&chunk[..n]);
                    Ok(Step::Again)
                }
            }
        }
        Stage::Peek(_) | Stage::ReplyEnd(_) | Stage::Attachment => {
            let n = match r.reader.read_from(src, chunk) {
                Err(e) if would_block(&e) => return Ok(Step::Blocked),
                Err(e) => return Err(hop(HopFailure::BadContent, e)),
                Ok(n) => n,
            };
            let can_reply = view.can_reply(&r.reader);
            let stage = std::mem::replace(&mut r.stage, Stage::Attachment);
            Ok(match (stage, n) {
                (Stage::ReplyEnd(msg), 0) => Step::Replied(msg),
                (Stage::ReplyEnd(_), n) => {
                    // Data after a reply's message: no honest exit sends
                    // any (`send_reply` streams the message alone), and
                    // reading it on would let a hostile exit hold this
                    // read until the send-once deadline. Refused at the
                    // first bytes, as bad content.
                    let e = format!("{n} bytes of data after the reply's message");
                    return Err(send_failure(
                        HopFailure::BadContent,
                        TunnelSendError::Codec(e),
                    ));
                }
                (Stage::Peek(msg), 0) => Step::Exit(InnerCommand::Exit {
                    msg,
                    can_reply,
                    attached: false,
                }),
                (Stage::Peek(msg), n) => Step::Inner(vec![
                    InnerCommand::Exit {
                        msg,
                        can_reply,
                        attached: true,
                    },
                    InnerCommand::Attached(chunk[..n].to_vec()),
                ]),
                (_, 0) => Step::Exit(InnerCommand::AttachedEnd { can_reply }),
                (_, n) => Step::Inner(vec![InnerCommand::Attached(chunk[..n].to_vec())]),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use mydht::PeerInfo;
    use mydht_base::{Result, Service, SpawnerYield};
    use readwrite_comp::{ExtRead, ExtWrite};
    use tunnel::crypto::X25519Secret;
    use tunnel::{FullTunnel, HopFailure, HopKind, RouteHop, TunnelConfig, TunnelError};

    use super::{step, ReadState, Role, Stage, Step, CHUNK};
    use crate::app::{InnerCommand, InnerReply, MyDHTTunnelConf};
    use crate::book::ReplyId;
    use crate::error::TunnelSendError;
    use crate::local::reply_failed;
    use crate::msg::{encode_content, ContentReader};

    /// What travels: a word and a number.
    type Msg = (String, u64);

    /// An application whose inner service answers nothing (`step` never
    /// calls it).
    struct App;

    /// The inner service of [`App`].
    struct Silent;

    impl Service for Silent {
        type CommandIn = InnerCommand<App>;
        type CommandOut = InnerReply<App>;
        fn call<Y: SpawnerYield>(
            &mut self,
            _: InnerCommand<App>,
            _: &mut Y,
        ) -> Result<InnerReply<App>> {
            Ok(InnerReply::None)
        }
    }

    impl MyDHTTunnelConf for App {
        type Msg = Msg;
        type Cmd = ();
        type Answer = ();
        type InnerService = Silent;
        fn init_inner(&mut self, _: &PeerInfo) -> Result<Silent> {
            Ok(Silent)
        }
    }

    /// A node's full tunnel and its route hop.
    fn node(port: u16) -> (FullTunnel, RouteHop) {
        let secret = X25519Secret::generate().expect("key");
        let hop = RouteHop {
            public_key: *secret.public_key(),
            address: crate::address::encode_address(&([127, 0, 0, 1], port).into()),
        };
        let full = FullTunnel::new(TunnelConfig::default(), secret).expect("tunnel");
        (full, hop)
    }

    /// Alice queries Bob (no relay, the reply straight back); Bob replies
    /// `reply` then `extra` data cells (valid, sealed with the reply's
    /// keys). Returns Alice's tunnel and the reply's bytes as they come on
    /// her connection (the header, then the cells).
    fn reply_with(reply: &Msg, extra: &[u8]) -> (FullTunnel, Vec<u8>) {
        let (mut alice, alice_hop) = node(1);
        let (bob, bob_hop) = node(2);
        let mut writer = alice
            .new_writer(std::slice::from_ref(&bob_hop), Some(&[alice_hop]))
            .expect("writer");
        let query = encode_content(&("ping".to_string(), 7u64)).expect("query");
        let mut onion = Vec::new();
        writer.write_header(&mut onion).expect("header");
        writer.write_all_into(&mut onion, &query).expect("cells");
        writer.write_end(&mut onion).expect("end");

        // Bob, the exit: reads the query whole, then writes his reply.
        let view = bob.view();
        let mut input = &onion[..];
        let mut exit = view.new_reader();
        exit.read_header(&mut input).expect("exit header");
        assert_eq!(exit.kind(), Some(HopKind::Exit));
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = exit.read_from(&mut input, &mut buf).expect("query cells");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, query);
        let mut back = view.reply_writer(&mut exit).expect("reply writer");
        let mut out = Vec::new();
        back.write_header(&mut out).expect("reply header");
        back.write_all_into(&mut out, &encode_content(reply).expect("reply"))
            .expect("reply cells");
        back.write_all_into(&mut out, extra).expect("extra cells");
        back.write_end(&mut out).expect("reply end");
        (alice, out)
    }

    /// Alice reads `bytes`, the reply to her query, as her local service
    /// does (`on_stream`, then `step` until it asks for more than reading
    /// on): what the last step gave, and how many bytes were left unread.
    fn sender_reads(alice: &mut FullTunnel, bytes: &[u8]) -> (super::HopResult<Step<App>>, usize) {
        let view = alice.view();
        let mut src = bytes;
        let mut reader = view.new_reader();
        reader.read_header(&mut src).expect("reply header");
        assert_eq!(reader.kind(), Some(HopKind::ReplyExit));
        let id: ReplyId = reader
            .reply_id()
            .and_then(|id| id.try_into().ok())
            .expect("reply id");
        alice.admit(&mut reader).expect("admitted");
        let mut state = ReadState::<App> {
            reader,
            role: Role::Sender { id, relays: 0 },
            content: ContentReader::new(1 << 20),
            stage: Stage::Message,
        };
        let mut chunk = vec![0u8; CHUNK];
        loop {
            match step(&mut state, &mut src as &mut dyn Read, &mut chunk, &view) {
                Ok(Step::Again) => {}
                last => return (last, src.len()),
            }
        }
    }

    #[test]
    fn a_reply_is_its_message_alone() {
        let pong = ("pong".to_string(), 42u64);
        let (mut alice, bytes) = reply_with(&pong, &[]);
        match sender_reads(&mut alice, &bytes) {
            (Ok(Step::Replied(msg)), 0) => assert_eq!(msg, pong),
            (Ok(_), left) => panic!("not the reply ({left} bytes left)"),
            (Err(e), _) => panic!("reply failed: {:?} {}", e.failure, e.error),
        }
    }

    #[test]
    fn data_after_a_replys_message_fails_the_reply_at_once() {
        // Valid cells after the message, many of them: the sender refuses
        // the first and reads no further.
        let extra = vec![0x5a; 4 * CHUNK];
        let (mut alice, bytes) = reply_with(&("pong".to_string(), 42), &extra);
        let (last, left) = sender_reads(&mut alice, &bytes);
        let e = match last {
            Err(e) => e,
            Ok(Step::Replied(msg)) => {
                panic!("reply {msg:?} given after {} data bytes", extra.len())
            }
            Ok(_) => panic!("not a failure"),
        };
        assert_eq!(e.failure, HopFailure::BadContent);
        assert!(left > extra.len() / 2, "read on to {left} bytes left");
        assert!(matches!(
            reply_failed(0, e.failure),
            TunnelSendError::Tunnel(TunnelError::ReplyHopFailed {
                hop: 0,
                failure: HopFailure::BadContent
            })
        ));
    }
}
