//! [`TunnelGlobal`]: the node's global tunnel service. It runs the
//! application's inner service on api commands, draws routes from the peers
//! its online/offline events report, writes queries into onions and sends
//! them on send-once connections, and answers the api with typed errors.

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use mydht::{GlobalCommand, PeerInfo, PeerStatus, QueryId, Reply};
use mydht_base::{Error, ErrorKind, ErrorLevel, Peer, Result, Service, SpawnerYield};
use tunnel::FrameLayout;

use crate::address::decode_address;
use crate::app::{InnerCommand, InnerReply, MyDHTTunnelConf, ReplyRoute, TunnelSend};
use crate::book::PendingQuery;
use crate::conf::TunnelConfOf;
use crate::error::TunnelSendError;
use crate::link::new_link;
use crate::msg::{Payload, TunnelMsg};
use crate::onion::write_onion;
use crate::route::RouteProvider;
use crate::shared::SharedTunnel;

/// Bytes of a frame that are not the onion (message tag, length), kept
/// free when checking that an onion fits a frame.
const FRAME_OVERHEAD: usize = 64;

/// The node's global tunnel service: route provider, query sending and
/// bookkeeping, and the inner service's api side.
pub struct TunnelGlobal<C, T: MyDHTTunnelConf> {
    inner: T::InnerService,
    routes: RouteProvider,
    shared: SharedTunnel,
    layout: FrameLayout,
    timeout: Duration,
    max_frame: usize,
    conf: PhantomData<fn() -> C>,
}

impl<C: TunnelConfOf<T>, T: MyDHTTunnelConf> TunnelGlobal<C, T> {
    /// The global service of the node `me`.
    pub(crate) fn new(
        inner: T::InnerService,
        me: &PeerInfo,
        shared: SharedTunnel,
        timeout: Duration,
        max_frame: usize,
    ) -> Result<Self> {
        let layout = *shared.lock().full.layout();
        Ok(TunnelGlobal {
            inner,
            routes: RouteProvider::new(me).map_err(config_error)?,
            shared,
            layout,
            timeout,
            max_frame,
            conf: PhantomData,
        })
    }

    /// Answers the queries whose time is up with
    /// [`TunnelSendError::Timeout`].
    fn sweep(&mut self, now: Instant) -> Vec<Reply<C>> {
        let gone = self.shared.lock().book.expire(now);
        gone.into_iter()
            .map(|q| Reply::Api(q.qid, Err(TunnelSendError::Timeout)))
            .collect()
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
        let mut shared = self.shared.lock();
        let token = shared.book.new_token()?;
        let payload = Payload {
            token,
            msg: send.msg,
        }
        .encode()?;
        // The content is the reply preamble (at most a marker and a reply
        // block: one header and an address) and the payload.
        let preamble =
            2 + self.layout.header.header_len() + 32 + self.layout.header.max_address_len();
        let max = self.max_frame.saturating_sub(FRAME_OVERHEAD);
        let len = self.layout.frame_len((preamble + payload.len()) as u64) as usize;
        if len > max {
            return Err(TunnelSendError::TooLarge { len, max });
        }
        if with_reply && shared.book.is_full() {
            return Err(TunnelSendError::TooManyPending);
        }
        let mut writer = shared.full.new_writer(&plan.route, plan.reply.as_deref())?;
        let onion = write_onion(&mut writer, &payload).map_err(io_to_send)?;
        let first = decode_address(writer.first_address())?;
        let link = new_link()?;
        if with_reply {
            let query = PendingQuery {
                qid,
                deadline: Instant::now() + self.timeout,
                link,
                writer: Some(Box::new(writer)),
            };
            shared.book.insert(token, query)?;
        }
        Ok(Reply::SendOnce(first, TunnelMsg::Onion { link, onion }))
    }
}

impl<C: TunnelConfOf<T>, T: MyDHTTunnelConf> Service for TunnelGlobal<C, T> {
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;

    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, yld: &mut Y) -> Result<Reply<C>> {
        let mut out = self.sweep(Instant::now());
        match cmd {
            GlobalCommand::PeerStatus(peer, PeerStatus::Online) => {
                self.routes.online((*peer).clone())
            }
            GlobalCommand::PeerStatus(peer, PeerStatus::Offline) => {
                self.routes.offline(peer.get_id())
            }
            // Tunnel nodes forward nothing to the global service.
            GlobalCommand::Distant(..) => {}
            GlobalCommand::Api(qid, cmd) => {
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
