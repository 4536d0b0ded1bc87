//! A hop's reading end: reads the header, learns its role, then proxies,
//! reads the payload, or (with the full tunnel's help) relays a reply or
//! reads one.

use std::io::{self, Read, Write};
use std::sync::Arc;

use readwrite_comp::ExtRead;

use super::exit::Exit;
use super::layout::FrameLayout;
use super::relay::Relay;
use super::reply_block::{PendingReplies, ReplyBlock};
use super::report::{ErrorKeys, ERROR_REPORT_LEN};
use super::writer::ReplyWriter;
use crate::cell::{CellOpener, CellPeeler, CellReader, ReplyCellOpener, ReplyCellWrapper};
use crate::crypto::{X25519Secret, REPLAY_ID_LEN};
use crate::error::{HopFailure, TunnelError};
use crate::header::{HeaderProcessor, HopKind};
use crate::replay::ReplayCache;

/// Where a hop reader is.
enum Stage {
    /// Reading the fixed-size header.
    Header {
        buf: Vec<u8>,
        have: usize,
    },
    Relay(Relay<CellPeeler>),
    ReplyRelay {
        replay_id: [u8; REPLAY_ID_LEN],
        admitted: bool,
        relay: Relay<ReplyCellWrapper>,
    },
    Exit(Box<Exit>),
    ReplyExit {
        reply_id: Vec<u8>,
        reader: Option<CellReader<ReplyCellOpener>>,
    },
    /// A header or admission error: every call repeats it.
    Failed(TunnelError),
}

/// Reads one onion at one hop, as an `ExtRead` layer.
///
/// `read_header` reads and processes the fixed header (and, at the exit,
/// the reply preamble); then [`kind`](HopReader::kind) says what this hop
/// is. A relay streams the outgoing frame (next header then transformed
/// cells) through `read_from`, or straight into the next hop with
/// [`pump`](HopReader::pump); the exit reads the payload through
/// `read_from`. Reply relays and the sender reading a reply first need
/// [`FullTunnel::admit`](super::FullTunnel::admit) (replay cache, kept
/// keys). Holds one header and one cell of buffer. Resumable after
/// `WouldBlock`.
pub struct HopReader {
    layout: FrameLayout,
    secret: Arc<X25519Secret>,
    stage: Stage,
    /// This hop's error keys, once its header is processed.
    error_keys: Option<ErrorKeys>,
}

impl std::fmt::Debug for HopReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HopReader")
            .field("kind", &self.kind())
            .field("admitted", &self.is_admitted())
            .finish_non_exhaustive()
    }
}

impl HopReader {
    /// A reader for one onion arriving at the hop holding `secret`.
    pub fn new(layout: FrameLayout, secret: Arc<X25519Secret>) -> Self {
        HopReader {
            stage: Stage::Header {
                buf: vec![0u8; layout.header.header_len()],
                have: 0,
            },
            layout,
            secret,
            error_keys: None,
        }
    }

    /// The error report this hop sends back towards the sender when it
    /// cannot go on. Without a readable header the hop has no key and the
    /// report is all zeros, which the sender reads as
    /// [`HopFailure::BadHeader`] at this hop.
    pub fn error_report(&self, failure: HopFailure) -> Result<[u8; ERROR_REPORT_LEN], TunnelError> {
        match &self.error_keys {
            Some(k) => k.report(failure),
            None => Ok([0u8; ERROR_REPORT_LEN]),
        }
    }

    /// Adds this hop's layer to an error report coming back from further
    /// on, before sending it towards the sender.
    pub fn wrap_error_report(
        &self,
        report: &mut [u8; ERROR_REPORT_LEN],
    ) -> Result<(), TunnelError> {
        self.error_keys
            .as_ref()
            .ok_or(TunnelError::NoHeader)?
            .wrap(report)
    }

    /// This hop's role, once the header is read.
    pub fn kind(&self) -> Option<HopKind> {
        match &self.stage {
            Stage::Header { .. } | Stage::Failed(_) => None,
            Stage::Relay(_) => Some(HopKind::Relay),
            Stage::ReplyRelay { .. } => Some(HopKind::ReplyRelay),
            Stage::Exit(_) => Some(HopKind::Exit),
            Stage::ReplyExit { .. } => Some(HopKind::ReplyExit),
        }
    }

