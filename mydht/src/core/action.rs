//! [`Action`]: what the node core asks its driver to carry out.

use mydht_base::Error;

use crate::auth::SessionKeys;
use crate::command::{ConnRef, DialId};
use crate::conf::{Address, MyDHTConf};
use crate::frame::WireMessage;
use crate::service::peer_store::PeerStoreCommand;
use crate::service::{ApiCommand, GlobalCommand, PeerMgmtCommand};

/// A service of the node that the core addresses as a whole (the
/// per-connection services are named by their connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// The application's global service.
    Global,
    /// Peer management.
    PeerMgmt,
    /// The peer store.
    PeerStore,
    /// The api service.
    Api,
}

/// One thing for the driver to do. The driver carries actions out in the
/// order [`NodeCore::poll_action`](super::NodeCore::poll_action) gives
/// them and decides nothing: what it learns doing them (a dial that
/// failed, a write service that refused a message) goes back to the core
/// as an event.
pub enum Action<C: MyDHTConf> {
    /// Open a connection to `address`; answer with
    /// [`NodeCore::dialled`](super::NodeCore::dialled) or
    /// [`NodeCore::dial_failed`](super::NodeCore::dial_failed).
    Dial {
        /// Names the dial in the answer.
        dial: DialId,
        /// Where to.
        address: Address<C>,
    },
    /// Write this handshake frame (its body; the driver frames it) on the
    /// connection.
    SendFrame {
        /// The connection's key.
        conn: usize,
        /// The encoded handshake message.
        frame: Vec<u8>,
    },
    /// The session keys are known while the peer checks this side's last
    /// message: build the connection's shadows now, off the critical path.
    PrepareShadows {
        /// The connection's key.
        conn: usize,
        /// Its session keys.
        keys: Box<SessionKeys>,
    },
    /// The peer is admitted: start the connection's read and write
    /// services over its session shadow, then send `pending`.
    Open {
        /// The connection.
        conn: ConnRef,
        /// The peer, as its services hold it.
        peer: C::PeerRef,
        /// The session keys of the shadow (unless prepared already).
        keys: Box<SessionKeys>,
        /// Messages that waited for the connection.
        pending: Vec<WireMessage<C::ProtoMsg>>,
    },
    /// Give these messages to the connection's write service, one batch.
    Write {
        /// The connection's key.
        conn: usize,
        /// The messages, in order.
        msgs: Vec<WireMessage<C::ProtoMsg>>,
    },
    /// Give the connection's write service a `Finish`: once what it was
    /// given is written, it ends the session and reports the connection
    /// ended (a send-once connection's close).
    Finish {
        /// The connection's key.
        conn: usize,
    },
    /// Peer management refused the peer of this connection, whose services
    /// never started: write it a sealed `WireMessage::Refused` (best effort,
    /// never waiting) with these session keys; the `Close` follows.
    Refuse {
        /// The connection's key.
        conn: usize,
        /// Its session keys.
        keys: Box<SessionKeys>,
    },
    /// Close the connection: stop its services, drop its streams. The core
    /// has forgotten it.
    Close {
        /// The connection's key.
        conn: usize,
        /// Why, when it failed (for the logs).
        error: Option<Error>,
    },
    /// A command for the api service.
    Api(ApiCommand<C>),
    /// A command for the global service.
    Global(GlobalCommand<C>),
    /// A command for the peer store.
    PeerStore(Box<PeerStoreCommand>),
    /// A command for peer management.
    PeerMgmt(PeerMgmtCommand<C::PeerRef>),
    /// Check whether the global service's loop ended (to see a failure
    /// now, not at its next command).
    CheckGlobal,
    /// Make the service anew from the configuration (its state was lost).
    Restart(ServiceKind),
    /// The node stops: close everything and end.
    Stop,
}

impl<C: MyDHTConf> std::fmt::Debug for Action<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Dial { dial, address } => write!(f, "Dial({dial:?}, {address:?})"),
            Action::SendFrame { conn, frame } => write!(f, "SendFrame({conn}, {})", frame.len()),
            Action::PrepareShadows { conn, .. } => write!(f, "PrepareShadows({conn})"),
            Action::Open { conn, pending, .. } => {
                write!(f, "Open({}, {} pending)", conn.key, pending.len())
            }
            Action::Write { conn, msgs } => write!(f, "Write({conn}, {})", msgs.len()),
            Action::Finish { conn } => write!(f, "Finish({conn})"),
            Action::Refuse { conn, .. } => write!(f, "Refuse({conn})"),
            Action::Close { conn, error } => write!(f, "Close({conn}, {})", error.is_some()),
            Action::Api(c) => write!(f, "Api({})", api_name(c)),
            Action::Global(_) => f.write_str("Global"),
            Action::PeerStore(_) => f.write_str("PeerStore"),
            Action::PeerMgmt(_) => f.write_str("PeerMgmt"),
            Action::CheckGlobal => f.write_str("CheckGlobal"),
            Action::Restart(s) => write!(f, "Restart({s:?})"),
            Action::Stop => f.write_str("Stop"),
        }
    }
}

fn api_name<C: MyDHTConf>(c: &ApiCommand<C>) -> &'static str {
    match c {
        ApiCommand::Register { .. } => "Register",
        ApiCommand::Reply(..) => "Reply",
        ApiCommand::Fail(..) => "Fail",
        ApiCommand::Expire(_) => "Expire",
    }
}
