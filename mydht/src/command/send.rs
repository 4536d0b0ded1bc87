//! [`MainLoopCommandSend`]: a [`MainLoopCommand`] as it crosses to the main
//! loop's thread, its peer references in their sendable form.

use std::time::Duration;

use mydht_base::{Error, SRef, SToRef};

use super::{ApiAction, ApiResult, ConnRef, DialId, MainLoopCommand, Opened};
use crate::conf::{MyDHTConf, PeerRefSend, PeerVerdict};
use crate::frame::WireMessage;
use crate::service::peer_store::PeerStoreReply;
use crate::service::{QueryId, ReplySend, ReplySlot};

/// [`MainLoopCommand`], sendable: what the main loop's channel carries.
/// Only [`Reply`](MainLoopCommand::Reply) and
/// [`Wire`](MainLoopCommand::Wire) hold peer references; the other
/// variants are the same.
pub enum MainLoopCommandSend<C: MyDHTConf> {
    /// [`MainLoopCommand::Api`].
    Api {
        /// The query's id.
        qid: QueryId,
        /// Where its replies go.
        slot: ReplySlot<ApiResult<C>>,
        /// How long it may wait.
        timeout: Duration,
        /// What it asks.
        action: ApiAction<C>,
    },
    /// [`MainLoopCommand::Reply`].
    Reply(ReplySend<C>),
    /// [`MainLoopCommand::ConnectionEnded`].
    ConnectionEnded {
        /// Which connection.
        conn: ConnRef,
        /// Why, when it failed.
        error: Option<Error>,
    },
    /// [`MainLoopCommand::Wire`].
    Wire(PeerRefSend<C>, WireMessage<C::ProtoMsg>),
    /// [`MainLoopCommand::Admitted`].
    Admitted(ConnRef),
    /// [`MainLoopCommand::Refused`].
    Refused(ConnRef),
    /// [`MainLoopCommand::SendOnce`].
    SendOnce(ConnRef),
    /// [`MainLoopCommand::PeerStore`].
    PeerStore(Vec<PeerStoreReply>),
    /// [`MainLoopCommand::Verdict`].
    Verdict {
        /// The connection.
        conn: ConnRef,
        /// What to do with it.
        verdict: PeerVerdict,
    },
    /// [`MainLoopCommand::Opened`].
    Opened(Box<Opened<C>>),
    /// [`MainLoopCommand::ConnectFailed`].
    ConnectFailed {
        /// The dial it carried out.
        dial: DialId,
        /// Why.
        error: Error,
    },
    /// [`MainLoopCommand::StreamReturned`].
    StreamReturned(ConnRef),
    /// [`MainLoopCommand::Stop`].
    Stop,
}

impl<C: MyDHTConf> SRef for MainLoopCommand<C> {
    type Send = MainLoopCommandSend<C>;
    fn get_sendable(self) -> MainLoopCommandSend<C> {
        use MainLoopCommand as M;
        use MainLoopCommandSend as S;
        match self {
            M::Api {
                qid,
                slot,
                timeout,
                action,
            } => S::Api {
                qid,
                slot,
                timeout,
                action,
            },
            M::Reply(r) => S::Reply(r.get_sendable()),
            M::ConnectionEnded { conn, error } => S::ConnectionEnded { conn, error },
            M::Wire(p, m) => S::Wire(p.get_sendable(), m),
            M::Admitted(c) => S::Admitted(c),
            M::Refused(c) => S::Refused(c),
            M::SendOnce(c) => S::SendOnce(c),
            M::PeerStore(r) => S::PeerStore(r),
            M::Verdict { conn, verdict } => S::Verdict { conn, verdict },
            M::Opened(o) => S::Opened(o),
            M::ConnectFailed { dial, error } => S::ConnectFailed { dial, error },
            M::StreamReturned(c) => S::StreamReturned(c),
            M::Stop => S::Stop,
        }
    }
}

impl<C: MyDHTConf> SToRef<MainLoopCommand<C>> for MainLoopCommandSend<C> {
    fn to_ref(self) -> MainLoopCommand<C> {
        use MainLoopCommand as M;
        use MainLoopCommandSend as S;
        match self {
            S::Api {
                qid,
                slot,
                timeout,
                action,
            } => M::Api {
                qid,
                slot,
                timeout,
                action,
            },
            S::Reply(r) => M::Reply(r.to_ref()),
            S::ConnectionEnded { conn, error } => M::ConnectionEnded { conn, error },
            S::Wire(p, m) => M::Wire(p.to_ref(), m),
            S::Admitted(c) => M::Admitted(c),
            S::Refused(c) => M::Refused(c),
            S::SendOnce(c) => M::SendOnce(c),
            S::PeerStore(r) => M::PeerStore(r),
            S::Verdict { conn, verdict } => M::Verdict { conn, verdict },
            S::Opened(o) => M::Opened(o),
            S::ConnectFailed { dial, error } => M::ConnectFailed { dial, error },
            S::StreamReturned(c) => M::StreamReturned(c),
            S::Stop => M::Stop,
        }
    }
}