    /// The id of the reply this reader reads, once its header says it is
    /// a reply to this node ([`HopKind::ReplyExit`]): the id
    /// [`FullWriter::reply_id`](super::FullWriter::reply_id) gave the
    /// sender, so she matches it to her query before or after admitting
    /// it.
    pub fn reply_id(&self) -> Option<&[u8]> {
        match &self.stage {
            Stage::ReplyExit { reply_id, .. } => Some(reply_id),
            _ => None,
        }
    }

    /// Why this reader failed, if it did (every later call repeats it).
    pub fn failure(&self) -> Option<&TunnelError> {
        match &self.stage {
            Stage::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// True when the stream can go on without the full tunnel object.
    pub fn is_admitted(&self) -> bool {
        match &self.stage {
            Stage::Relay(_) | Stage::Exit(_) => true,
            Stage::ReplyRelay { admitted, .. } => *admitted,
            Stage::ReplyExit { reader, .. } => reader.is_some(),
            Stage::Header { .. } | Stage::Failed(_) => false,
        }
    }

    /// For a relay (either direction), the next hop's opaque address.
    pub fn next_address(&self) -> Option<&[u8]> {
        match &self.stage {
            Stage::Relay(r) => Some(&r.next_address),
            Stage::ReplyRelay { relay, .. } => Some(&relay.next_address),
            _ => None,
        }
    }

    /// At the exit, the reply block the sender included, if any.
    pub fn reply_block(&self) -> Option<&ReplyBlock> {
        match &self.stage {
            Stage::Exit(e) => e.reply.as_ref(),
            _ => None,
        }
    }

    /// At the exit, takes the reply block and makes the writer of the reply
    /// (single use: a second call is [`TunnelError::Used`];
    /// [`TunnelError::NoReplyBlock`] if the sender asked for no reply).
    pub fn reply_writer(&mut self) -> Result<ReplyWriter, TunnelError> {
        match &mut self.stage {
            Stage::Exit(e) if e.done => {
                let block = e.take_reply()?;
                ReplyWriter::new(&self.layout, block, &e.back_key)
            }
            Stage::Exit(_) | Stage::Header { .. } => Err(TunnelError::NoHeader),
            Stage::Failed(e) => Err(e.clone()),
            other => Err(TunnelError::WrongRole(kind_of(other))),
        }
    }

    /// At a relay, streams the rest of the onion into the next hop's `w`:
    /// `Ok` once the last cell is written (not flushed). Call again after
    /// `WouldBlock` from either side.
    pub fn pump(&mut self, r: &mut dyn Read, w: &mut dyn Write) -> io::Result<()> {
        match &mut self.stage {
            Stage::Relay(relay) => relay.pump(r, w),
            Stage::ReplyRelay {
                admitted: true,
                relay,
                ..
            } => relay.pump(r, w),
            other => Err(self_error(other).into()),
        }
    }

    /// Checks a reply relay's header against the hop's replay cache.
    pub(crate) fn admit_reply_relay(&mut self, cache: &mut ReplayCache) -> Result<(), TunnelError> {
        if let Stage::ReplyRelay {
            replay_id,
            admitted,
            ..
        } = &mut self.stage
        {
            if *admitted {
                return Ok(());
            }
            if !cache.check_and_insert(replay_id) {
                self.stage = Stage::Failed(TunnelError::Replayed);
                return Err(TunnelError::Replayed);
            }
            *admitted = true;
        }
        Ok(())
    }

    /// Gives the sender's reply reader the keys she kept for this reply.
    pub(crate) fn admit_reply_exit(
        &mut self,
        pending: &mut PendingReplies,
    ) -> Result<(), TunnelError> {
        if let Stage::ReplyExit { reply_id, reader } = &mut self.stage {
            if reader.is_some() {
                return Ok(());
            }
            let Some(keys) = pending.take(reply_id) else {
                self.stage = Stage::Failed(TunnelError::UnknownReply);
                return Err(TunnelError::UnknownReply);
            };
            let opener = ReplyCellOpener::new(
                self.layout.cell,
                &keys.exit_key,
                &keys.relay_keys,
                &keys.link_key,
            )?;
            *reader = Some(CellReader::new(opener));
        }
        Ok(())
    }

    /// Reads the rest of the header and processes it.
    fn read_fixed_header(&mut self, r: &mut dyn Read) -> io::Result<()> {
        let Stage::Header { buf, have } = &mut self.stage else {
            return Ok(());
        };
        while *have < buf.len() {
            match r.read(&mut buf[*have..]) {
                Ok(0) => {
                    let got = *have;
                    return Err(self.fail(TunnelError::TruncatedHeader { got }));
                }
                Ok(n) => *have += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let header = std::mem::take(buf);
        match self.process(&header) {
            Ok((stage, keys)) => {
                self.stage = stage;
                self.error_keys = Some(keys);
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn process(&self, header: &[u8]) -> Result<(Stage, ErrorKeys), TunnelError> {
        let mut processor = HeaderProcessor::new(self.layout.header);
        let mut next = vec![0u8; self.layout.header.header_len()];
        let p = processor.process(&self.secret, header, &mut next)?;
        let error_keys = ErrorKeys::new(&p.keys)?;
        let cell = self.layout.cell;
        let stage = match p.kind {
            HopKind::Relay => {
                let peeler = CellPeeler::new(cell, &p.keys.content_key)?;
                Stage::Relay(Relay::new(p, next, peeler))
            }
            HopKind::ReplyRelay => {
                let replay_id = p.keys.replay_id;
                let wrapper = ReplyCellWrapper::new(
                    cell,
                    &p.keys.content_key,
                    &p.keys.link_key,
                    &p.next_link_key,
                )?;
                Stage::ReplyRelay {
                    replay_id,
                    admitted: false,
                    relay: Relay::new(p, next, wrapper),
                }
            }
            HopKind::Exit => Stage::Exit(Box::new(Exit::new(
                &self.layout.header,
                CellOpener::new(cell, &p.keys.content_key)?,
                p.keys.back_key,
            ))),
            HopKind::ReplyExit => Stage::ReplyExit {
                reply_id: p.address,
                reader: None,
            },
        };
        Ok((stage, error_keys))
    }

    fn fail(&mut self, e: TunnelError) -> io::Error {
        self.stage = Stage::Failed(e.clone());
        e.into()
    }
}

/// The role a stage stands for (for errors).
fn kind_of(stage: &Stage) -> HopKind {
    match stage {
        Stage::Relay(_) | Stage::Header { .. } | Stage::Failed(_) => HopKind::Relay,
        Stage::ReplyRelay { .. } => HopKind::ReplyRelay,
        Stage::Exit(_) => HopKind::Exit,
        Stage::ReplyExit { .. } => HopKind::ReplyExit,
    }
}

/// Why a stage cannot stream now.
fn self_error(stage: &Stage) -> TunnelError {
    match stage {
        Stage::Header { .. } => TunnelError::NoHeader,
        // The reply preamble is part of reading the header at the exit.
        Stage::Exit(exit) if !exit.done => TunnelError::NoHeader,
        Stage::Failed(e) => e.clone(),
        Stage::ReplyRelay { .. } => TunnelError::NeedsFullTunnel(HopKind::ReplyRelay),
        Stage::ReplyExit { reader: None, .. } => TunnelError::NeedsFullTunnel(HopKind::ReplyExit),
        other => TunnelError::WrongRole(kind_of(other)),
    }
}

impl ExtRead for HopReader {
    /// Reads and processes the header; at the exit, also the reply
    /// preamble.
    fn read_header(&mut self, r: &mut dyn Read) -> io::Result<()> {
        if let Stage::Failed(e) = &self.stage {
            return Err(e.clone().into());
        }
        self.read_fixed_header(r)?;
        match &mut self.stage {
            Stage::Exit(exit) => exit.read_preamble(&self.layout.header, r),
            _ => Ok(()),
        }
    }

    /// A relay: outgoing frame bytes. The exit or the sender of a reply:
    /// payload bytes. `Ok(0)` at the end of the message.
    fn read_from(&mut self, r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.stage {
            Stage::Relay(relay) => relay.read_from(r, buf),
            Stage::ReplyRelay {
                admitted: true,
                relay,
                ..
            } => relay.read_from(r, buf),
            Stage::Exit(exit) if exit.done => exit.reader.read_from(r, buf),
            Stage::ReplyExit {
                reader: Some(reader),
                ..
            } => reader.read_from(r, buf),
            other => Err(self_error(other).into()),
        }
    }

    /// Reads (and checks) the rest of the message, discarding it.
    fn read_end(&mut self, r: &mut dyn Read) -> io::Result<()> {
        match &mut self.stage {
            Stage::Relay(relay) => relay.proxy.read_end(r),
            Stage::ReplyRelay {
                admitted: true,
                relay,
                ..
            } => relay.proxy.read_end(r),
            Stage::Exit(exit) if exit.done => exit.reader.read_end(r),
            Stage::ReplyExit {
                reader: Some(reader),
                ..
            } => reader.read_end(r),
            other => Err(self_error(other).into()),
        }
    }
}
