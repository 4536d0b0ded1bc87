//! [`MyDHTTunnelConf`]: what an application gives a tunnel node — its
//! message, api command and answer types and its inner service — and what
//! that inner service receives and answers.

use std::fmt::{self, Debug};
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use mydht::{CipherSuite, Identity, NodeConstants, PeerId, PeerInfo, PeerManager};
use mydht_base::{Result, Service};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The node constants a tunnel node starts from: mydht's defaults, with the
/// connections' session shadows in AES-256-GCM, the cipher the cells already
/// use. A streamed byte crosses 16 AEAD passes at 3 relays, 5 of them
/// sessions; on a CPU with AES instructions ring's AES-256-GCM runs about
/// twice as fast as openssl's ChaCha20-Poly1305 (the crate README's
/// Transfers). The suite is not negotiated: every node of a tunnel network
/// must use the same one, so an application that sets `cipher_suite` sets it
/// on all its nodes.
pub fn tunnel_constants() -> NodeConstants {
    NodeConstants {
        cipher_suite: CipherSuite::Aes256Gcm,
        ..NodeConstants::default()
    }
}
use tunnel::TunnelConfig;

/// An application that runs over tunnels: the types it sends and answers,
/// its inner service, and the node's settings. The crate builds the
/// `MyDHTConf` around it ([`TunnelNode`](crate::TunnelNode)).
///
/// The inner service runs inside the node's tunnel services: one instance
/// in the global tunnel service (it turns api commands into tunnel sends,
/// [`InnerCommand::Api`]) and one in each local tunnel service (it answers
/// what reaches this node as the exit of a tunnel,
/// [`InnerCommand::Exit`], and reads replies to its own queries,
/// [`InnerCommand::Replied`]).
pub trait MyDHTTunnelConf: Sized + Send + 'static {
    /// What travels through tunnels, query and reply alike.
    type Msg: Serialize + DeserializeOwned + Debug + Clone + Send + 'static;
    /// What the application asks its node through the api.
    type Cmd: Debug + Send + 'static;
    /// What an api query answers (the node's api reply is
    /// `Result<Answer, TunnelSendError>`).
    type Answer: Debug + Send + 'static;
    /// The application's logic.
    type InnerService: Service<CommandIn = InnerCommand<Self>, CommandOut = InnerReply<Self>>
        + Send
        + 'static;

    /// An inner service for the node `me` (called once for the global
    /// service and once per connection).
    fn init_inner(&mut self, me: &PeerInfo) -> Result<Self::InnerService>;

    /// Where the node listens; the default is 127.0.0.1 with a port the
    /// system picks (examples and tests).
    fn listen_address(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
    }
    /// The node's identity (its X25519 key is the tunnel key); the default
    /// generates one.
    fn init_identity(&mut self) -> Result<Identity> {
        Identity::generate()
    }
    /// The tunnel sizes: every peer of a route must use the same.
    fn tunnel_config(&self) -> TunnelConfig {
        TunnelConfig::default()
    }
    /// How long a query awaits its reply before the node gives up on it
    /// (and forgets its keys).
    fn tunnel_timeout(&self) -> Duration {
        Duration::from_secs(10)
    }
    /// How onions travel: streamed behind a header frame (the default) or
    /// whole in one frame (small messages only).
    fn carriage(&self) -> Carriage {
        Carriage::Streamed
    }
    /// The period of the global tunnel service's tick: it expires queries,
    /// sends the error reports the pumps queued, and a hop's own failure
    /// report once [`report_grace`](Self::report_grace) passed.
    fn tick(&self) -> Duration {
        Duration::from_millis(25)
    }
    /// How long a hop whose next hop failed waits for a report from
    /// further on before it reports the failure as its own (a hop that
    /// finds a bad cell closes its connection, which the hop before it
    /// sees first).
    fn report_grace(&self) -> Duration {
        Duration::from_millis(300)
    }
    /// How many links this node relayed onions on it remembers (for
    /// carrying error reports back), each for [`tunnel_timeout`](Self::tunnel_timeout).
    fn max_relayed_links(&self) -> usize {
        1024
    }
    /// The node's sizes, timeouts and session cipher; the default is
    /// [`tunnel_constants`]. An application that changes a field starts
    /// from it, so its nodes keep the tunnel's session cipher.
    fn constants(&self) -> NodeConstants {
        tunnel_constants()
    }
    /// Peer management; the default accepts every peer.
    fn peer_manager(&mut self) -> Result<Box<dyn PeerManager>> {
        Ok(Box::new(mydht::AcceptAll))
    }
}

