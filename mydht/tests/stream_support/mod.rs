//! What the stream tests share: a transfer's bytes (`Pattern`, made
//! as they are read, and its digest), a node whose global service sends
//! them after a message and whose local service reads them from the lent
//! stream, and its confs (`stream_conf!`, `Threaded`, `Restartable`).

// Each test file uses a part of this module.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Duration;

use mydht::frame::AttachmentReader;
use mydht::service::PeersView;
use mydht::stream::{LentStream, OutStream};
use mydht::{
    GlobalCommand, LocalCommand, MyDHTConf, NodeConstants, PeerId, PeerInfo, QueryId, Reply,
};
use mydht_base::{
    Attachment, Error, Peer, ReadYield, Result, Service, ServiceRestartable, SpawnerYield,
};
use mydht_basetest::loopback_conf_items;
use openssl::sha::Sha256;
use serde::{Deserialize, Serialize};

/// How long a transfer may take (1 GiB in a debug build).
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(240);

/// The bytes of a transfer: byte `o` is `(o % 251) ^ seed`, made from one
/// block, never held whole.
pub struct Pattern {
    block: Vec<u8>,
    offset: u64,
    len: u64,
}

pub const BLOCK: usize = 64 << 10;

impl Pattern {
    pub fn new(len: u64, seed: u8) -> Self {
        let block = (0..BLOCK + 251).map(|i| (i % 251) as u8 ^ seed).collect();
        Pattern {
            block,
            offset: 0,
            len,
        }
    }

    pub fn digest(len: u64, seed: u8) -> [u8; 32] {
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
pub struct Gated {
    pattern: Pattern,
    at: u64,
    go: Option<Receiver<()>>,
    reached: Option<SyncSender<()>>,
}

impl Read for Gated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pattern.offset >= self.at {
            if let Some(go) = self.go.take() {
                if let Some(reached) = self.reached.take() {
                    let _ = reached.send(());
                }
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
pub struct Digest {
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
pub enum Then {
    /// Gives it back: frames again on the connection.
    GiveBack,
    /// Drops it: the connection ends.
    Drop,
    /// Answers on it (`LentStream::send_back`): the answer, then the end.
    SendBack,
}

/// A gate in a stream's source ([`Gated`]): it stops after `at` bytes,
/// tells `reached` so, and waits for a message on `go` (a blocking read,
/// as a file or a pipe may do).
#[derive(Debug)]
pub struct Gate {
    pub at: u64,
    pub go: Receiver<()>,
    pub reached: Option<SyncSender<()>>,
}

#[derive(Debug)]
pub enum Ask {
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
        /// Where the stream stops until a go.
        gate: Option<Gate>,
    },
    /// A frame to `to` and its answer.
    Ping(PeerId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
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
pub enum Msg {
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
                    Some(Gate { at, go, reached }) => OutStream::new(Gated {
                        pattern,
                        at,
                        go: Some(go),
                        reached,
                    }),
                    // In memory: a sender may pump it in place.
                    None => OutStream::new(pattern).reads_never_wait(),
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

pub struct GlobalOf<C>(std::marker::PhantomData<fn() -> C>);
mydht_base::sref_as_itself!(impl<C> for GlobalOf<C>);

/// A transfer being read.
pub struct Receiving<C: MyDHTConf> {
    qid: QueryId,
    from: PeerId,
    then: Then,
    stream: LentStream<C>,
    reader: AttachmentReader,
    sink: Digest,
}

pub struct Local<C: MyDHTConf> {
    receiving: Option<Receiving<C>>,
}

/// The most a transfer may announce.
pub const MAX_TRANSFER: u64 = 2 << 30;

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
        pub struct $name;

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
pub const SHORT: Duration = Duration::from_millis(300);
stream_conf!(
    ShortVerdict,
    constants: NodeConstants { verdict_timeout: SHORT, ..NodeConstants::default() }; mydht::threaded!();
);
