//! [`TunnelLocal`]: the read side of a tunnel node, one per connection. It
//! holds the light tunnel view and reads each onion that arrives: a relay
//! sends the next hop's onion on at once, the exit runs the inner service
//! and sends its reply on the reply route, the sender gives a reply to the
//! api query that awaits it; error reports go back link by link. Nothing
//! goes through the global service.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::time::Instant;

use mydht::{LocalCommand, QueryId, Reply};
use mydht_base::{Error, ErrorKind, ErrorLevel, Peer, Result, Service, SpawnerYield};
use readwrite_comp::ExtRead;
use tunnel::full::ERROR_REPORT_LEN;
use tunnel::{HopFailure, HopKind, HopReader, ReplyWriter, TunnelError, TunnelReadProv};

use crate::address::decode_address;
use crate::app::{InnerCommand, InnerReply, MyDHTTunnelConf};
use crate::conf::TunnelConfOf;
use crate::error::TunnelSendError;
use crate::global::io_to_send;
use crate::link::{new_link, LinkId, RelayLink};
use crate::msg::{Payload, TunnelMsg};
use crate::onion::{read_payload, relay_onion, write_onion};
use crate::shared::SharedTunnel;

/// The local tunnel service of one connection.
pub struct TunnelLocal<C, T: MyDHTTunnelConf> {
    inner: T::InnerService,
    view: TunnelReadProv,
    shared: SharedTunnel,
    logger: slog::Logger,
    conf: PhantomData<fn() -> C>,
}

/// A hop that cannot go on: what it reports back, and why (logged).
struct HopError {
    failure: HopFailure,
    error: Error,
}

type HopResult<R> = std::result::Result<R, HopError>;

impl<C: TunnelConfOf<T>, T: MyDHTTunnelConf> TunnelLocal<C, T> {
    /// The local service of one connection.
    pub(crate) fn new(
        inner: T::InnerService,
        view: TunnelReadProv,
        shared: SharedTunnel,
        logger: slog::Logger,
    ) -> Self {
        TunnelLocal {
            inner,
            view,
            shared,
            logger,
            conf: PhantomData,
        }
    }

    /// An onion carried whole in a frame, from the hop listening at
    /// `upstream`, on link `link`.
    fn on_onion<Y: SpawnerYield>(
        &mut self,
        upstream: Option<SocketAddr>,
        link: LinkId,
        bytes: &[u8],
        yld: &mut Y,
    ) -> Result<Reply<C>> {
        let mut reader = self.view.new_reader();
        match self.read_onion(&mut reader, upstream, link, bytes, yld) {
            Ok(reply) => Ok(reply),
            Err(HopError { failure, error }) => {
                slog::warn!(self.logger, "tunnel hop failed"; "failure" => ?failure, "error" => %error);
                // Reports travel in the query direction only: a reply hop
                // shares no key with the sender's query route.
                let query_side =
                    matches!(reader.kind(), None | Some(HopKind::Relay | HopKind::Exit));
                match (upstream, query_side) {
                    (Some(to), true) => {
                        let report = reader.error_report(failure).map_err(tunnel_error)?;
                        Ok(Reply::SendOnce(to, TunnelMsg::Report { link, report }))
                    }
                    _ => Ok(Reply::None),
                }
            }
        }
    }

