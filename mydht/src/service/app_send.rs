//! The sendable forms of the application's commands ([`GlobalCommand`],
//! [`LocalCommand`], [`Reply`]): each peer reference in its
//! [`PeerRefSend`] form, everything else as it is (the configuration's
//! message, command and reply types are `Send`). They are what a channel
//! between threads carries when a peer reference is not `Send` (`RcRef`,
//! with `MpscChannelRef` and `ThreadParkRef`), and what a reply becomes on
//! its way to the main loop; the application writes no conversion.

use mydht_base::{Error, SRef, SToRef};

use super::{GlobalCommand, LocalCommand, PeerStatus, QueryId, Reply};
use crate::command::ConnRef;
use crate::conf::{Address, MyDHTConf, PeerRefSend};
use crate::identity::{PeerId, PeerInfo};
use crate::stream::{LentStream, OutStream};

/// [`GlobalCommand`], sendable.
pub enum GlobalCommandSend<C: MyDHTConf> {
    /// [`GlobalCommand::Api`].
    Api(QueryId, C::GlobalCmd),
    /// [`GlobalCommand::Distant`].
    Distant(PeerRefSend<C>, C::ProtoMsg),
    /// [`GlobalCommand::PeerStatus`].
    PeerStatus(PeerRefSend<C>, PeerStatus),
    /// [`GlobalCommand::DialFailed`].
    DialFailed(Address<C>, Error),
    /// [`GlobalCommand::SendOnceFailed`].
    SendOnceFailed(Address<C>, Error, Option<C::ProtoMsg>),
}

impl<C: MyDHTConf> SRef for GlobalCommand<C> {
    type Send = GlobalCommandSend<C>;
    fn get_sendable(self) -> GlobalCommandSend<C> {
        match self {
            GlobalCommand::Api(qid, cmd) => GlobalCommandSend::Api(qid, cmd),
            GlobalCommand::Distant(p, m) => GlobalCommandSend::Distant(p.get_sendable(), m),
            GlobalCommand::PeerStatus(p, s) => GlobalCommandSend::PeerStatus(p.get_sendable(), s),
            GlobalCommand::DialFailed(a, e) => GlobalCommandSend::DialFailed(a, e),
            GlobalCommand::SendOnceFailed(a, e, m) => GlobalCommandSend::SendOnceFailed(a, e, m),
        }
    }
}

impl<C: MyDHTConf> SToRef<GlobalCommand<C>> for GlobalCommandSend<C> {
    fn to_ref(self) -> GlobalCommand<C> {
        match self {
            GlobalCommandSend::Api(qid, cmd) => GlobalCommand::Api(qid, cmd),
            GlobalCommandSend::Distant(p, m) => GlobalCommand::Distant(p.to_ref(), m),
            GlobalCommandSend::PeerStatus(p, s) => GlobalCommand::PeerStatus(p.to_ref(), s),
            GlobalCommandSend::DialFailed(a, e) => GlobalCommand::DialFailed(a, e),
            GlobalCommandSend::SendOnceFailed(a, e, m) => GlobalCommand::SendOnceFailed(a, e, m),
        }
    }
}

/// [`LocalCommand`], sendable.
pub struct LocalCommandSend<C: MyDHTConf> {
    /// [`LocalCommand::from`], sendable.
    pub from: PeerRefSend<C>,
    /// [`LocalCommand::msg`].
    pub msg: C::ProtoMsg,
    /// [`LocalCommand::conn`].
    pub conn: ConnRef,
    /// [`LocalCommand::stream`].
    pub stream: Option<LentStream<C>>,
}

impl<C: MyDHTConf> SRef for LocalCommand<C> {
    type Send = LocalCommandSend<C>;
    fn get_sendable(self) -> LocalCommandSend<C> {
        LocalCommandSend {
            from: self.from.get_sendable(),
            msg: self.msg,
            conn: self.conn,
            stream: self.stream,
        }
    }
}

impl<C: MyDHTConf> SToRef<LocalCommand<C>> for LocalCommandSend<C> {
    fn to_ref(self) -> LocalCommand<C> {
        LocalCommand {
            from: self.from.to_ref(),
            msg: self.msg,
            conn: self.conn,
            stream: self.stream,
        }
    }
}

