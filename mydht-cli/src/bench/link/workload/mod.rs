//! Two nodes on loopback, authenticated and encrypted, against raw TCP: the
//! workload of `cargo bench -p mydht --bench node` and of `mydht bench
//! link`. The bench includes these files by path (it is built in the
//! workspace only, like the ratio module it shares with the other benches),
//! so both measure the same code; it is written against `mydht`'s public
//! API only.
//!
//! The node side is an echo application ([`EchoGlobal`], [`EchoLocal`]):
//! a 1 KiB request answered by a 1 KiB reply ([`node_requests`], any
//! number in flight), a bulk transfer of 16 MiB in 64 KiB messages
//! acknowledged at the end ([`bulk_once`]), and a connection made,
//! authenticated and answered ([`connect_running`], [`connect_fresh`]).
//! A node configuration of the application is one line of
//! `link_echo_conf!` naming its profile (transport, shadow and cipher
//! suite if not the defaults).
//!
//! The raw side ([`raw`]) does the same over plain sockets: a mio echo
//! server of length-prefixed frames, a blocking bulk receiver at its best.

mod node;
pub mod raw;

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

use mydht::{GlobalCommand, LocalCommand, MyDHTConf, PeerId, QueryId, Reply};
use mydht_base::{Peer, Result, Service, SpawnerYield, Transport};
use serde::{Deserialize, Serialize};

pub use node::*;

/// Bytes of a request and of its reply.
pub const MSG: usize = 1024;
/// Bytes of a bulk message.
pub const CHUNK: usize = 64 * 1024;
/// Bytes of a bulk transfer.
pub const BULK: usize = 16 << 20;

/// What the echo application is asked.
#[derive(Debug)]
pub enum EchoCmd {
    /// Send this request to the peer; the reply's length answers.
    Ask(PeerId, Vec<u8>),
    /// Send this many [`CHUNK`]s to the peer; its acknowledgement answers
    /// (0).
    Bulk(PeerId, usize),
}

/// What travels between the two nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum EchoMsg {
    /// A request.
    Ping(QueryId, Bytes),
    /// Its reply, the same bytes.
    Pong(QueryId, Bytes),
    /// A bulk message; `true` for the last.
    Chunk(QueryId, Shared, bool),
    /// The last bulk message arrived.
    Ack(QueryId),
}

/// A payload serialized as one byte string (serde's default for `Vec<u8>`
/// is a sequence, encoded and decoded byte by byte).
#[derive(Debug, Clone)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> std::result::Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(
                self,
                v: Vec<u8>,
            ) -> std::result::Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// A bulk payload: the sender encodes one buffer for every chunk message,
/// as the raw TCP baseline writes one frame (filling 16 MiB of fresh
/// buffers would measure the allocator and the cache, not the node); the
/// receiver still decodes each message into a buffer of its own.
#[derive(Debug, Clone)]
pub struct Shared(pub Arc<Vec<u8>>);

impl Serialize for Shared {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Shared {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Bytes::deserialize(d).map(|b| Shared(Arc::new(b.0)))
    }
}

/// A node configuration of the echo application, over a transport of
/// socket addresses.
pub trait EchoConf:
    MyDHTConf<
    GlobalCmd = EchoCmd,
    ProtoMsg = EchoMsg,
    ApiReply = usize,
    Transport: Transport<Address = SocketAddr>,
>
{
}
impl<C> EchoConf for C where
    C: MyDHTConf<
        GlobalCmd = EchoCmd,
        ProtoMsg = EchoMsg,
        ApiReply = usize,
        Transport: Transport<Address = SocketAddr>,
    >
{
}

/// The echo application's global service: sends requests and bulk
/// messages.
pub struct EchoGlobal<C>(PhantomData<fn() -> C>);
/// The echo application's local service: answers requests, acknowledges
/// the last bulk message, gives replies to the api.
pub struct EchoLocal<C>(PhantomData<fn() -> C>);

impl<C> Default for EchoGlobal<C> {
    fn default() -> Self {
        EchoGlobal(PhantomData)
    }
}

impl<C> Default for EchoLocal<C> {
    fn default() -> Self {
        EchoLocal(PhantomData)
    }
}

