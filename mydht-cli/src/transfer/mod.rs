//! The file transfer of `mydht send` and `mydht node --receive-dir`: a
//! tunnel application (`mydht-tunnel`) every `mydht node` runs beside its
//! DHT node, under the same identity (so the same peer id).
//!
//! The protocol is one tunnel query: the message is an [`Offer`] (the
//! file's name, size and SHA-256), the file's bytes are its attachment,
//! and the exit's reply, once the attachment ended, says what it did:
//! [`Msg::Saved`] (the name it saved the file under, the size and SHA-256
//! it computed) or [`Msg::Refused`] (why). The receiver ([`receive`])
//! refuses names that are not one plain file name, sizes over its bound,
//! bytes past the announced size, and a SHA-256 that differs; it writes to
//! a temporary file and gives it its name only once checked.

pub mod receive;
pub mod record;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mydht::prelude::*;
use mydht_tunnel::{
    Attachment, Destination, InnerCommand, InnerReply, MyDHTTunnelConf, ReplyRoute, TunnelSend,
};
use serde::{Deserialize, Serialize};

use crate::transfer::receive::{ReceiveConf, Receiving};

/// Longest file name a receiver takes, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// A file on offer: what the receiver checks it against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The file's name (one plain name, no directory).
    pub name: String,
    /// Its length in bytes.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: [u8; 32],
}

/// What the receiver saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// The name it saved the file under (the offered one, or with a `.N`
    /// suffix when a file of that name was there).
    pub name: String,
    /// Bytes received.
    pub size: u64,
    /// SHA-256 of the bytes received.
    pub sha256: [u8; 32],
}

/// Why a receiver did not save a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The node was started without `--receive-dir`.
    NotReceiving,
    /// The name is not one plain file name.
    BadName,
    /// The announced size is over the receiver's bound.
    TooLarge {
        /// The bound, in bytes.
        max: u64,
    },
    /// The bytes received were not as many as announced (more: the
    /// receiver stopped counting at one past the size).
    WrongSize {
        /// Bytes received.
        got: u64,
    },
    /// The bytes received have another SHA-256 than announced.
    WrongHash,
    /// The receiver could not write the file (its system's error kind).
    Disk(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotReceiving => f.write_str("it takes no files (no --receive-dir)"),
            Refusal::BadName => f.write_str("the file name is not one plain name"),
            Refusal::TooLarge { max } => write!(f, "the file is over its bound of {max} bytes"),
            Refusal::WrongSize { got } => {
                write!(f, "it received {got} bytes, not the size announced")
            }
            Refusal::WrongHash => f.write_str("the bytes it received have another SHA-256"),
            Refusal::Disk(kind) => write!(f, "it could not write the file ({kind})"),
        }
    }
}

/// What travels through the tunnel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Msg {
    /// A file follows as the attachment.
    Offer(Offer),
    /// The exit saved it.
    Saved(Saved),
    /// The exit did not.
    Refused(Refusal),
}

/// The api command: send a file.
#[derive(Debug)]
pub struct SendFile {
    /// The receiver.
    pub to: PeerId,
    /// Relays between this node and the receiver.
    pub hops: usize,
    /// What is sent.
    pub offer: Offer,
    /// The bytes.
    pub bytes: Attachment,
}

/// The api answer: what the receiver replied.
pub type Outcome = std::result::Result<Saved, Refusal>;

/// The transfer application of a node: its identity, address, timeout and
/// where (if anywhere) it saves the files it receives.
pub struct FileApp {
    identity: Identity,
    listen: SocketAddr,
    timeout: Duration,
    receive: Option<Arc<ReceiveConf>>,
}

impl FileApp {
    /// The application of a node of `identity` listening on `listen`,
    /// giving up on a transfer after `timeout`, saving what it receives
    /// as `receive` says (none: it refuses files, and still relays).
    pub fn new(
        identity: Identity,
        listen: SocketAddr,
        timeout: Duration,
        receive: Option<ReceiveConf>,
    ) -> Self {
        FileApp {
            identity,
            listen,
            timeout,
            receive: receive.map(Arc::new),
        }
    }
}

impl MyDHTTunnelConf for FileApp {
    type Msg = Msg;
    type Cmd = SendFile;
    type Answer = Outcome;
    type InnerService = Inner;

    fn init_inner(&mut self, _: &PeerInfo) -> Result<Inner> {
        Ok(Inner {
            receive: self.receive.clone(),
            receiving: None,
        })
    }
    fn listen_address(&self) -> SocketAddr {
        self.listen
    }
    fn init_identity(&mut self) -> Result<Identity> {
        Ok(self.identity.clone())
    }
    fn tunnel_timeout(&self) -> Duration {
        self.timeout
    }
}

/// The application's logic in each tunnel service of a node.
pub struct Inner {
    receive: Option<Arc<ReceiveConf>>,
    /// The file coming in on this connection, if any (dropped unfinished:
    /// its temporary file is removed).
    receiving: Option<std::result::Result<Receiving, Refusal>>,
}

impl Service for Inner {
    type CommandIn = InnerCommand<FileApp>;
    type CommandOut = InnerReply<FileApp>;
    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: Self::CommandIn,
        _: &mut Y,
    ) -> Result<Self::CommandOut> {
        Ok(match cmd {
            InnerCommand::Api(send) => InnerReply::Send(TunnelSend {
                to: Destination::Peer(send.to),
                hops: send.hops,
                reply: ReplyRoute::SameRoute,
                msg: Msg::Offer(send.offer),
                attachment: Some(send.bytes),
            }),
            InnerCommand::Exit {
                msg: Msg::Offer(offer),
                attached: true,
                ..
            } => {
                self.receiving = Some(match &self.receive {
                    Some(conf) => Receiving::start(conf.clone(), offer),
                    None => Err(Refusal::NotReceiving),
                });
                InnerReply::None
            }
            InnerCommand::Attached(bytes) => {
                if let Some(Ok(r)) = &mut self.receiving {
                    r.write(&bytes);
                }
                InnerReply::None
            }
            InnerCommand::AttachedEnd { can_reply } => {
                let outcome = match self.receiving.take() {
                    Some(Ok(r)) => r.finish(),
                    Some(Err(refusal)) => Err(refusal),
                    None => return Ok(InnerReply::None),
                };
                match (can_reply, outcome) {
                    (false, _) => InnerReply::None,
                    (true, Ok(saved)) => InnerReply::Reply(Msg::Saved(saved)),
                    (true, Err(refusal)) => InnerReply::Reply(Msg::Refused(refusal)),
                }
            }
            InnerCommand::Replied(Msg::Saved(saved)) => InnerReply::Api(Ok(saved)),
            InnerCommand::Replied(Msg::Refused(refusal)) => InnerReply::Api(Err(refusal)),
            _ => InnerReply::None,
        })
    }
}

/// Whether `name` is one plain file name a receiver takes: not empty, at
/// most [`MAX_NAME_LEN`] bytes, no path separator, no control character,
/// not starting with a dot (no `.`, `..` or hidden file; the receiver's
/// temporary files start with one).
pub fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('.')
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
}

/// `bytes` in lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The tunnel node every `mydht node` runs, and `mydht send` too.
pub type FileNode = mydht_tunnel::TunnelNode<FileApp, mydht_tunnel::Restartable>;
