//! The two writing ends of a tunnel: the sender's query ([`FullWriter`]) and
//! the exit's reply ([`ReplyWriter`]), both "header, then cells".

use std::io::{self, Write};

use readwrite_comp::ExtWrite;

use super::layout::FrameLayout;
use super::reply_block::{build_reply, PendingReply, ReplyBlock, NO_REPLY, WITH_REPLY};
use super::report::{ErrorKeys, ReportReader, ERROR_REPORT_LEN};
use crate::cell::{CellSealer, CellWriter, ReplyCellSealer, SealCell};
use crate::crypto::{KEY_LEN, REPLAY_ID_LEN};
use crate::error::TunnelError;
use crate::header::{build_header_with, EphemeralKeys, RouteHop};

/// Where a one-message writer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Header (and preamble) not fully written yet.
    Header,
    /// Payload bytes go into cells.
    Body,
    /// The message ended: the onion is used up.
    Done,
}

/// Writes one onion message: a fixed header, then a preamble and the
/// payload in constant-size cells sealed by `S`.
///
/// One message only: a header is single use, so `write_header` after
/// `write_end` is refused. Resumable after `WouldBlock` at any byte, as
/// readwrite-comp's contract says.
pub struct OnionWriter<S> {
    address: Vec<u8>,
    header: Vec<u8>,
    header_pos: usize,
    preamble: Vec<u8>,
    preamble_pos: usize,
    cells: CellWriter<S>,
    stage: Stage,
    /// The error keys of every hop of the routes (query writer only).
    reports: ReportReader,
    /// The id the reply will carry, when the query asks for one.
    reply_id: Option<[u8; REPLAY_ID_LEN]>,
}

/// The sender's query writer: header for the whole route, then cells with
/// one layer per hop; the exit's content starts with the reply block if
/// one was asked for.
pub type FullWriter = OnionWriter<CellSealer>;

/// The exit's reply writer: the reply header the sender built, then cells
/// sealed under the exit's back key, each with a link entry for the first
/// reply hop; each reply relay checks its link entry and adds a layer.
pub type ReplyWriter = OnionWriter<ReplyCellSealer>;

impl<S> std::fmt::Debug for OnionWriter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnionWriter")
            .field("stage", &self.stage)
            .field("header_pos", &self.header_pos)
            .finish_non_exhaustive()
    }
}

impl<S> OnionWriter<S> {
    /// Opaque address of the first hop: where to connect to send this onion.
    pub fn first_address(&self) -> &[u8] {
        &self.address
    }

    /// The id the reply to this query will carry (the sender's reply
    /// reader gives it, [`HopReader::reply_id`](super::HopReader::reply_id)),
    /// when it was built with a reply route: what to give
    /// [`FullTunnel::cancel_reply`](super::FullTunnel::cancel_reply) when
    /// the reply is given up.
    pub fn reply_id(&self) -> Option<&[u8; REPLAY_ID_LEN]> {
        self.reply_id.as_ref()
    }
}

impl FullWriter {
    /// A query onion for `route` (relays then the exit; one hop: straight to
    /// the exit). With `reply_route` (reply relays then the sender herself
    /// last), the exit gets a single-use reply block and the sender the
    /// [`PendingReply`] keys she must keep to read the reply.
    pub fn new(
        layout: &FrameLayout,
        route: &[RouteHop],
        reply_route: Option<&[RouteHop]>,
    ) -> Result<(Self, Option<PendingReply>), TunnelError> {
        Self::with_keys(layout, route, reply_route, &mut EphemeralKeys::none())
    }

