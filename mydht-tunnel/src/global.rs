//! [`TunnelGlobal`]: the node's global tunnel service. It runs the
//! application's inner service on api commands, draws routes from the peers
//! its online/offline events report, writes queries into onions and sends
//! them on send-once connections, and, on its tick, ends the queries whose
//! time is up, sends the reports pumps queued and the hop's own failure
//! reports once their grace is over, and makes header key pairs ahead.

use std::io::{Cursor, Read};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mydht::stream::OutStream;
use mydht::{GlobalCommand, PeerInfo, PeerStatus, QueryId, Reply};
use mydht_base::{Error, ErrorKind, ErrorLevel, Peer, Result, Service, SpawnerYield};
use tunnel::crypto::X25519Secret;
use tunnel::{FrameLayout, FullWriter, HopFailure};

use crate::address::decode_address;
use crate::app::{
    Carriage, InnerCommand, InnerReply, MyDHTTunnelConf, ReplyRoute, TunnelCmd, TunnelSend,
};
use crate::book::PendingQuery;
use crate::conf::TunnelConfOf;
use crate::error::TunnelSendError;
use crate::link::{new_link, LinkId};
use crate::msg::{encode_content, TunnelMsg};
use crate::onion::write_onion;
use crate::route::RouteProvider;
use crate::shared::{SharedTunnel, TunnelShared};
use crate::stream::{split_header, CellsAfterHeader};

/// Bytes of a frame that are not the onion (message tag, length), kept
/// free when checking that an onion fits a frame.
const FRAME_OVERHEAD: usize = 64;

/// How many report graces a query waits after a relay on both its
/// routes went offline before it fails (the hop before the relay, if the
/// query had not passed it, reports it after one grace).
const OFFLINE_WAIT_GRACES: u32 = 4;

/// Header key pairs made ahead per tick, at most: all the node's
/// `FullTunnel` keeps ([`tunnel::full::EPHEMERAL_KEYS_KEPT`], one X25519
/// scalar multiplication each, 25-100 µs here depending on the load). A
/// query takes them instead of making its own (8 through 3 relays each
/// way); 8 a tick ran dry at 170 queries a second (the bench's back-to-back
/// round trips: half the keys still made on the query's path). A tick
/// makes them only when the node's own queries took some.
const KEYS_PER_TICK: usize = tunnel::full::EPHEMERAL_KEYS_KEPT;

/// How the global tunnel service runs (from the application's conf).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GlobalSettings {
    pub(crate) timeout: Duration,
    pub(crate) grace: Duration,
    pub(crate) max_frame: usize,
    pub(crate) carriage: Carriage,
}

/// The node's global tunnel service: route provider, query sending and
/// bookkeeping, and the inner service's api side.
pub struct TunnelGlobal<C, T: MyDHTTunnelConf> {
    inner: T::InnerService,
    routes: RouteProvider,
    shared: SharedTunnel,
    layout: FrameLayout,
    settings: GlobalSettings,
    logger: slog::Logger,
    /// What the helper thread made for this node's queries.
    ahead: Arc<crate::ahead::Inbox>,
    conf: PhantomData<fn() -> C>,
}

impl<C: TunnelConfOf<T>, T: MyDHTTunnelConf> TunnelGlobal<C, T> {
    /// The global service of the node `me`.
    pub(crate) fn new(
        inner: T::InnerService,
        me: &PeerInfo,
        shared: SharedTunnel,
        settings: GlobalSettings,
        logger: slog::Logger,
    ) -> Result<Self> {
        let layout = *shared.lock().full.layout();
        crate::ahead::start(&logger);
        Ok(TunnelGlobal {
            inner,
            routes: RouteProvider::new(me).map_err(config_error)?,
            shared,
            layout,
            settings,
            logger,
            ahead: Arc::default(),
            conf: PhantomData,
        })
    }

