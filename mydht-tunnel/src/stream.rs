//! The streamed mode's pieces: the fixed header goes in the frame, the
//! cells follow on the connection.
//!
//! - [`split_header`] and [`CellsAfterHeader`]: a writer's header, in
//!   memory for the frame, and the layer a write service pumps the payload
//!   through (the cells the header's preamble already filled, then the
//!   writer's cells);
//! - [`RelaySource`]: what a relay's write service pumps to the next hop —
//!   the cells of the lent read stream, through the hop's reader — and
//!   what it does when they are bad.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mydht::stream::{LentStream, PumpSource};
use mydht::MyDHTConf;
use mydht_base::{SpawnerYield, YieldReturn};
use readwrite_comp::{ExtRead, ExtWrite};
use tunnel::HopFailure;

use crate::link::{LinkId, SharedReader};
use crate::msg::TunnelMsg;
use crate::shared::SharedTunnel;

/// Writes `writer`'s header into memory: the fixed header (`header_len`
/// bytes, for the frame) and the cells its preamble already filled (sent
/// first on the stream).
pub fn split_header<W: ExtWrite>(
    writer: &mut W,
    header_len: usize,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    writer.write_header(&mut out)?;
    let rest = out.split_off(header_len.min(out.len()));
    Ok((out, rest))
}

/// The layer a write service pumps a message's payload through, once its
/// header went in the frame: first the cells already made, then the
/// writer's cells. Resumable after `WouldBlock` at any byte.
pub struct CellsAfterHeader<W> {
    prefix: Vec<u8>,
    pos: usize,
    writer: Arc<Mutex<W>>,
}

impl<W> CellsAfterHeader<W> {
    /// The layer of `writer` (its header written by [`split_header`],
    /// which gave `prefix`).
    pub fn new(prefix: Vec<u8>, writer: Arc<Mutex<W>>) -> Self {
        CellsAfterHeader {
            prefix,
            pos: 0,
            writer,
        }
    }

    fn writer(&self) -> MutexGuard<'_, W> {
        // Each call leaves the writer where a retry goes on.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<W: ExtWrite> ExtWrite for CellsAfterHeader<W> {
    fn write_header(&mut self, w: &mut dyn Write) -> io::Result<()> {
        while self.pos < self.prefix.len() {
            match w.write(&self.prefix[self.pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.pos += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.prefix = Vec::new();
        Ok(())
    }

    fn write_into(&mut self, w: &mut dyn Write, buf: &[u8]) -> io::Result<usize> {
        self.writer().write_into(w, buf)
    }

    fn flush_into(&mut self, w: &mut dyn Write) -> io::Result<()> {
        self.writer().flush_into(w)
    }

    fn write_end(&mut self, w: &mut dyn Write) -> io::Result<()> {
        self.writer().write_end(w)
    }
}

/// Where a query relay reports the bad cells it reads, and the link it
/// sends on (whose reports from further on it then drops).
pub struct ReportTo {
    /// The previous hop's listening address.
    pub upstream: SocketAddr,
    /// The link the onion came in on.
    pub link: LinkId,
    /// The link this relay sends on.
    pub out_link: LinkId,
}

/// What a relay's write service pumps to the next hop: the cells of the
/// lent read stream, peeled (query) or wrapped (reply) by the hop's reader,
/// the next header having gone in the frame. A bad or cut cell ends it
/// with the cell's error; a query relay then queues its report upstream.
///
/// When it ends early — its cells were bad, or the pump dropped it because
/// the next hop failed — it keeps the incoming connection open for twice
/// `grace` (in the node's link table): the report this hop sends upstream
/// then reaches the hop before it ahead of the connection's close, which
/// that hop would otherwise report as its own failure.
pub struct RelaySource<C: MyDHTConf> {
    lent: Option<LentStream<C>>,
    reader: SharedReader,
    shared: SharedTunnel,
    report: Option<ReportTo>,
    grace: Duration,
    logger: slog::Logger,
    /// The last cell came: the onion went through whole.
    done: bool,
    /// Set when the source failed (the pump's end is then not this hop's
    /// "next hop unreachable").
    failed: Arc<AtomicBool>,
}

impl<C: MyDHTConf> RelaySource<C> {
    /// Pumps `lent` through `reader` (its header and the next header read
    /// already); `report` for a query relay; `grace` as the node's.
    pub fn new(
        lent: LentStream<C>,
        reader: SharedReader,
        shared: SharedTunnel,
        report: Option<ReportTo>,
        grace: Duration,
        logger: slog::Logger,
    ) -> Self {
        RelaySource {
            lent: Some(lent),
            reader,
            shared,
            report,
            grace,
            logger,
            done: false,
            failed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Holds the incoming connection open a while (see the type's doc).
    fn hold(&mut self) {
        if let Some(lent) = self.lent.take() {
            let until = Instant::now() + 2 * self.grace;
            let let_go = self.shared.lock().links.hold(Box::new(lent), until);
            drop(let_go);
        }
    }

    /// Set once the source failed.
    pub fn failed_flag(&self) -> Arc<AtomicBool> {
        self.failed.clone()
    }

    fn fail(&mut self, e: &io::Error) {
        slog::warn!(self.logger, "tunnel relay's cells failed"; "error" => %e);
        self.failed.store(true, Ordering::Release);
        if let Some(to) = self.report.take() {
            let report = {
                let reader = self.reader.lock().unwrap_or_else(|e| e.into_inner());
                reader.error_report(HopFailure::BadContent)
            };
            let mut shared = self.shared.lock();
            // Reports of hops further on would only follow from this one.
            shared.links.take(&to.out_link, Instant::now());
            if let Ok(report) = report {
                let msg = TunnelMsg::Report {
                    link: to.link,
                    report,
                };
                if let Some((lost, _)) = shared.post(to.upstream, msg) {
                    slog::warn!(self.logger, "tunnel report dropped: outbox full";
                        "to" => %lost, "outbox" => crate::shared::OUTBOX_LEN);
                }
            }
        }
        self.hold();
    }
}

impl<C: MyDHTConf> Drop for RelaySource<C> {
    fn drop(&mut self) {
        if !self.done {
            // The pump ended early: the next hop failed (reported by
            // `on_end`), or this source did (reported already).
            self.hold();
        }
    }
}

impl<C: MyDHTConf> Read for RelaySource<C> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(lent) = self.lent.as_mut() else {
            return Ok(0);
        };
        let got = {
            let mut reader = self.reader.lock().unwrap_or_else(|e| e.into_inner());
            reader.read_from(lent, buf)
        };
        match got {
            Ok(0) if !buf.is_empty() => {
                self.done = true;
                Ok(0)
            }
            Err(e)
                if e.kind() != io::ErrorKind::WouldBlock
                    && e.kind() != io::ErrorKind::Interrupted =>
            {
                self.fail(&e);
                Err(e)
            }
            other => other,
        }
    }
}

impl<C: MyDHTConf> PumpSource for RelaySource<C> {
    /// Waits in the incoming connection's socket ([`LentStream`]'s way).
    fn wait_readable(&mut self, yld: &mut dyn SpawnerYield) -> YieldReturn {
        match self.lent.as_mut() {
            Some(lent) => lent.wait_readable(yld),
            None => yld.spawn_yield(),
        }
    }

    /// As its [`LentStream`]'s: `WouldBlock`, never a wait.
    fn never_waits(&self) -> bool {
        self.lent.as_ref().is_none_or(|lent| lent.never_waits())
    }
}