impl<C: EchoConf> Service for EchoGlobal<C> {
    type CommandIn = GlobalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(match cmd {
            GlobalCommand::Api(qid, EchoCmd::Ask(to, payload)) => {
                Reply::Send(to, EchoMsg::Ping(qid, Bytes(payload)))
            }
            GlobalCommand::Api(qid, EchoCmd::Bulk(to, n)) => {
                let payload = Arc::new(vec![7; CHUNK]);
                Reply::Many(
                    (0..n)
                        .map(|i| {
                            let chunk = Shared(Arc::clone(&payload));
                            Reply::Send(to, EchoMsg::Chunk(qid, chunk, i + 1 == n))
                        })
                        .collect(),
                )
            }
            _ => Reply::None,
        })
    }
}

impl<C: EchoConf> Service for EchoLocal<C> {
    type CommandIn = LocalCommand<C>;
    type CommandOut = Reply<C>;
    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        let from = *cmd.from.get_id();
        Ok(match cmd.msg {
            EchoMsg::Ping(qid, p) => Reply::Send(from, EchoMsg::Pong(qid, p)),
            EchoMsg::Pong(qid, p) => Reply::Api(qid, p.0.len()),
            EchoMsg::Chunk(qid, _, true) => Reply::Send(from, EchoMsg::Ack(qid)),
            EchoMsg::Chunk(..) => Reply::None,
            EchoMsg::Ack(qid) => Reply::Api(qid, 0),
        })
    }
}

/// 127.0.0.1, any free port.
pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A node configuration `$name` of the echo application under profile
/// `$profile` (a profile macro's name: `threaded`, `restartable`...); by
/// default over `TcpTransport` on [`loopback`], `SessionShadow` in
/// ChaCha20-Poly1305, `direct_replies` on as by default. The caller's scope
/// names `EchoCmd`, `EchoMsg`, `EchoGlobal`, `EchoLocal` and `loopback`
/// (`use ...::workload::*`).
///
/// ```ignore
/// link_echo_conf!(Threaded, threaded);
/// link_echo_conf!(RestartAes, restartable, SessionShadow, false, Aes256Gcm);
/// ```
macro_rules! link_echo_conf {
    ($name:ident, $profile:ident) => {
        link_echo_conf!($name, $profile, SessionShadow, true);
    };
    ($name:ident, $profile:ident, $shadow:ident, $direct:expr) => {
        link_echo_conf!($name, $profile, $shadow, $direct, ChaCha20Poly1305);
    };
    ($name:ident, $profile:ident, $shadow:ident, $direct:expr, $suite:ident) => {
        link_echo_conf!(
            $name,
            $profile,
            $shadow,
            $direct,
            $suite,
            mydht::tcp::TcpTransport,
            mydht::tcp::TcpTransport::bind(loopback())
        );
    };
    ($name:ident, $profile:ident, $shadow:ident, $direct:expr, $suite:ident,
        $transport:ty, $bind:expr) => {
        /// A node of the link workload's echo application.
        pub struct $name;
        impl mydht::MyDHTConf for $name {
            type Transport = $transport;
            type MsgEnc = mydht::Bincode;
            type Shadow = mydht::$shadow;
            type ProtoMsg = EchoMsg;
            type GlobalCmd = EchoCmd;
            type ApiReply = usize;
            type GlobalService = EchoGlobal<Self>;
            type LocalService = EchoLocal<Self>;
            mydht::$profile!();
            fn init_transport(&mut self) -> mydht_base::Result<$transport> {
                $bind
            }
            fn init_msg_enc(&mut self) -> mydht::Bincode {
                mydht::Bincode
            }
            fn constants(&self) -> mydht::NodeConstants {
                mydht::NodeConstants {
                    direct_replies: $direct,
                    cipher_suite: mydht::CipherSuite::$suite,
                    ..Default::default()
                }
            }
            fn init_shadow(&mut self) -> mydht::$shadow {
                mydht::$shadow::default()
            }
            fn init_global(
                &mut self,
                _: &mydht::PeerInfo,
                _: &mydht::service::PeersView,
            ) -> mydht_base::Result<Self::GlobalService> {
                Ok(Default::default())
            }
            fn init_local(
                &mut self,
                _: &mydht::PeerInfo,
                _: &mydht::PeerInfo,
                _: &mydht::service::PeersView,
            ) -> mydht_base::Result<Self::LocalService> {
                Ok(Default::default())
            }
        }
    };
}
pub(crate) use link_echo_conf;