    /// Has header key pairs made ahead (up to what the node's `FullTunnel`
    /// keeps) by the helper thread ([`crate::ahead`]), off the node's
    /// loop; here (at most [`KEYS_PER_TICK`], outside the shared lock:
    /// the local services' look-ups do not wait for them) only if that
    /// thread cannot take the job.
    fn make_keys(&self) {
        let room = {
            let mut shared = self.shared.lock();
            crate::ahead::take_ready(&self.ahead, &mut shared.full);
            shared.full.ephemeral_room()
        };
        if crate::ahead::make_keys(&self.ahead, room, &self.logger) {
            return;
        }
        let mut made = Vec::with_capacity(room.min(KEYS_PER_TICK));
        for _ in 0..room.min(KEYS_PER_TICK) {
            match X25519Secret::generate() {
                Ok(key) => made.push(key),
                Err(e) => {
                    // A query then makes its own (and fails typed if it
                    // cannot either).
                    slog::warn!(self.logger, "tunnel header keys not made ahead"; "error" => %e);
                    break;
                }
            }
        }
        if !made.is_empty() {
            self.shared.lock().full.add_ephemeral_keys(made);
        }
    }

    /// What time asks: queries whose time is up or whose first hop failed,
    /// own failure reports due, reports the pumps queued.
    fn housekeeping(&mut self, now: Instant, out: &mut Vec<Reply<C>>) {
        // Dropped once the state is unlocked: a lent stream's end tells
        // the main loop.
        let _released;
        let mut shared = self.shared.lock();
        _released = shared.links.release(now);
        Self::answer_due(&mut shared, now, out);
        for link in shared.links.due(now) {
            let Some((_, failure)) = link.failed else {
                continue;
            };
            let reader = link.reader.lock().unwrap_or_else(|e| e.into_inner());
            if let Ok(report) = reader.error_report(failure) {
                let msg = TunnelMsg::Report {
                    link: link.upstream_link,
                    report,
                };
                out.push(Reply::SendOnce(link.upstream, msg));
            }
        }
        out.extend(
            shared
                .outbox
                .drain(..)
                .map(|(to, msg)| Reply::SendOnce(to, msg)),
        );
    }

    /// A tunnel message to `address` is lost (its send-once connection
    /// failed before it was read). No hop after this one got it, so none
    /// will report it: this node fails it now rather than at the timeout.
    /// An onion in a frame, given back, names its link: this node's own
    /// query fails `Unreachable`, or, as a relay or the exit, this node
    /// reports its next hop unreachable upstream at once. Any other loss
    /// (a stream's header, given back by no one: its stream's end reports
    /// it) fails this node's queries whose first hop is `address`.
    fn message_lost(
        &mut self,
        address: &SocketAddr,
        msg: Option<TunnelMsg>,
        out: &mut Vec<Reply<C>>,
    ) {
        let now = Instant::now();
        {
            let mut shared = self.shared.lock();
            match msg {
                Some(TunnelMsg::Onion { link, .. }) => {
                    shared.book.fail(&link, now, TunnelSendError::Unreachable);
                    shared.links.fail(&link, HopFailure::Unreachable, now);
                }
                _ => shared.book.first_hop_failed(address, now),
            }
        }
        self.housekeeping(now, out);
    }

    /// Answers the book's queries due at `now` (timed out or failed).
    fn answer_due(shared: &mut TunnelShared, now: Instant, out: &mut Vec<Reply<C>>) {
        for (id, q) in shared.book.due(now) {
            shared.full.cancel_reply(&id);
            out.push(Reply::Api(q.qid, Err(q.error())));
        }
    }