/// [`Reply`], sendable.
pub enum ReplySend<C: MyDHTConf> {
    /// [`Reply::None`].
    None,
    /// [`Reply::Api`].
    Api(QueryId, C::ApiReply),
    /// [`Reply::Send`].
    Send(PeerId, C::ProtoMsg),
    /// [`Reply::Broadcast`].
    Broadcast(C::ProtoMsg),
    /// [`Reply::SendOnce`].
    SendOnce(Address<C>, C::ProtoMsg),
    /// [`Reply::SendOnceTo`].
    SendOnceTo(PeerInfo, C::ProtoMsg),
    /// [`Reply::SendStream`].
    SendStream(PeerId, C::ProtoMsg, OutStream),
    /// [`Reply::SendOnceStream`].
    SendOnceStream(Address<C>, C::ProtoMsg, OutStream),
    /// [`Reply::SendOnceStreamTo`].
    SendOnceStreamTo(PeerInfo, C::ProtoMsg, OutStream),
    /// [`Reply::SendOn`].
    SendOn(ConnRef, C::ProtoMsg),
    /// [`Reply::Close`].
    Close(ConnRef),
    /// [`Reply::Connect`].
    Connect(Address<C>),
    /// [`Reply::ConnectTo`].
    ConnectTo(PeerInfo),
    /// [`Reply::FindPeers`].
    FindPeers,
    /// [`Reply::SendTo`].
    SendTo(Vec<PeerId>, C::ProtoMsg),
    /// [`Reply::Global`].
    Global(PeerRefSend<C>, C::ProtoMsg),
    /// [`Reply::Many`].
    Many(Vec<ReplySend<C>>),
}

impl<C: MyDHTConf> SRef for Reply<C> {
    type Send = ReplySend<C>;
    fn get_sendable(self) -> ReplySend<C> {
        match self {
            Reply::None => ReplySend::None,
            Reply::Api(qid, r) => ReplySend::Api(qid, r),
            Reply::Send(to, m) => ReplySend::Send(to, m),
            Reply::Broadcast(m) => ReplySend::Broadcast(m),
            Reply::SendOnce(a, m) => ReplySend::SendOnce(a, m),
            Reply::SendOnceTo(p, m) => ReplySend::SendOnceTo(p, m),
            Reply::SendStream(to, m, s) => ReplySend::SendStream(to, m, s),
            Reply::SendOnceStream(a, m, s) => ReplySend::SendOnceStream(a, m, s),
            Reply::SendOnceStreamTo(p, m, s) => ReplySend::SendOnceStreamTo(p, m, s),
            Reply::SendOn(c, m) => ReplySend::SendOn(c, m),
            Reply::Close(c) => ReplySend::Close(c),
            Reply::Connect(a) => ReplySend::Connect(a),
            Reply::ConnectTo(p) => ReplySend::ConnectTo(p),
            Reply::FindPeers => ReplySend::FindPeers,
            Reply::SendTo(to, m) => ReplySend::SendTo(to, m),
            Reply::Global(p, m) => ReplySend::Global(p.get_sendable(), m),
            Reply::Many(v) => ReplySend::Many(v.into_iter().map(SRef::get_sendable).collect()),
        }
    }
}

impl<C: MyDHTConf> SToRef<Reply<C>> for ReplySend<C> {
    fn to_ref(self) -> Reply<C> {
        match self {
            ReplySend::None => Reply::None,
            ReplySend::Api(qid, r) => Reply::Api(qid, r),
            ReplySend::Send(to, m) => Reply::Send(to, m),
            ReplySend::Broadcast(m) => Reply::Broadcast(m),
            ReplySend::SendOnce(a, m) => Reply::SendOnce(a, m),
            ReplySend::SendOnceTo(p, m) => Reply::SendOnceTo(p, m),
            ReplySend::SendStream(to, m, s) => Reply::SendStream(to, m, s),
            ReplySend::SendOnceStream(a, m, s) => Reply::SendOnceStream(a, m, s),
            ReplySend::SendOnceStreamTo(p, m, s) => Reply::SendOnceStreamTo(p, m, s),
            ReplySend::SendOn(c, m) => Reply::SendOn(c, m),
            ReplySend::Close(c) => Reply::Close(c),
            ReplySend::Connect(a) => Reply::Connect(a),
            ReplySend::ConnectTo(p) => Reply::ConnectTo(p),
            ReplySend::FindPeers => Reply::FindPeers,
            ReplySend::SendTo(to, m) => Reply::SendTo(to, m),
            ReplySend::Global(p, m) => Reply::Global(p.to_ref(), m),
            ReplySend::Many(v) => Reply::Many(v.into_iter().map(SToRef::to_ref).collect()),
        }
    }
}
