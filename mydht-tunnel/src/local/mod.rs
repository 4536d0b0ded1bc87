//! [`TunnelLocal`]: the read side of a tunnel node, one per connection.
//! It holds the light tunnel view and reads the onion that arrives on its
//! connection: a relay hands the lent read stream straight to a write
//! service that pumps it to the next hop (streamed) or sends the next
//! onion on at once (frame); the exit reads the message, runs the inner
//! service and sends its reply on the reply route; the sender gives a
//! reply to the api query that awaits it; error reports go back link by
//! link. Nothing goes through the global service.

mod framed;
mod streamed;

use std::io::Read;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mydht::{LocalCommand, MyDHTConf, QueryId, Reply};
use mydht_base::{
    Error, ErrorKind, ErrorLevel, Peer, Result, Service, ServiceRestartable, SpawnerYield,
};
use readwrite_comp::ExtRead;
use tunnel::full::ERROR_REPORT_LEN;
use tunnel::{HopFailure, HopKind, HopReader, TunnelError, TunnelReadProv};

use crate::address::decode_address;
use crate::app::{InnerCommand, InnerReply, MyDHTTunnelConf};
use crate::conf::TunnelConfOf;
use crate::error::TunnelSendError;
use crate::global::io_to_send;
use crate::link::{LinkId, RelayLink, SharedReader};
use crate::msg::TunnelMsg;
use crate::shared::SharedTunnel;

use streamed::Reading;

/// How the local tunnel services run (from the application's conf).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalSettings {
    pub(crate) grace: Duration,
    pub(crate) max_msg: usize,
}

/// The local tunnel service of one connection.
pub struct TunnelLocal<C: MyDHTConf, T: MyDHTTunnelConf> {
    inner: T::InnerService,
    view: TunnelReadProv,
    shared: SharedTunnel,
    logger: slog::Logger,
    settings: LocalSettings,
    reading: Option<Reading<C, T>>,
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
        settings: LocalSettings,
    ) -> Self {
        TunnelLocal {
            inner,
            view,
            shared,
            logger,
            settings,
            reading: None,
            conf: PhantomData,
        }
    }

    /// A failed hop: logged, and reported upstream. A reply relay's report
    /// goes back along the reply route to the exit, which passes it on
    /// along the query route: the sender holds every hop's error keys. The
    /// sender reading a reply reports to nobody (it fails its own query).
    fn failed(
        &mut self,
        reader: &HopReader,
        upstream: Option<SocketAddr>,
        link: LinkId,
        e: HopError,
    ) -> Result<Reply<C>> {
        slog::warn!(self.logger, "tunnel hop failed"; "failure" => ?e.failure, "error" => %e.error);
        match upstream {
            Some(to) if reader.kind() != Some(HopKind::ReplyExit) => {
                let report = reader.error_report(e.failure).map_err(tunnel_error)?;
                Ok(Reply::SendOnce(to, TunnelMsg::Report { link, report }))
            }
            _ => Ok(Reply::None),
        }
    }

    /// Keeps the way back for reports on `out_link`, the link this hop
    /// sends its onion on (a relay's next hop, the exit's reply): to
    /// `upstream` on `link`, wrapped with `reader`'s keys.
    fn keep_link(
        &self,
        out_link: LinkId,
        upstream: Option<SocketAddr>,
        link: LinkId,
        reader: SharedReader,
    ) {
        if let Some(upstream) = upstream {
            let entry = RelayLink {
                upstream,
                upstream_link: link,
                reader,
                failed: None,
            };
            self.shared
                .lock()
                .links
                .insert(out_link, entry, Instant::now());
        }
    }

    /// What ends the stream this hop sends on `out_link`: when it ended
    /// unwritten (the next hop unreachable, or gone in the middle), this
    /// hop's own `Unreachable` report goes upstream after the grace,
    /// unless one from further on came first or `source_failed` says the
    /// failure was the cells this hop read (reported already).
    fn on_end(
        &self,
        out_link: LinkId,
        source_failed: Option<Arc<AtomicBool>>,
    ) -> impl FnOnce(std::result::Result<(), Error>) + Send + 'static {
        let shared = self.shared.clone();
        let grace = self.settings.grace;
        move |r| {
            let ours = source_failed.is_none_or(|f| !f.load(Ordering::Acquire));
            if r.is_err() && ours {
                let at = Instant::now() + grace;
                shared
                    .lock()
                    .links
                    .fail(&out_link, HopFailure::Unreachable, at);
            }
        }
    }

    /// Reads an onion's fixed header (`src` gives it first) and admits the
    /// reader where it needs the full tunnel.
    fn header(&mut self, reader: &mut HopReader, src: &mut dyn Read) -> HopResult<()> {
        if let Err(e) = reader.read_header(src) {
            // At the exit, reading the header also reads the reply
            // preamble from the first cells: a content failure then.
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
        Ok(())
    }

    /// Gives `cmd` to the inner service (its failure fails the hop).
    fn inner_call<Y: SpawnerYield>(
        &mut self,
        cmd: InnerCommand<T>,
        yld: &mut Y,
    ) -> HopResult<InnerReply<T>> {
        self.inner.call(cmd, yld).map_err(|error| HopError {
            failure: HopFailure::BadContent,
            error,
        })
    }

    /// An error report on link `link`: wrapped and passed upstream at a
    /// relay, read at the sender.
    fn on_report(&mut self, link: LinkId, mut report: [u8; ERROR_REPORT_LEN]) -> Result<Reply<C>> {
        let mut shared = self.shared.lock();
        if let Some(back) = shared.links.take(&link, Instant::now()) {
            drop(shared);
            let reader = back.reader.lock().unwrap_or_else(|e| e.into_inner());
            reader
                .wrap_error_report(&mut report)
                .map_err(tunnel_error)?;
            let msg = TunnelMsg::Report {
                link: back.upstream_link,
                report,
            };
            return Ok(Reply::SendOnce(back.upstream, msg));
        }
        let Some((id, q)) = shared.book.take_link(&link) else {
            // Late (the query is answered or expired) or not ours.
            return Ok(Reply::None);
        };
        shared.full.cancel_reply(&id);
        drop(shared);
        let error = q.reports.read(&report);
        Ok(Reply::Api(q.qid, Err(TunnelSendError::Tunnel(error))))
    }
}

