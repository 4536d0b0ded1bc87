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
///
/// A local service that runs inline in its read service's thread (the
/// [`threaded!`](crate::threaded) profile) has its direct replies held
/// ([`hold`](Self::hold)) until the read service is about to read its
/// stream again ([`release`](Self::release)): the replies to what one read
/// brought go to the write service as one batch, written with one flush.
pub struct LocalDest<C: MyDHTConf> {
    to_loop: MainLoopSender<C>,
    peer: PeerId,
    write: Option<(WriteWeakSend<C>, WriteWeakHandle<C>)>,
    api: Option<SharedBook<C>>,
    /// Direct replies are held for [`release`](Self::release).
    holding: bool,
    held: Vec<C::ProtoMsg>,
}

/// Direct replies held at most before they are released anyway.
const HELD_MAX: usize = 64;

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
            holding: false,
            held: Vec::new(),
        }
    }

    /// From now on, direct replies are held until [`release`](Self::release)
    /// (or until 64 are held): for an owner that calls `release`
    /// before it waits for anything, so that no reply waits with it.
    pub fn hold(&mut self) {
        self.holding = true;
    }

    /// True when direct replies are held.
    pub fn holds(&self) -> bool {
        !self.held.is_empty()
    }

    /// Sends the held direct replies to the write service as one command;
    /// through the main loop when the write service cannot take them.
    pub fn release(&mut self) -> Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        let mut msgs: Vec<WireMessage<C::ProtoMsg>> =
            self.held.drain(..).map(WireMessage::App).collect();
        if self.write.as_mut().is_some_and(|(_, h)| h.is_finished()) {
            self.write = None;
        }
        let back = match self.write.as_mut() {
            Some((send, handle)) => {
                let cmd = if msgs.len() == 1 {
                    WriteCommand::Send(msgs.remove(0))
                } else {
                    WriteCommand::Batch(msgs)
                };
                match send.try_send(cmd) {
                    Ok(()) => return handle.unyield(),
                    Err(TrySendError::Full(c)) | Err(TrySendError::Closed(c)) => match c {
                        WriteCommand::Send(m) => vec![m],
                        WriteCommand::Batch(ms) => ms,
                        _ => Vec::new(),
                    },
                }
            }
            None => msgs,
        };
        for msg in back {
            if let WireMessage::App(m) = msg {
                self.to_loop.send(Reply::Send(self.peer, m))?;
            }
        }
        Ok(())
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
            // What is held goes first, through the loop too.
            self.release()?;
            self.write = None;
            return Ok(Some(msg));
        }
        if self.holding {
            self.held.push(msg);
            if self.held.len() >= HELD_MAX {
                self.release()?;
            }
            return Ok(None);
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

impl<C: MyDHTConf> Drop for LocalDest<C> {
    /// Held replies go out (best effort: the node may be stopping).
    fn drop(&mut self) {
        let _ = self.release();
    }
}
