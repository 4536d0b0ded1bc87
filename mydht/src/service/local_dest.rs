//! [`LocalDest`]: where a local service's replies go — an api reply
//! straight to its query's slot, a reply to the peer that asked straight to
//! its connection's write service (when the node says so), through the main
//! loop otherwise.

use mydht_base::{
    Result, SpawnChannel, SpawnHandle, SpawnSend, SpawnUnyield, Spawner, TrySendError,
};

use super::api::SharedBook;
use super::{Reply, WriteCommand, WriteService};
use crate::command::MainLoopSender;
use crate::conf::{ChannelRecv, MyDHTConf};
use crate::frame::WireMessage;
use crate::identity::PeerId;
use crate::service::QueryId;

/// The clonable sender of a write service's channel.
pub type WriteWeakSend<C> =
    <<C as MyDHTConf>::WriteChannel as SpawnChannel<WriteCommand<C>>>::WeakSend;

/// The shareable handle of a write service.
pub type WriteWeakHandle<C> = <<<C as MyDHTConf>::WriteSpawn as Spawner<
    WriteService<C>,
    MainLoopSender<C>,
    ChannelRecv<<C as MyDHTConf>::WriteChannel, WriteCommand<C>>,
>>::Handle as SpawnHandle<
    WriteService<C>,
    MainLoopSender<C>,
    ChannelRecv<<C as MyDHTConf>::WriteChannel, WriteCommand<C>>,
>>::WeakHandle;

/// The destination of a local service.
///
/// An api reply ([`Reply::Api`]) goes to its query's slot through the
/// node's [`SharedBook`] when it was given one
/// ([`with_api`](Self::with_api)), saving the trips through the main loop
/// and the api service (a reply to no pending query takes that way, to be
/// dropped there as any such reply). A reply to the connection's own peer
/// goes to the write service directly when the node was given its weak
/// sender and handle (`direct_replies`, a write service on a thread),
/// saving a trip through the main loop; when the write service has ended,
/// or cannot be reached so, it goes through the main loop like every other
/// reply.
pub struct LocalDest<C: MyDHTConf> {
    to_loop: MainLoopSender<C>,
    peer: PeerId,
    write: Option<(WriteWeakSend<C>, WriteWeakHandle<C>)>,
    api: Option<SharedBook<C>>,
}

impl<C: MyDHTConf> LocalDest<C> {
    /// The destination of the local service of the connection with `peer`.
    pub fn new(
        to_loop: MainLoopSender<C>,
        peer: PeerId,
        write: Option<(WriteWeakSend<C>, WriteWeakHandle<C>)>,
    ) -> Self {
        LocalDest {
            to_loop,
            peer,
            write,
            api: None,
        }
    }

    /// The same, giving api replies straight to the node's `book`.
    pub fn with_api(mut self, book: SharedBook<C>) -> Self {
        self.api = Some(book);
        self
    }

    /// Gives an api reply to its query in the book; the reply back when
    /// there is no book or no such pending query.
    fn give_api(&self, qid: QueryId, reply: C::ApiReply) -> Option<C::ApiReply> {
        match &self.api {
            Some(book) => book.give_app(qid, reply).err(),
            None => Some(reply),
        }
    }

    /// Tries the direct way; gives the message back when it is closed.
    fn direct(&mut self, msg: C::ProtoMsg) -> Result<Option<C::ProtoMsg>> {
        let Some((send, handle)) = self.write.as_mut() else {
            return Ok(Some(msg));
        };
        if handle.is_finished() {
            self.write = None;
            return Ok(Some(msg));
        }
        match send.try_send(WriteCommand::Send(WireMessage::App(msg))) {
            Ok(()) => {
                handle.unyield()?;
                Ok(None)
            }
            Err(TrySendError::Full(c)) | Err(TrySendError::Closed(c)) => Ok(match c {
                WriteCommand::Send(WireMessage::App(m)) => Some(m),
                _ => None,
            }),
        }
    }
}

impl<C: MyDHTConf> SpawnSend<Reply<C>> for LocalDest<C> {
    fn send(&mut self, reply: Reply<C>) -> Result<()> {
        match reply {
            Reply::Api(qid, r) => match self.give_api(qid, r) {
                None => Ok(()),
                Some(r) => self.to_loop.send(Reply::Api(qid, r)),
            },
            Reply::Send(to, msg) if to == self.peer => match self.direct(msg)? {
                None => Ok(()),
                Some(msg) => self.to_loop.send(Reply::Send(to, msg)),
            },
            other => self.to_loop.send(other),
        }
    }

    fn try_send(&mut self, reply: Reply<C>) -> std::result::Result<(), TrySendError<Reply<C>>> {
        match reply {
            Reply::Api(qid, r) => match self.give_api(qid, r) {
                None => Ok(()),
                Some(r) => self.to_loop.try_send(Reply::Api(qid, r)),
            },
            Reply::Send(to, msg) if to == self.peer => match self.direct(msg) {
                Ok(None) => Ok(()),
                Ok(Some(msg)) => self.to_loop.try_send(Reply::Send(to, msg)),
                // The write service could not be woken: the main loop will.
                Err(_) => Ok(()),
            },
            other => self.to_loop.try_send(other),
        }
    }
}
