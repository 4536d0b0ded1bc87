//! The frame carriage at a hop: the whole onion in the frame.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use mydht::Reply;
use mydht_base::{Result, SpawnerYield};
use tunnel::{HopFailure, HopKind, HopReader, TunnelError};

use crate::address::decode_address;
use crate::app::{InnerCommand, MyDHTTunnelConf};
use crate::conf::TunnelConfOf;
use crate::error::TunnelSendError;
use crate::link::{new_link, LinkId, SharedReader};
use crate::msg::{encode_content, ContentReader, TunnelMsg};
use crate::onion::{read_payload, relay_onion, write_onion};

use super::{
    api_replies, first_reply, hop, next_address, reply_failed, send_failure, HopResult, TunnelLocal,
};

impl<C: TunnelConfOf<T>, T: MyDHTTunnelConf> TunnelLocal<C, T> {
    /// An onion carried whole in a frame.
    pub(super) fn on_onion<Y: SpawnerYield>(
        &mut self,
        upstream: Option<SocketAddr>,
        link: LinkId,
        bytes: &[u8],
        yld: &mut Y,
    ) -> Result<Reply<C>> {
        let mut reader = self.view.new_reader();
        match self.read_onion(&mut reader, upstream, link, bytes, yld) {
            Ok(reply) => Ok(reply),
            Err(e) => self.failed(&reader, upstream, link, e),
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
        self.header(reader, &mut input)?;
        match reader.kind() {
            Some(HopKind::Relay | HopKind::ReplyRelay) => {
                let next = next_address(reader)?;
                let onion =
                    relay_onion(reader, &mut input).map_err(|e| hop(HopFailure::BadContent, e))?;
                let out_link = new_link().map_err(|e| send_failure(HopFailure::BadContent, e))?;
                // Keep the way back for a report on the outgoing link.
                self.keep_link(out_link, upstream, link, self.taken(reader));
                Ok(Reply::SendOnce(
                    next,
                    TunnelMsg::Onion {
                        link: out_link,
                        onion,
                    },
                ))
            }
            Some(HopKind::Exit) => {
                let bytes =
                    read_payload(reader, &mut input).map_err(|e| hop(HopFailure::BadContent, e))?;
                let msg = decode_content::<T::Msg>(&bytes, self.settings.max_msg)?;
                let can_reply = self.view.can_reply(reader);
                let cmd = InnerCommand::Exit {
                    msg,
                    can_reply,
                    attached: false,
                };
                let reply = self.inner_call(cmd, yld)?;
                let Some(msg) = first_reply(reply) else {
                    return Ok(Reply::None);
                };
                let mut writer = self
                    .view
                    .reply_writer(reader)
                    .map_err(|e| hop(HopFailure::BadContent, e.into()))?;
                let content =
                    encode_content(&msg).map_err(|e| send_failure(HopFailure::BadContent, e))?;
                let onion = write_onion(&mut writer, &content)
                    .map_err(|e| hop(HopFailure::BadContent, e))?;
                let first = decode_address(writer.first_address())
                    .map_err(|e| send_failure(HopFailure::BadContent, e))?;
                let out_link = new_link().map_err(|e| send_failure(HopFailure::BadContent, e))?;
                // Reports from the reply route go back on the query's link.
                self.keep_link(out_link, upstream, link, self.taken(reader));
                let onion = TunnelMsg::Onion {
                    link: out_link,
                    onion,
                };
                Ok(Reply::SendOnce(first, onion))
            }
            Some(HopKind::ReplyExit) => {
                let id = reader.reply_id().and_then(|id| id.try_into().ok());
                let q = id.and_then(|id| self.shared.lock().book.take(&id));
                let Some(q) = q else {
                    return Ok(Reply::None);
                };
                let answer = read_payload(reader, &mut input)
                    .map_err(|e| hop(HopFailure::BadContent, e))
                    .and_then(|bytes| decode_content::<T::Msg>(&bytes, self.settings.max_msg));
                match answer {
                    Ok(msg) => {
                        let reply = self.inner_call(InnerCommand::Replied(msg), yld)?;
                        Ok(api_replies(q.qid, reply))
                    }
                    // Whole in its frame: a broken reply was broken by the
                    // last reply hop (no report will come).
                    Err(e) => {
                        let relays = q.reports.reply_relays().unwrap_or(0);
                        Ok(Reply::Api(q.qid, Err(reply_failed(relays, e.failure))))
                    }
                }
            }
            None => {
                let e = reader.failure().cloned().unwrap_or(TunnelError::NoHeader);
                Err(hop(HopFailure::BadHeader, e.into()))
            }
        }
    }
}

impl<C: TunnelConfOf<T>, T: MyDHTTunnelConf> TunnelLocal<C, T> {
    /// `reader`, shared (for a link entry), a fresh reader left in its
    /// place.
    fn taken(&self, reader: &mut HopReader) -> SharedReader {
        let mut kept = self.view.new_reader();
        std::mem::swap(&mut kept, reader);
        Arc::new(Mutex::new(kept))
    }
}

/// A message at the start of a frame-carried onion's content.
fn decode_content<M: serde::de::DeserializeOwned>(bytes: &[u8], max: usize) -> HopResult<M> {
    let mut content = ContentReader::new(max);
    let mut pos = 0;
    loop {
        let wants = content
            .wants()
            .map_err(|e| send_failure(HopFailure::BadContent, e))?;
        if wants == 0 {
            return content
                .message()
                .map_err(|e| send_failure(HopFailure::BadContent, e));
        }
        let end = pos + wants;
        if end > bytes.len() {
            let e = TunnelSendError::Codec("message cut short".into());
            return Err(send_failure(HopFailure::BadContent, e));
        }
        content.push(&bytes[pos..end]);
        pos = end;
    }
}