    /// What the inner service's answer to api query `qid` asks of the node.
    fn on_inner(&mut self, qid: QueryId, reply: InnerReply<T>, out: &mut Vec<Reply<C>>) {
        match reply {
            InnerReply::None => {}
            InnerReply::Api(answer) => out.push(Reply::Api(qid, Ok(answer))),
            InnerReply::Send(send) => match self.send(qid, send) {
                Ok(r) => out.push(r),
                Err(e @ TunnelSendError::NotEnoughPeers { .. }) => {
                    out.push(Reply::FindPeers);
                    out.push(Reply::Api(qid, Err(e)));
                }
                Err(e) => out.push(Reply::Api(qid, Err(e))),
            },
            InnerReply::Reply(_) => out.push(Reply::Api(
                qid,
                Err(TunnelSendError::Codec(
                    "the inner service replied to an api command as to a tunnel message".into(),
                )),
            )),
            InnerReply::Many(v) => {
                for r in v {
                    self.on_inner(qid, r, out);
                }
            }
        }
    }

    /// Writes `send` into an onion and sends it to its first hop; its
    /// reply, if any, will answer `qid`.
    fn send(
        &mut self,
        qid: QueryId,
        send: TunnelSend<T::Msg>,
    ) -> std::result::Result<Reply<C>, TunnelSendError> {
        let plan = self.routes.plan(&send)?;
        let with_reply = send.reply != ReplyRoute::None;
        let content = encode_content(&send.msg)?;
        let framed = self.settings.carriage == Carriage::Frame && send.attachment.is_none();
        if framed {
            // The content is the reply preamble (at most a marker and a
            // reply block: one header and an address) and the message.
            let header = &self.layout.header;
            let preamble = 2 + header.header_len() + 32 + header.max_address_len();
            let max = self.settings.max_frame.saturating_sub(FRAME_OVERHEAD);
            let len = self.layout.frame_len((preamble + content.len()) as u64) as usize;
            if len > max {
                return Err(TunnelSendError::TooLarge { len, max });
            }
        }
        let mut shared = self.shared.lock();
        if with_reply && shared.book.is_full() {
            return Err(TunnelSendError::TooManyPending);
        }
        // The hops prepared for this query, if the helper thread is done.
        crate::ahead::take_ready(&self.ahead, &mut shared.full);
        let mut writer = shared.full.new_writer(&plan.route, plan.reply.as_deref())?;
        let reply_id = writer.reply_id().copied();
        let header_len = self.layout.header.header_len();
        let start = match first_message(&mut writer, &content, framed, header_len) {
            Ok(m) => m,
            Err(e) => {
                // The writer kept this query's reply keys: no reply comes.
                if let Some(id) = reply_id {
                    shared.full.cancel_reply(&id);
                }
                return Err(e);
            }
        };
        if let Some(id) = reply_id {
            let deadline = Instant::now() + self.settings.timeout;
            let both = plan.on_both_routes();
            let reports = writer.report_reader();
            let query = PendingQuery::new(qid, deadline, (start.link, start.to), reports, both);
            shared.book.insert(id, query)?;
        }
        drop(shared);
        // The next query's hops, prepared off its path (a query of this
        // shape: same destination, relays and reply route).
        if let Some(hops) = self.routes.draw_ahead(&send) {
            crate::ahead::prepare(&self.ahead, hops, &self.logger);
        }
        let FirstMessage {
            to,
            link,
            msg,
            stream_prefix,
        } = start;
        let Some(prefix) = stream_prefix else {
            return Ok(Reply::SendOnce(to, msg));
        };
        let writer = Arc::new(Mutex::new(writer));
        let layer = CellsAfterHeader::new(prefix, writer);
        let mut stream = match send.attachment {
            // The application's attachment may block: only the write
            // service's thread reads it.
            Some(a) => OutStream::new(Cursor::new(content).chain(a.0)).through(layer),
            // In memory: the sender (the main loop) may write it all.
            None => OutStream::new(Cursor::new(content))
                .reads_never_wait()
                .through(layer),
        };
        if reply_id.is_some() {
            let shared = self.shared.clone();
            let grace = self.settings.grace;
            stream = stream.on_end(move |r| {
                if r.is_err() {
                    let at = Instant::now() + grace;
                    shared
                        .lock()
                        .book
                        .fail(&link, at, TunnelSendError::Unreachable);
                }
            });
        }
        Ok(Reply::SendOnceStream(to, msg, stream))
    }
}

