//! Error reports: a hop that cannot go on tells the sender why, back along
//! the path the onion came, in a constant-size frame each hop wraps.
//!
//! The failing hop seals `[failure code][zeros]` under an error key derived
//! from its back key; every hop before it XORs a keystream of its own error
//! key over the frame (a layer, so two links' frames are unlinkable); the
//! sender, who holds every hop's keys, peels layer by layer until one
//! verifies. A hop that could not even read its header has no key: it
//! sends zeros, and the sender sees zeros under the previous hops' layers.

use crate::crypto::{
    aead_open, aead_seal, chacha20_xor, hkdf_sha256, HopKeys, KEY_LEN, NONCE_LEN, TAG_LEN,
};
use crate::error::{HopFailure, TunnelError};

/// Length of an error report frame, at every hop.
pub const ERROR_REPORT_LEN: usize = 16 + TAG_LEN;

/// HKDF info: error keys are independent of the reply-cell keys.
const ERROR_KEYS_INFO: &[u8] = b"mydht-tunnel v1 error report";

/// The wire code of `failure` in a report (0 is never a report).
fn failure_code(failure: HopFailure) -> u8 {
    match failure {
        HopFailure::Unreachable => 1,
        HopFailure::BadHeader => 2,
        HopFailure::Replayed => 3,
        HopFailure::BadContent => 4,
    }
}

/// The failure of wire code `c`, if it is one.
fn failure_from_code(c: u8) -> Option<HopFailure> {
    match c {
        1 => Some(HopFailure::Unreachable),
        2 => Some(HopFailure::BadHeader),
        3 => Some(HopFailure::Replayed),
        4 => Some(HopFailure::BadContent),
        _ => None,
    }
}

/// One hop's error keys: one to seal its own report, one to wrap reports
/// from further on.
#[derive(Clone)]
pub(crate) struct ErrorKeys {
    seal: [u8; KEY_LEN],
    wrap: [u8; KEY_LEN],
}

impl ErrorKeys {
    /// The error keys of the hop whose keys are `keys`.
    pub(crate) fn new(keys: &HopKeys) -> Result<Self, TunnelError> {
        let mut okm = [0u8; 2 * KEY_LEN];
        hkdf_sha256(&keys.back_key, &[], ERROR_KEYS_INFO, &mut okm)?;
        let mut k = ErrorKeys {
            seal: [0; KEY_LEN],
            wrap: [0; KEY_LEN],
        };
        k.seal.copy_from_slice(&okm[..KEY_LEN]);
        k.wrap.copy_from_slice(&okm[KEY_LEN..]);
        Ok(k)
    }

    /// This hop's own report of `failure`.
    pub(crate) fn report(
        &self,
        failure: HopFailure,
    ) -> Result<[u8; ERROR_REPORT_LEN], TunnelError> {
        let mut frame = [0u8; ERROR_REPORT_LEN];
        frame[0] = failure_code(failure);
        let (body, tag) = frame.split_at_mut(16);
        // One report per onion per hop: the fixed nonce is never reused
        // under this key.
        tag.copy_from_slice(&aead_seal(&self.seal, &[0u8; NONCE_LEN], &[], body)?);
        Ok(frame)
    }

    /// Adds (or removes) this hop's layer on a report from further on.
    pub(crate) fn wrap(&self, frame: &mut [u8; ERROR_REPORT_LEN]) -> Result<(), TunnelError> {
        chacha20_xor(&self.wrap, &[0u8; NONCE_LEN], frame)?;
        Ok(())
    }

    /// Whether `frame` is this hop's own report; its failure if so.
    fn open(&self, frame: &[u8; ERROR_REPORT_LEN]) -> Result<Option<HopFailure>, TunnelError> {
        let mut body = [0u8; 16];
        body.copy_from_slice(&frame[..16]);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&frame[16..]);
        if !aead_open(&self.seal, &[0u8; NONCE_LEN], &[], &mut body, &tag)? {
            return Ok(None);
        }
        Ok(failure_from_code(body[0]))
    }
}

