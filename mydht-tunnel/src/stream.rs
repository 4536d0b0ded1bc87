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
use std::time::Instant;

use mydht::stream::LentStream;
use mydht::MyDHTConf;
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
    /// The node's shared state (its outbox, its links).
    pub shared: SharedTunnel,
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
pub struct RelaySource<C: MyDHTConf> {
    lent: LentStream<C>,
    reader: SharedReader,
    report: Option<ReportTo>,
    /// Set when the source failed (the pump's end is then not this hop's
    /// "next hop unreachable").
    failed: Arc<AtomicBool>,
}

impl<C: MyDHTConf> RelaySource<C> {
    /// Pumps `lent` through `reader` (its header and the next header read
    /// already); `report` for a query relay.
    pub fn new(lent: LentStream<C>, reader: SharedReader, report: Option<ReportTo>) -> Self {
        RelaySource {
            lent,
            reader,
            report,
            failed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Set once the source failed.
    pub fn failed_flag(&self) -> Arc<AtomicBool> {
        self.failed.clone()
    }

    fn fail(&mut self) {
        self.failed.store(true, Ordering::Release);
        let Some(to) = self.report.take() else {
            return;
        };
        let report = {
            let reader = self.reader.lock().unwrap_or_else(|e| e.into_inner());
            reader.error_report(HopFailure::BadContent)
        };
        let mut shared = to.shared.lock();
        // Reports of hops further on would only follow from this one.
        shared.links.take(&to.out_link, Instant::now());
        if let Ok(report) = report {
            shared.post(
                to.upstream,
                TunnelMsg::Report {
                    link: to.link,
                    report,
                },
            );
        }
    }
}

impl<C: MyDHTConf> Read for RelaySource<C> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let got = {
            let mut reader = self.reader.lock().unwrap_or_else(|e| e.into_inner());
            reader.read_from(&mut self.lent, buf)
        };
        match got {
            Err(e)
                if e.kind() != io::ErrorKind::WouldBlock
                    && e.kind() != io::ErrorKind::Interrupted =>
            {
                self.fail();
                Err(e)
            }
            other => other,
        }
    }
}