impl<C: TunnelConfOf<T>, T: MyDHTTunnelConf> Service for TunnelGlobal<C, T> {
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;

    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, yld: &mut Y) -> Result<Reply<C>> {
        let mut out = Vec::new();
        self.housekeeping(Instant::now(), &mut out);
        match cmd {
            GlobalCommand::PeerStatus(peer, PeerStatus::Online) => {
                self.routes.online((*peer).clone())
            }
            GlobalCommand::PeerStatus(peer, PeerStatus::Offline) => {
                self.routes.offline(peer.get_id());
                // Queries with it on both routes fail a while after (a
                // reply already past it may still arrive, a hop before it
                // on the query route may still report it first: its own
                // report waits for the grace).
                let at = Instant::now() + OFFLINE_WAIT_GRACES * self.settings.grace;
                self.shared.lock().book.relay_offline(peer.get_id(), at);
            }
            // Tunnel nodes forward nothing to the global service.
            GlobalCommand::Distant(..) => {}
            // Tunnel messages go on send-once connections; a failed pooled
            // dial only means fewer peers, which the route provider sees.
            GlobalCommand::DialFailed(..) => {}
            GlobalCommand::SendOnceFailed(address, error, msg) => {
                slog::debug!(self.logger, "tunnel message lost"; "to" => %address, "error" => %error);
                self.message_lost(&address, msg, &mut out);
            }
            GlobalCommand::Api(_, TunnelCmd::Tick) => self.make_keys(),
            GlobalCommand::Api(qid, TunnelCmd::App(cmd)) => {
                let reply = self.inner.call(InnerCommand::Api(cmd), yld)?;
                self.on_inner(qid, reply, &mut out);
            }
        }
        Ok(match out.len() {
            0 => Reply::None,
            1 => out.pop().unwrap_or(Reply::None),
            _ => Reply::Many(out),
        })
    }
}

/// A tunnel error as a node error (setting up the service).
fn config_error(e: TunnelSendError) -> Error {
    Error::new(ErrorKind::Config, ErrorLevel::Fatal, e.to_string()).with_source(e)
}

/// How the onion `writer` writes starts: all of it in one message
/// (`framed`), or its header, the stream after it.
fn first_message(
    writer: &mut FullWriter,
    content: &[u8],
    framed: bool,
    header_len: usize,
) -> std::result::Result<FirstMessage, TunnelSendError> {
    let to = decode_address(writer.first_address())?;
    let link = new_link()?;
    if framed {
        let onion = write_onion(writer, content).map_err(io_to_send)?;
        let msg = TunnelMsg::Onion { link, onion };
        return Ok(FirstMessage {
            to,
            link,
            msg,
            stream_prefix: None,
        });
    }
    let (header, prefix) = split_header(writer, header_len).map_err(io_to_send)?;
    let msg = TunnelMsg::Stream { link, header };
    Ok(FirstMessage {
        to,
        link,
        msg,
        stream_prefix: Some(prefix),
    })
}

/// How an onion starts ([`first_message`]).
struct FirstMessage {
    /// The first hop's address.
    to: SocketAddr,
    /// The onion's link to its first hop.
    link: LinkId,
    /// The onion in a frame, or its header.
    msg: TunnelMsg,
    /// Streamed: the bytes written after the header, first on the stream.
    stream_prefix: Option<Vec<u8>>,
}

/// An I/O error of a tunnel layer as the error the api sees.
pub(crate) fn io_to_send(e: std::io::Error) -> TunnelSendError {
    if let Some(t) = tunnel::TunnelError::from_io(&e) {
        return TunnelSendError::Tunnel(t.clone());
    }
    match tunnel::cell::CellError::from_io(&e) {
        Some(c) => TunnelSendError::Tunnel(tunnel::TunnelError::Cell(c.clone())),
        None => TunnelSendError::Io(e.kind()),
    }
}
