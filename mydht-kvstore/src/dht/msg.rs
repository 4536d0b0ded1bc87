//! What DHT nodes send each other ([`DhtMsg`]), why a node refuses a
//! request ([`Refusal`]), and what the application asks its node
//! ([`DhtCmd`]) and gets back ([`DhtReply`]).

use std::fmt;
use std::time::Duration;

use mydht::service::kvstore::{KVStoreProtoMsg, QueryConf, QueryID};
use mydht::{PeerId, PeerInfo};
use serde::{Deserialize, Serialize};

use crate::dht::stats::DhtStats;
use crate::key::Key;
use crate::value::{SignedValue, ValueError};

/// The query engine's message between peers, over this crate's values.
pub type KvMsg = KVStoreProtoMsg<SignedValue, PeerInfo>;

/// A message between two DHT nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum DhtMsg {
    /// A request or reply of the query engine.
    Kv(KvMsg),
    /// The request of query `.0` was refused, for this reason: the value
    /// does not verify, is older than the one held, or the key is
    /// malformed.
    Refused(QueryID, Refusal),
    /// An asynchronous reply (a `Found` or `Stored`) for the collector
    /// `to`, carried back along the query's path because the replying node
    /// is not connected to the collector.
    Relay {
        /// The collector.
        to: PeerId,
        /// The reply.
        msg: KvMsg,
    },
    /// An iterative lookup's request: the peers the receiver knows
    /// closest to `key` (at most k), and its value of `key` when `value`.
    FindNode {
        /// The lookup.
        qid: QueryID,
        /// The key looked up.
        key: Key,
        /// True when the value is wanted too.
        value: bool,
    },
    /// The answer to a [`FindNode`](DhtMsg::FindNode).
    Nodes {
        /// The lookup.
        qid: QueryID,
        /// Peers closest to the key that the sender knows (the receiver
        /// reads at most k).
        peers: Vec<PeerInfo>,
        /// The sender's value of the key, if asked for and held.
        value: Option<SignedValue>,
        /// Peers the sender only heard of (named in answers, never heard
        /// from), closer to the key than `peers`: the receiver asks them
        /// (at most α read) but does not keep them in its table.
        contacts: Vec<PeerInfo>,
    },
    /// Keep this value: a placement on one of the peers closest to its
    /// key (a put or a republish), answered with
    /// [`Placed`](DhtMsg::Placed) or [`Refused`](DhtMsg::Refused).
    Place(QueryID, SignedValue),
    /// The value of placement `.0` is held.
    Placed(QueryID),
}

/// Why a node refused a value or a key. It travels in [`DhtMsg::Refused`]
/// and ends in [`DhtError::Refused`](crate::dht::DhtError::Refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Refusal {
    /// The signature is not the publisher's.
    BadSignature,
    /// The publisher id is not the hash of the publisher key.
    WrongPublisher,
    /// The value is larger than the node accepts.
    TooLarge {
        /// Its length.
        len: u64,
        /// The largest accepted.
        max: u64,
    },
    /// The value has expired.
    Expired,
    /// The node holds a version at least as recent of the same publisher.
    Older {
        /// The held version.
        stored: u64,
        /// The refused version.
        offered: u64,
    },
    /// The key holds a live value of another publisher.
    OtherPublisher,
    /// The key is malformed (see
    /// [`DhtSettings::key_check`](crate::dht::DhtSettings::key_check)).
    MalformedKey,
    /// The bytes are not a value.
    Malformed,
    /// The value passed the checks but the store did not keep it (full,
    /// or failing).
    NotKept,
}

impl From<&ValueError> for Refusal {
    fn from(e: &ValueError) -> Self {
        match e {
            ValueError::BadSignature { .. } => Refusal::BadSignature,
            ValueError::WrongPublisher => Refusal::WrongPublisher,
            ValueError::TooLarge { len, max } => Refusal::TooLarge {
                len: *len as u64,
                max: *max as u64,
            },
            ValueError::Expired { .. } => Refusal::Expired,
            ValueError::Older { stored, offered } => Refusal::Older {
                stored: *stored,
                offered: *offered,
            },
            ValueError::OtherPublisher { .. } => Refusal::OtherPublisher,
            ValueError::Malformed { .. } => Refusal::Malformed,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::BadSignature => write!(f, "bad value signature"),
            Refusal::WrongPublisher => write!(f, "publisher id is not its key's hash"),
            Refusal::TooLarge { len, max } => {
                write!(f, "value of {len} bytes, over the limit of {max}")
            }
            Refusal::Expired => write!(f, "value expired"),
            Refusal::Older { stored, offered } => {
                write!(f, "version {offered} not newer than the held {stored}")
            }
            Refusal::OtherPublisher => write!(f, "key held by another publisher"),
            Refusal::MalformedKey => write!(f, "malformed key"),
            Refusal::Malformed => write!(f, "malformed value"),
            Refusal::NotKept => write!(f, "value not kept by the store"),
        }
    }
}

impl std::error::Error for Refusal {}

/// What the application asks its node's DHT service (through
/// [`Dht`](crate::dht::Dht), or `NodeHandle::query`).
#[derive(Debug, Clone)]
pub enum DhtCmd {
    /// Sign `value` under `key` with the node's identity, expiring `ttl`
    /// from now, and store it here and on the peers `conf` reaches;
    /// answered with [`DhtReply::Stored`], [`DhtReply::Refused`] or
    /// [`DhtReply::Failed`].
    Put {
        /// The key.
        key: Key,
        /// The value.
        value: Vec<u8>,
        /// How long it lives.
        ttl: Duration,
        /// How the store travels.
        conf: QueryConf,
    },
    /// Store a value signed elsewhere (republishing), as `Put`.
    PutSigned(SignedValue, QueryConf),
    /// Find the values of `key`; answered with [`DhtReply::Found`] (the
    /// values that verify, possibly none) or [`DhtReply::Refused`].
    Get(Key, QueryConf),
    /// Ends the queries whose time is up (each with what it has); answered
    /// with [`DhtReply::Ticked`].
    Tick,
    /// Never answered: a query that expires at its api timeout, for a
    /// caller to be woken then (see [`DhtFuture`](crate::dht::DhtFuture)).
    Timer,
    /// The node's DHT counters; answered with [`DhtReply::Stats`].
    Stats,
    /// A republishing step now, as the tick makes it: the values due (or
    /// every value held, with `all`) placed again on the peers closest to
    /// their keys; answered with [`DhtReply::Republished`] once those
    /// placements are answered or timed out.
    Republish {
        /// Every value held, not only the due ones.
        all: bool,
    },
    /// An iterative lookup of the node's own id (it dials the peers it
    /// learns of), to fill its route after it connected to a first peer;
    /// answered with [`DhtReply::Bootstrapped`].
    Bootstrap,
}

/// What a [`DhtCmd`] answers.
#[derive(Debug, Clone)]
pub enum DhtReply {
    /// How many peers stored the value (the local copy not counted).
    Stored(u32),
    /// The values found that verify.
    Found(Vec<SignedValue>),
    /// The value or key was refused (by this node or, for a store that no
    /// peer took, by a peer).
    Refused(Refusal),
    /// The local store failed.
    Failed(mydht_base::Error),
    /// The clock ticked.
    Ticked,
    /// The counters.
    Stats(DhtStats),
    /// A republishing step ended.
    Republished {
        /// Values placed again.
        values: u32,
        /// Peers that took them.
        placements: u32,
    },
    /// A bootstrap lookup ended: how many peers answered it.
    Bootstrapped(u32),
}
