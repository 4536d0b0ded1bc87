//! [`TunnelLocal`]: the read side of a tunnel node, one per connection. It
//! holds the light tunnel view and reads each onion that arrives: a relay
//! sends the next hop's onion on at once, the exit runs the inner service
//! and sends its reply on the reply route, the sender gives a reply to the
//! api query that awaits it. Nothing goes through the global service.

use std::marker::PhantomData;

use mydht::{LocalCommand, QueryId, Reply};
use mydht_base::{Error, ErrorKind, ErrorLevel, Result, Service, SpawnerYield};
use readwrite_comp::ExtRead;
use tunnel::{HopKind, HopReader, TunnelReadProv};

use crate::address::decode_address;
use crate::app::{InnerCommand, InnerReply, MyDHTTunnelConf};
use crate::conf::TunnelConfOf;
use crate::error::TunnelSendError;
use crate::global::io_to_send;
use crate::msg::{Payload, TunnelMsg};
use crate::onion::{read_payload, relay_onion, write_onion};
use crate::shared::SharedTunnel;

/// The local tunnel service of one connection.
pub struct TunnelLocal<C, T: MyDHTTunnelConf> {
    inner: T::InnerService,
    view: TunnelReadProv,
    shared: SharedTunnel,
    conf: PhantomData<fn() -> C>,
}

/// Where an onion's payload goes once read.
enum Arrived<M> {
    /// At the exit: the message, its token, and the reply writer if a
    /// reply was asked for.
    Exit(Payload<M>, Option<Box<tunnel::ReplyWriter>>),
    /// At the sender: the reply to api query `qid`.
    Reply(QueryId, M),
}

impl<C: TunnelConfOf<T>, T: MyDHTTunnelConf> TunnelLocal<C, T> {
    /// The local service of one connection.
    pub(crate) fn new(inner: T::InnerService, view: TunnelReadProv, shared: SharedTunnel) -> Self {
        TunnelLocal {
            inner,
            view,
            shared,
            conf: PhantomData,
        }
    }

    /// Reads one onion carried whole in a frame.
    fn on_onion<Y: SpawnerYield>(&mut self, bytes: &[u8], yld: &mut Y) -> Result<Reply<C>> {
        let mut input = bytes;
        let mut reader = self.view.new_reader();
        reader.read_header(&mut input).map_err(hop_error)?;
        if self.view.needs_full(&reader) {
            // Reply relay (replay cache) or a reply to this node (kept keys).
            self.shared
                .lock()
                .full
                .admit(&mut reader)
                .map_err(|e| hop_error(e.into()))?;
        }
        match reader.kind() {
            Some(HopKind::Relay | HopKind::ReplyRelay) => self.relay(&mut reader, &mut input),
            Some(HopKind::Exit) | Some(HopKind::ReplyExit) => {
                match self.arrived(&mut reader, &mut input)? {
                    Arrived::Exit(payload, writer) => self.exit(payload, writer, yld),
                    Arrived::Reply(qid, msg) => {
                        let reply = self.inner.call(InnerCommand::Replied(msg), yld)?;
                        Ok(api_replies(qid, reply))
                    }
                }
            }
            None => Err(hop_error(
                reader
                    .failure()
                    .cloned()
                    .unwrap_or(tunnel::TunnelError::NoHeader)
                    .into(),
            )),
        }
    }

    /// A relay: the next hop's onion, to its address, on a send-once
    /// connection.
    fn relay(&mut self, reader: &mut HopReader, input: &mut &[u8]) -> Result<Reply<C>> {
        let next = reader
            .next_address()
            .ok_or_else(|| hop_error(tunnel::TunnelError::NoHeader.into()))
            .and_then(|a| decode_address(a).map_err(send_error))?;
        let onion = relay_onion(reader, input).map_err(hop_error)?;
        Ok(Reply::SendOnce(next, TunnelMsg::Onion(onion)))
    }

    /// Reads the payload at the exit or at the sender of a reply.
    fn arrived(&mut self, reader: &mut HopReader, input: &mut &[u8]) -> Result<Arrived<T::Msg>> {
        let bytes = read_payload(reader, input).map_err(hop_error)?;
        let payload: Payload<T::Msg> = Payload::decode(&bytes).map_err(send_error)?;
        if reader.kind() == Some(HopKind::Exit) {
            let writer = if self.view.can_reply(reader) {
                let w = self.view.reply_writer(reader);
                Some(Box::new(w.map_err(|e| hop_error(e.into()))?))
            } else {
                None
            };
            return Ok(Arrived::Exit(payload, writer));
        }
        match self.shared.lock().book.take(payload.token) {
            Some(q) => Ok(Arrived::Reply(q.qid, payload.msg)),
            None => Err(Error::new(
                ErrorKind::Timeout,
                ErrorLevel::Ignore,
                "tunnel reply for a query no longer awaited",
            )),
        }
    }

    /// The exit: the inner service's answer, and its reply sent back.
    fn exit<Y: SpawnerYield>(
        &mut self,
        payload: Payload<T::Msg>,
        mut writer: Option<Box<tunnel::ReplyWriter>>,
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
        let onion = write_onion(&mut **writer, &bytes).map_err(hop_error)?;
        let first = decode_address(writer.first_address()).map_err(send_error)?;
        Ok(Reply::SendOnce(first, TunnelMsg::Onion(onion)))
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
            TunnelMsg::Onion(bytes) => self.on_onion(&bytes, yld),
            // Reports travel on the streamed path only.
            TunnelMsg::Report(_) => Ok(Reply::None),
        }
    }
}

/// A failed hop: logged by the node, the connection goes on.
fn hop_error(e: std::io::Error) -> Error {
    let t = io_to_send(e);
    Error::new(ErrorKind::Decode, ErrorLevel::Ignore, t.to_string()).with_source(t)
}

/// A tunnel send error as a node error.
fn send_error(e: TunnelSendError) -> Error {
    Error::new(ErrorKind::Decode, ErrorLevel::Ignore, e.to_string()).with_source(e)
}