    fn read_onion<Y: SpawnerYield>(
        &mut self,
        reader: &mut HopReader,
        upstream: Option<SocketAddr>,
        link: LinkId,
        bytes: &[u8],
        yld: &mut Y,
    ) -> HopResult<Reply<C>> {
        let mut input = bytes;
        if let Err(e) = reader.read_header(&mut input) {
            // At the exit, reading the header also reads the reply
            // preamble from the first cells: a header read is then a
            // content failure.
            let failure = match reader.kind() {
                Some(_) => HopFailure::BadContent,
                None => HopFailure::BadHeader,
            };
            return Err(hop(failure, e));
        }
        if self.view.needs_full(reader) {
            // Reply relay (replay cache) or a reply to this node (kept keys).
            let admitted = self.shared.lock().full.admit(reader);
            admitted.map_err(|e| hop(HopFailure::Replayed, e.into()))?;
        }
        match reader.kind() {
            Some(HopKind::Relay) => {
                let (out, onion) = self.relay(reader, &mut input)?;
                // Keep the way back for a report on the outgoing link.
                if let Some(upstream) = upstream {
                    let mut r = self.view.new_reader();
                    std::mem::swap(&mut r, reader);
                    let entry = RelayLink {
                        upstream,
                        upstream_link: link,
                        reader: r,
                    };
                    self.shared
                        .lock()
                        .links
                        .insert(out.1, entry, Instant::now());
                }
                Ok(Reply::SendOnce(out.0, onion))
            }
            Some(HopKind::ReplyRelay) => {
                let (out, onion) = self.relay(reader, &mut input)?;
                Ok(Reply::SendOnce(out.0, onion))
            }
            Some(HopKind::Exit) => {
                let bytes =
                    read_payload(reader, &mut input).map_err(|e| hop(HopFailure::BadContent, e))?;
                let payload = Payload::decode(&bytes).map_err(|e| HopError {
                    failure: HopFailure::BadContent,
                    error: send_error(e),
                })?;
                let writer = if self.view.can_reply(reader) {
                    let w = self.view.reply_writer(reader);
                    Some(Box::new(
                        w.map_err(|e| hop(HopFailure::BadContent, e.into()))?,
                    ))
                } else {
                    None
                };
                self.exit(payload, writer, yld).map_err(|error| HopError {
                    failure: HopFailure::BadContent,
                    error,
                })
            }
            Some(HopKind::ReplyExit) => {
                let bytes =
                    read_payload(reader, &mut input).map_err(|e| hop(HopFailure::BadContent, e))?;
                let payload: Payload<T::Msg> = Payload::decode(&bytes).map_err(|e| HopError {
                    failure: HopFailure::BadContent,
                    error: send_error(e),
                })?;
                let q = self.shared.lock().book.take(payload.token);
                let Some(q) = q else {
                    return Ok(Reply::None);
                };
                self.replied(q.qid, payload.msg, yld)
                    .map_err(|error| HopError {
                        failure: HopFailure::BadContent,
                        error,
                    })
            }
            None => {
                let e = reader.failure().cloned().unwrap_or(TunnelError::NoHeader);
                Err(hop(HopFailure::BadHeader, e.into()))
            }
        }
    }

    /// A relay: the next hop's onion, its address and a new link id.
    fn relay(
        &mut self,
        reader: &mut HopReader,
        input: &mut &[u8],
    ) -> HopResult<((SocketAddr, LinkId), TunnelMsg)> {
        let next = reader
            .next_address()
            .map(decode_address)
            .unwrap_or(Err(TunnelSendError::BadAddress))
            .map_err(|e| HopError {
                failure: HopFailure::Unreachable,
                error: send_error(e),
            })?;
        let onion = relay_onion(reader, input).map_err(|e| hop(HopFailure::BadContent, e))?;
        let link = new_link().map_err(|e| HopError {
            failure: HopFailure::BadContent,
            error: send_error(e),
        })?;
        Ok(((next, link), TunnelMsg::Onion { link, onion }))
    }

    /// The exit: the inner service's answer, and its reply sent back.
    fn exit<Y: SpawnerYield>(
        &mut self,
        payload: Payload<T::Msg>,
        mut writer: Option<Box<ReplyWriter>>,
        yld: &mut Y,
    ) -> Result<Reply<C>> {
        let cmd = InnerCommand::Exit {
            msg: payload.msg,
            can_reply: writer.is_some(),
        };
        let reply = self.inner.call(cmd, yld)?;
        let mut msgs = Vec::new();
        flatten_replies(reply, &mut msgs);
        let Some(msg) = msgs.into_iter().next() else {
            return Ok(Reply::None);
        };
        let Some(writer) = writer.as_mut() else {
            return Err(Error::new(
                ErrorKind::Config,
                ErrorLevel::Ignore,
                "the inner service replied to a tunnel message that asked for no reply",
            ));
        };
        let bytes = Payload {
            token: payload.token,
            msg,
        }
        .encode()
        .map_err(send_error)?;
        let onion = write_onion(&mut **writer, &bytes).map_err(|e| send_error(io_to_send(e)))?;
        let first = decode_address(writer.first_address()).map_err(send_error)?;
        // A reply hop reports nothing back: its link id is only for shape.
        let link = new_link().map_err(send_error)?;
        Ok(Reply::SendOnce(first, TunnelMsg::Onion { link, onion }))
    }