/// The message an exit's inner service replies with (the first: a reply
/// block is single use).
fn first_reply<T: MyDHTTunnelConf>(reply: InnerReply<T>) -> Option<T::Msg> {
    match reply {
        InnerReply::Reply(m) => Some(m),
        InnerReply::Many(v) => v.into_iter().find_map(first_reply),
        InnerReply::None | InnerReply::Api(_) | InnerReply::Send(_) => None,
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

/// A relay's next address.
fn next_address(reader: &HopReader) -> HopResult<SocketAddr> {
    reader
        .next_address()
        .map(decode_address)
        .unwrap_or(Err(TunnelSendError::BadAddress))
        .map_err(|e| send_failure(HopFailure::Unreachable, e))
}

impl<C: TunnelConfOf<T>, T: MyDHTTunnelConf> Service for TunnelLocal<C, T> {
    type CommandIn = LocalCommand<C>;
    type CommandOut = Reply<C>;

    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<C>, yld: &mut Y) -> Result<Reply<C>> {
        // The authenticated previous hop's listening address.
        let upstream = cmd.from.get_address().parse().ok();
        match (cmd.msg, cmd.stream) {
            (TunnelMsg::Stream { link, header }, Some(lent)) => {
                self.on_stream(upstream, link, header, lent, yld)
            }
            (TunnelMsg::Onion { link, onion }, _) => self.on_onion(upstream, link, &onion, yld),
            (TunnelMsg::Report { link, report }, _) => self.on_report(link, report),
            // A stream header without its stream: nothing to read, the
            // peer broke the protocol.
            (TunnelMsg::Stream { .. }, None) => {
                slog::warn!(self.logger, "tunnel stream header without its stream: dropped";
                    "from" => ?upstream);
                Ok(Reply::None)
            }
        }
    }
}

impl<C: TunnelConfOf<T>, T: MyDHTTunnelConf> ServiceRestartable for TunnelLocal<C, T> {
    fn resume<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Option<Reply<C>>> {
        if self.reading.is_some() {
            self.proceed(yld).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// True for the error of a read that would block (a `Return` yield).
fn is_would_block(e: &HopError) -> bool {
    matches!(
        e.error.kind(),
        ErrorKind::Io(std::io::ErrorKind::WouldBlock)
    )
}

/// A hop failure from a tunnel layer's I/O error.
fn hop(failure: HopFailure, e: std::io::Error) -> HopError {
    let kind = e.kind();
    let t = io_to_send(e);
    let error = match kind {
        std::io::ErrorKind::WouldBlock => Error::from(std::io::Error::from(kind)),
        _ => send_error(t),
    };
    HopError { failure, error }
}

/// A hop failure from a send error.
fn send_failure(failure: HopFailure, e: TunnelSendError) -> HopError {
    HopError {
        failure,
        error: send_error(e),
    }
}

/// What the sender's api gets for a reply that reached her broken: the
/// last hop of the reply route (herself, after `relays` reply relays)
/// failed on it.
fn reply_failed(relays: usize, failure: HopFailure) -> TunnelSendError {
    TunnelSendError::Tunnel(TunnelError::ReplyHopFailed {
        hop: relays,
        failure,
    })
}

/// A tunnel error as a node error (the connection goes on).
fn tunnel_error(e: TunnelError) -> Error {
    send_error(TunnelSendError::Tunnel(e))
}

/// A tunnel send error as a node error (the connection goes on).
fn send_error(e: TunnelSendError) -> Error {
    Error::new(ErrorKind::Decode, ErrorLevel::Ignore, e.to_string()).with_source(e)
}
