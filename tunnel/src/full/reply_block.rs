//! What the sender hands the exit to reply with, and what she keeps to read
//! the reply.

use std::collections::HashMap;

use super::layout::FrameLayout;
use super::report::ErrorKeys;
use crate::crypto::{random_bytes, KEY_LEN, REPLAY_ID_LEN};
use crate::error::TunnelError;
use crate::header::{build_header_with, EphemeralKeys, HeaderLayout, RouteHop};

/// Marker byte at the start of the exit's content: no reply block follows.
pub(crate) const NO_REPLY: u8 = 0;
/// Marker byte at the start of the exit's content: a reply block follows.
pub(crate) const WITH_REPLY: u8 = 1;

/// A single-use reply onion: the header of the reply route (ending at the
/// sender), the key of the exit's link to the first reply hop, and that
/// hop's address, where the exit connects.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplyBlock {
    /// The reply header, `header_len` bytes.
    pub header: Vec<u8>,
    /// The first reply hop's link key: the exit seals the link entries of
    /// its reply cells under it. Inside the exit's layer: only it reads it.
    pub link_key: [u8; KEY_LEN],
    /// Opaque address of the first reply hop (the sender when the reply
    /// route has no relay).
    pub first_address: Vec<u8>,
}

impl std::fmt::Debug for ReplyBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the link key.
        f.debug_struct("ReplyBlock")
            .field("first_address", &self.first_address)
            .finish_non_exhaustive()
    }
}

impl ReplyBlock {
    /// Length of an encoded block: the same for every reply route.
    pub(crate) fn encoded_len(layout: &HeaderLayout) -> usize {
        layout.header_len() + KEY_LEN + 1 + layout.max_address_len()
    }

    /// Appends the fixed-size encoding: header, link key, address length,
    /// address zero-padded.
    pub(crate) fn encode(&self, layout: &HeaderLayout, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.header);
        out.extend_from_slice(&self.link_key);
        // The address length was checked against the layout when the header
        // was built; max_address_len fits in a byte.
        out.push(self.first_address.len() as u8);
        out.extend_from_slice(&self.first_address);
        let pad = layout.max_address_len() - self.first_address.len();
        out.extend(std::iter::repeat_n(0u8, pad));
    }

    /// Reads a block encoded by [`ReplyBlock::encode`].
    pub(crate) fn decode(layout: &HeaderLayout, bytes: &[u8]) -> Result<Self, TunnelError> {
        if bytes.len() != Self::encoded_len(layout) {
            return Err(TunnelError::BadReplyBlock);
        }
        let (header, rest) = bytes.split_at(layout.header_len());
        let (link, rest) = rest.split_at(KEY_LEN);
        let mut link_key = [0u8; KEY_LEN];
        link_key.copy_from_slice(link);
        let len = rest[0] as usize;
        if len > layout.max_address_len() {
            return Err(TunnelError::BadReplyBlock);
        }
        Ok(ReplyBlock {
            header: header.to_vec(),
            link_key,
            first_address: rest[1..1 + len].to_vec(),
        })
    }
}

/// The keys the sender keeps to peel a reply: matched by the reply id she
/// put in her own slot of the reply header.
#[derive(Clone)]
pub struct PendingReply {
    pub(crate) reply_id: [u8; REPLAY_ID_LEN],
    /// The exit's back key (from the query header), its layer of the reply.
    pub(crate) exit_key: [u8; KEY_LEN],
    /// Content keys of the reply relays, from the exit towards the sender.
    pub(crate) relay_keys: Vec<[u8; KEY_LEN]>,
    /// The sender's own link key: the last reply hop seals link entries
    /// under it.
    pub(crate) link_key: [u8; KEY_LEN],
}

impl std::fmt::Debug for PendingReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingReply")
            .field("reply_id", &self.reply_id)
            .field("relays", &self.relay_keys.len())
            .finish_non_exhaustive()
    }
}

impl PendingReply {
    /// The id the reply will carry to the sender.
    pub fn reply_id(&self) -> &[u8; REPLAY_ID_LEN] {
        &self.reply_id
    }
}

/// Builds a reply block for `reply_route` (reply relays, then the sender
/// herself last), the keys to read the reply, given the exit's back key,
/// and the reply relays' error keys (to read their reports); the header's
/// key pairs from `keys`.
pub(crate) fn build_reply(
    layout: &FrameLayout,
    reply_route: &[RouteHop],
    exit_key: [u8; KEY_LEN],
    keys: &mut EphemeralKeys,
) -> Result<(ReplyBlock, PendingReply, Vec<ErrorKeys>), TunnelError> {
    let mut reply_id = [0u8; REPLAY_ID_LEN];
    random_bytes(&mut reply_id)?;
    let built = build_header_with(&layout.header, reply_route, true, &reply_id, keys)?;
    let relays = reply_route.len() - 1;
    // The cells of a reply carry one layer per reply relay plus the exit's.
    if relays + 1 > layout.cell.max_layers() {
        return Err(TunnelError::Header(
            crate::header::HeaderError::RouteTooLong {
                layers: relays + 1,
                max: layout.cell.max_layers(),
            },
        ));
    }
    let relay_keys = built.hop_keys[..relays]
        .iter()
        .map(|k| k.content_key)
        .collect();
    let error_keys = built.hop_keys[..relays]
        .iter()
        .map(ErrorKeys::new)
        .collect::<Result<_, _>>()?;
    // build_header refused an empty route: the sender's keys come last.
    let link_key = built.hop_keys[relays].link_key;
    let block = ReplyBlock {
        header: built.bytes,
        link_key: built.hop_keys[0].link_key,
        // build_header refused an empty route.
        first_address: reply_route[0].address.clone(),
    };
    Ok((
        block,
        PendingReply {
            reply_id,
            exit_key,
            relay_keys,
            link_key,
        },
        error_keys,
    ))
}

/// The replies a sender awaits, bounded: when full, new queries with a
/// reply are refused rather than old ones forgotten.
#[derive(Debug)]
pub struct PendingReplies {
    capacity: usize,
    by_id: HashMap<[u8; REPLAY_ID_LEN], PendingReply>,
}

impl PendingReplies {
    /// A table of at most `capacity` awaited replies.
    pub fn new(capacity: usize) -> Self {
        PendingReplies {
            capacity,
            by_id: HashMap::new(),
        }
    }

    /// Keeps `reply` until its reply arrives.
    pub fn insert(&mut self, reply: PendingReply) -> Result<(), TunnelError> {
        if self.by_id.len() >= self.capacity {
            return Err(TunnelError::TooManyPendingReplies);
        }
        self.by_id.insert(reply.reply_id, reply);
        Ok(())
    }

    /// Takes the keys of reply `id`: a reply is read once.
    pub fn take(&mut self, id: &[u8]) -> Option<PendingReply> {
        let id: [u8; REPLAY_ID_LEN] = id.try_into().ok()?;
        self.by_id.remove(&id)
    }

    /// Forgets reply `id` (given up waiting).
    pub fn cancel(&mut self, id: &[u8; REPLAY_ID_LEN]) -> bool {
        self.by_id.remove(id).is_some()
    }

    /// Replies awaited.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when no reply is awaited.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