/// The sender's side: finds which hop failed and why. `hops` are the
/// error keys of the query route (relays then the exit), `reply_hops` those
/// of the reply relays (from the exit towards the sender): a reply hop's
/// report came back along the reply route to the exit, then along the
/// query route, each hop adding its layer. With a reply route
/// (`has_reply`), a frame that is all zeros once every layer is off was
/// made by the sender herself, as the last hop of the reply route: she
/// could not read the reply's header (a hop with no key reports zeros),
/// which came back around both routes from her to her.
fn read_report(
    hops: &[ErrorKeys],
    reply_hops: &[ErrorKeys],
    has_reply: bool,
    report: &[u8; ERROR_REPORT_LEN],
) -> Result<TunnelError, TunnelError> {
    let mut frame = *report;
    let query = hops.len();
    let failed = |i: usize, failure| match i.checked_sub(query) {
        None => TunnelError::HopFailed { hop: i, failure },
        Some(hop) => TunnelError::ReplyHopFailed { hop, failure },
    };
    for (i, keys) in hops.iter().chain(reply_hops).enumerate() {
        if frame == [0u8; ERROR_REPORT_LEN] {
            return Ok(failed(i, HopFailure::BadHeader));
        }
        if let Some(failure) = keys.open(&frame)? {
            return Ok(failed(i, failure));
        }
        keys.wrap(&mut frame)?;
    }
    if has_reply && frame == [0u8; ERROR_REPORT_LEN] {
        return Ok(failed(query + reply_hops.len(), HopFailure::BadHeader));
    }
    Err(TunnelError::BadErrorReport)
}

/// What the sender needs to read the error reports of one query's routes:
/// the error keys of every hop, query route then reply route. Taken from
/// the query's writer ([`FullWriter::report_reader`](super::FullWriter::report_reader))
/// and held apart from it, so a report is read while the writer is busy
/// streaming the query's cells (or gone).
#[derive(Clone)]
pub struct ReportReader {
    hops: Vec<ErrorKeys>,
    reply_hops: Vec<ErrorKeys>,
    has_reply: bool,
}

impl ReportReader {
    /// The reader of a query whose route's hops have error keys `hops`,
    /// and its reply route's `reply_hops` when `has_reply`.
    pub(crate) fn new(hops: Vec<ErrorKeys>, reply_hops: Vec<ErrorKeys>, has_reply: bool) -> Self {
        ReportReader {
            hops,
            reply_hops,
            has_reply,
        }
    }

    /// Reads an error report that came back from the routes: which hop
    /// failed and why ([`TunnelError::HopFailed`] for a hop of the query
    /// route, the exit included; [`TunnelError::ReplyHopFailed`] for a
    /// reply relay, whose report came back along the reply route to the
    /// exit, then along the query route; with `hop` equal to
    /// [`reply_relays`](Self::reply_relays) and [`HopFailure::BadHeader`]
    /// when the sender could not read her reply's header and reported it
    /// to the last reply hop like any hop), or
    /// [`TunnelError::BadErrorReport`] if no hop of these routes made it.
    pub fn read(&self, report: &[u8; ERROR_REPORT_LEN]) -> TunnelError {
        match read_report(&self.hops, &self.reply_hops, self.has_reply, report) {
            Ok(e) | Err(e) => e,
        }
    }

    /// How many relays the reply route has (`None` without a reply
    /// route): the index the sender herself has in it, for a reply she
    /// finds bad ([`TunnelError::ReplyHopFailed`] with that `hop`).
    pub fn reply_relays(&self) -> Option<usize> {
        self.has_reply.then_some(self.reply_hops.len())
    }
}

impl std::fmt::Debug for ReportReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportReader")
            .field("hops", &self.hops.len())
            .field("reply_relays", &self.reply_relays())
            .finish_non_exhaustive()
    }
}
