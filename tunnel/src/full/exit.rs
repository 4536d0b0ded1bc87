//! The exit's side of one onion: the content preamble (reply marker and
//! block), then the payload.

use std::io::{self, Read};

use readwrite_comp::ExtRead;

use super::reply_block::{ReplyBlock, NO_REPLY, WITH_REPLY};
use crate::cell::{CellOpener, CellReader};
use crate::crypto::KEY_LEN;
use crate::error::TunnelError;
use crate::header::HeaderLayout;

/// The exit's side: the content preamble (reply marker and block), then the
/// payload.
pub(super) struct Exit {
    pub(super) reader: CellReader<CellOpener>,
    pub(super) back_key: [u8; KEY_LEN],
    preamble: Vec<u8>,
    have: usize,
    pub(super) done: bool,
    pub(super) reply: Option<ReplyBlock>,
    /// The reply block was taken already (single use).
    pub(super) reply_taken: bool,
}

impl Exit {
    /// Takes the reply block: once, and only if the sender sent one.
    pub(super) fn take_reply(&mut self) -> Result<ReplyBlock, TunnelError> {
        match self.reply.take() {
            Some(b) => {
                self.reply_taken = true;
                Ok(b)
            }
            None if self.reply_taken => Err(TunnelError::Used),
            None => Err(TunnelError::NoReplyBlock),
        }
    }

    /// The exit of an onion whose content is opened with `opener`.
    pub(super) fn new(layout: &HeaderLayout, opener: CellOpener, back_key: [u8; KEY_LEN]) -> Self {
        Exit {
            reader: CellReader::new(opener),
            back_key,
            preamble: vec![0u8; 1 + ReplyBlock::encoded_len(layout)],
            have: 0,
            done: false,
            reply: None,
            reply_taken: false,
        }
    }

    /// Reads the reply marker and block ahead of the payload. A bad
    /// preamble gives the same error on every call (nothing is consumed
    /// after it), so the caller may simply repeat calls.
    pub(super) fn read_preamble(
        &mut self,
        layout: &HeaderLayout,
        r: &mut dyn Read,
    ) -> io::Result<()> {
        while !self.done {
            let want = match (self.have, self.preamble[0]) {
                (0, _) => 1,
                (_, NO_REPLY) => 1,
                (_, WITH_REPLY) => self.preamble.len(),
                _ => return Err(TunnelError::BadReplyBlock.into()),
            };
            if self.have == want {
                if want > 1 {
                    self.reply = Some(ReplyBlock::decode(layout, &self.preamble[1..])?);
                }
                self.done = true;
                self.preamble = Vec::new();
                break;
            }
            let n = self
                .reader
                .read_from(r, &mut self.preamble[self.have..want])?;
            if n == 0 {
                return Err(TunnelError::BadReplyBlock.into());
            }
            self.have += n;
        }
        Ok(())
    }
}