    /// [`FullWriter::new`] with the headers' key pairs (query and reply)
    /// taken from `keys`, made ahead.
    pub fn with_keys(
        layout: &FrameLayout,
        route: &[RouteHop],
        reply_route: Option<&[RouteHop]>,
        keys: &mut EphemeralKeys,
    ) -> Result<(Self, Option<PendingReply>), TunnelError> {
        let built = build_header_with(&layout.header, route, false, &[], keys)?;
        let content_keys: Vec<[u8; KEY_LEN]> =
            built.hop_keys.iter().map(|k| k.content_key).collect();
        let sealer = CellSealer::new(layout.cell, &content_keys)?;
        let mut preamble = Vec::new();
        let mut reply_error_keys = Vec::new();
        let pending = match reply_route {
            None => {
                preamble.push(NO_REPLY);
                None
            }
            Some(reply_route) => {
                // build_header refused an empty route, so there is an exit.
                let exit_key = built.hop_keys[built.hop_keys.len() - 1].back_key;
                let (block, pending, keys) = build_reply(layout, reply_route, exit_key, keys)?;
                reply_error_keys = keys;
                preamble.reserve(1 + ReplyBlock::encoded_len(&layout.header));
                preamble.push(WITH_REPLY);
                block.encode(&layout.header, &mut preamble);
                Some(pending)
            }
        };
        let reply_id = pending.as_ref().map(|p| *p.reply_id());
        let writer = OnionWriter {
            reply_id,
            address: route[0].address.clone(),
            header: built.bytes,
            header_pos: 0,
            preamble,
            preamble_pos: 0,
            cells: CellWriter::new(sealer),
            stage: Stage::Header,
            reports: ReportReader::new(
                built
                    .hop_keys
                    .iter()
                    .map(ErrorKeys::new)
                    .collect::<Result<_, _>>()?,
                reply_error_keys,
                reply_id.is_some(),
            ),
        };
        Ok((writer, pending))
    }
}

impl FullWriter {
    /// Reads an error report that came back from the routes
    /// ([`ReportReader::read`]).
    pub fn read_error_report(&self, report: &[u8; ERROR_REPORT_LEN]) -> TunnelError {
        self.reports.read(report)
    }

    /// How many relays the reply route has ([`ReportReader::reply_relays`]).
    pub fn reply_relays(&self) -> Option<usize> {
        self.reports.reply_relays()
    }

    /// The error keys of the routes, to read their reports apart from
    /// this writer (which may be streaming the query's cells meanwhile).
    pub fn report_reader(&self) -> ReportReader {
        self.reports.clone()
    }
}

impl ReplyWriter {
    /// The exit's writer for `block`, sealing under its `back_key` (from
    /// its processed query header).
    pub fn new(
        layout: &FrameLayout,
        block: ReplyBlock,
        back_key: &[u8; KEY_LEN],
    ) -> Result<Self, TunnelError> {
        if block.header.len() != layout.header.header_len() {
            return Err(TunnelError::BadReplyBlock);
        }
        Ok(OnionWriter {
            reply_id: None,
            address: block.first_address,
            header: block.header,
            header_pos: 0,
            preamble: Vec::new(),
            preamble_pos: 0,
            cells: CellWriter::new(ReplyCellSealer::new(
                layout.cell,
                back_key,
                &block.link_key,
            )?),
            stage: Stage::Header,
            reports: ReportReader::new(Vec::new(), Vec::new(), false),
        })
    }
}

impl<S: SealCell> ExtWrite for OnionWriter<S> {
    /// Writes the header, then pushes the preamble into the first cells.
    fn write_header(&mut self, w: &mut dyn Write) -> io::Result<()> {
        match self.stage {
            Stage::Done => return Err(TunnelError::Used.into()),
            Stage::Body => return Ok(()),
            Stage::Header => {}
        }
        while self.header_pos < self.header.len() {
            match w.write(&self.header[self.header_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.header_pos += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        while self.preamble_pos < self.preamble.len() {
            let n = self
                .cells
                .write_into(w, &self.preamble[self.preamble_pos..])?;
            self.preamble_pos += n;
        }
        self.stage = Stage::Body;
        Ok(())
    }

    fn write_into(&mut self, w: &mut dyn Write, buf: &[u8]) -> io::Result<usize> {
        match self.stage {
            Stage::Body => self.cells.write_into(w, buf),
            Stage::Header => Err(TunnelError::NoHeader.into()),
            Stage::Done => Err(TunnelError::Used.into()),
        }
    }

    fn flush_into(&mut self, w: &mut dyn Write) -> io::Result<()> {
        match self.stage {
            Stage::Body => self.cells.flush_into(w),
            _ => w.flush(),
        }
    }

    fn write_end(&mut self, w: &mut dyn Write) -> io::Result<()> {
        match self.stage {
            Stage::Body => {
                self.cells.write_end(w)?;
                self.stage = Stage::Done;
                Ok(())
            }
            Stage::Header => Err(TunnelError::NoHeader.into()),
            Stage::Done => Err(TunnelError::Used.into()),
        }
    }
}