/// What the inner service is given.
pub enum InnerCommand<T: MyDHTTunnelConf> {
    /// An api command (global tunnel service): answer it
    /// ([`InnerReply::Api`]) or send through a tunnel
    /// ([`InnerReply::Send`]), whose reply will answer it.
    Api(T::Cmd),
    /// A message that reached this node as the exit of a tunnel (local
    /// tunnel service). The sender is not known; `can_reply` says whether
    /// it gave a reply block ([`InnerReply::Reply`]).
    Exit {
        /// The message.
        msg: T::Msg,
        /// Whether a reply can go back.
        can_reply: bool,
        /// Whether an attachment follows ([`InnerCommand::Attached`]): the
        /// reply is then given to [`InnerCommand::AttachedEnd`].
        attached: bool,
    },
    /// The next bytes of the attachment of the message in hand (at most
    /// 64 KiB each).
    Attached(Vec<u8>),
    /// The attachment ended; reply now if the message asked for one.
    AttachedEnd {
        /// Whether a reply can go back.
        can_reply: bool,
    },
    /// The reply to a query this node sent (local tunnel service): answer
    /// the api query that sent it ([`InnerReply::Api`]).
    Replied(T::Msg),
}

/// What the inner service answers.
pub enum InnerReply<T: MyDHTTunnelConf> {
    /// Nothing.
    None,
    /// The answer of the api query in hand (for [`InnerCommand::Api`] and
    /// [`InnerCommand::Replied`]).
    Api(T::Answer),
    /// Send a message through a tunnel (for [`InnerCommand::Api`]); its
    /// reply, if it asks for one, answers the query in hand.
    Send(TunnelSend<T::Msg>),
    /// The reply to the message in hand (for [`InnerCommand::Exit`] with a
    /// reply block).
    Reply(T::Msg),
    /// Several of the above, in order.
    Many(Vec<InnerReply<T>>),
}

/// Who receives a tunnel message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// This peer (it must be known to the node: online now).
    Peer(PeerId),
    /// Any known peer, chosen at random.
    Any,
}

/// Which way a reply comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyRoute {
    /// No reply.
    None,
    /// Through the query's relays, in reverse order.
    SameRoute,
    /// Through `n` relays chosen apart from the query's (as far as the
    /// known peers allow).
    Other(usize),
}

/// How onions travel between hops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carriage {
    /// A frame with the onion's fixed header, then its cells streamed on
    /// the same connection: each relay pumps them from one connection to
    /// the next with a bounded buffer. Any size.
    Streamed,
    /// The whole onion (header and cells) in one frame: one message per
    /// connection and no pump, for messages that fit a frame (with
    /// attachments, streamed anyway).
    Frame,
}

/// Bytes streamed after a message, to the exit's inner service
/// ([`InnerCommand::Attached`]): never held whole on the way.
pub struct Attachment(pub Box<dyn Read + Send>);

impl Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Attachment")
    }
}

/// A message to send through a tunnel.
#[derive(Debug)]
pub struct TunnelSend<M> {
    /// The exit.
    pub to: Destination,
    /// Relays between this node and the exit.
    pub hops: usize,
    /// How the reply comes back.
    pub reply: ReplyRoute,
    /// The message.
    pub msg: M,
    /// Bytes streamed after it.
    pub attachment: Option<Attachment>,
}

/// An api command of a tunnel node: the application's, or the node's own
/// tick (see [`MyDHTTunnelConf::tick`]).
#[derive(Debug)]
pub enum TunnelCmd<C> {
    /// The application's command.
    App(C),
    /// The global tunnel service's tick.
    Tick,
}

impl<C> From<C> for TunnelCmd<C> {
    fn from(c: C) -> Self {
        TunnelCmd::App(c)
    }
}