    /// The sender: the inner service reads the reply to query `qid`.
    fn replied<Y: SpawnerYield>(
        &mut self,
        qid: QueryId,
        msg: T::Msg,
        yld: &mut Y,
    ) -> Result<Reply<C>> {
        let reply = self.inner.call(InnerCommand::Replied(msg), yld)?;
        Ok(api_replies(qid, reply))
    }

    /// An error report on link `link`: wrapped and passed upstream at a
    /// relay, read at the sender.
    fn on_report(&mut self, link: LinkId, mut report: [u8; ERROR_REPORT_LEN]) -> Result<Reply<C>> {
        let mut shared = self.shared.lock();
        if let Some(back) = shared.links.take(&link, Instant::now()) {
            drop(shared);
            back.reader
                .wrap_error_report(&mut report)
                .map_err(tunnel_error)?;
            return Ok(Reply::SendOnce(
                back.upstream,
                TunnelMsg::Report {
                    link: back.upstream_link,
                    report,
                },
            ));
        }
        let Some(q) = shared.book.take_link(&link) else {
            // Late (the query is answered or expired) or not ours.
            return Ok(Reply::None);
        };
        drop(shared);
        let error = match &q.writer {
            Some(w) => w.read_error_report(&report),
            None => TunnelError::BadErrorReport,
        };
        Ok(Reply::Api(q.qid, Err(TunnelSendError::Tunnel(error))))
    }
}

/// The messages an exit's inner service replies with (the first goes: a
/// reply block is single use).
fn flatten_replies<T: MyDHTTunnelConf>(reply: InnerReply<T>, out: &mut Vec<T::Msg>) {
    match reply {
        InnerReply::Reply(m) => out.push(m),
        InnerReply::Many(v) => v.into_iter().for_each(|r| flatten_replies(r, out)),
        InnerReply::None | InnerReply::Api(_) | InnerReply::Send(_) => {}
    }
}

/// The api answers of the inner service reading a reply to query `qid`.
fn api_replies<C: TunnelConfOf<T>, T: MyDHTTunnelConf>(
    qid: QueryId,
    reply: InnerReply<T>,
) -> Reply<C> {
    match reply {
        InnerReply::Api(a) => Reply::Api(qid, Ok(a)),
        InnerReply::Many(v) => Reply::Many(v.into_iter().map(|r| api_replies(qid, r)).collect()),
        InnerReply::None | InnerReply::Send(_) | InnerReply::Reply(_) => Reply::None,
    }
}

impl<C: TunnelConfOf<T>, T: MyDHTTunnelConf> Service for TunnelLocal<C, T> {
    type CommandIn = LocalCommand<C>;
    type CommandOut = Reply<C>;

    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<C>, yld: &mut Y) -> Result<Reply<C>> {
        match cmd.msg {
            TunnelMsg::Onion { link, onion } => {
                // The authenticated previous hop's listening address.
                let upstream = cmd.from.get_address().parse().ok();
                self.on_onion(upstream, link, &onion, yld)
            }
            TunnelMsg::Report { link, report } => self.on_report(link, report),
        }
    }
}

/// A hop failure from a tunnel layer's I/O error.
fn hop(failure: HopFailure, e: std::io::Error) -> HopError {
    HopError {
        failure,
        error: send_error(io_to_send(e)),
    }
}

/// A tunnel error as a node error (the connection goes on).
fn tunnel_error(e: TunnelError) -> Error {
    send_error(TunnelSendError::Tunnel(e))
}

/// A tunnel send error as a node error (the connection goes on).
fn send_error(e: TunnelSendError) -> Error {
    Error::new(ErrorKind::Decode, ErrorLevel::Ignore, e.to_string()).with_source(e)
}
