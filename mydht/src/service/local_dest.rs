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
/// or cannot be reached so (its channel full), it goes through the main
/// loop like every other reply, and so do the connection's later replies,
/// which keeps them in order.
///
/// A local service that runs inline in its read service's thread (the
/// [`threaded!`](crate::threaded) profile) has its replies held
/// ([`hold`](Self::hold)) until the read service is about to read its
/// stream again ([`release`](Self::release)): the replies to what one read
/// brought go out together, its direct replies to the write service as
/// one batch (written with one flush), the others to the main loop one
/// after the other (which it takes in one turn, routing those to one peer
/// as one batch).
pub struct LocalDest<C: MyDHTConf> {
    to_loop: MainLoopSender<C>,
    peer: PeerId,
    write: Option<(WriteWeakSend<C>, WriteWeakHandle<C>)>,
    api: Option<SharedBook<C>>,
    /// Replies are held for [`release`](Self::release).
    holding: bool,
    held: Vec<Reply<C>>,
}

/// Replies held at most before they are released anyway. A smaller batch
/// goes out sooner, so the peer works on the first replies while the rest
/// are made: with 64 requests in flight under `threaded!`, 32 (and the
/// global service's 32) ran 1.135× the raw echo against 0.915× with 64
/// (the crate's BENCHMARKS.md, session 30).
pub(crate) const HELD_MAX: usize = 32;

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

    /// From now on, replies are held until [`release`](Self::release) (or
    /// until `HELD_MAX` (32) are held): for an owner that calls `release`
    /// before it waits for anything, so that no reply waits with it. An api reply
    /// given to its query's slot is never held.
    pub fn hold(&mut self) {
        self.holding = true;
    }

    /// True when replies are held.
    pub fn holds(&self) -> bool {
        !self.held.is_empty()
    }

    /// Sends the held replies, in order: those to the connection's peer to
    /// the write service as one command when it can be reached so (through
    /// the main loop when it cannot take them), the others to the main loop.
    pub fn release(&mut self) -> Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        if self.write.as_mut().is_some_and(|(_, h)| h.is_finished()) {
            self.write = None;
        }
        let mut batch = Vec::new();
        for reply in std::mem::take(&mut self.held) {
            match reply {
                Reply::Send(to, msg) if to == self.peer && self.write.is_some() => {
                    batch.push(WireMessage::App(msg))
                }
                other => self.to_loop.send(other)?,
            }
        }
        self.send_batch(batch)
    }

    /// Gives `msgs` to the write service as one command, or to the main
    /// loop when it cannot take them.
    fn send_batch(&mut self, mut msgs: Vec<WireMessage<C::ProtoMsg>>) -> Result<()> {
        let back = match self.write.as_mut() {
            _ if msgs.is_empty() => return Ok(()),
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
        // These take the loop's way: so do the later ones, which must not
        // overtake them.
        self.write = None;
        for msg in back {
            if let WireMessage::App(m) = msg {
                self.to_loop.send(Reply::Send(self.peer, m))?;
            }
        }
        Ok(())
    }

    /// Holds `reply` when holding (releasing once `HELD_MAX` (32) are
    /// held); gives it back otherwise.
    fn held(&mut self, reply: Reply<C>) -> Result<Option<Reply<C>>> {
        if !self.holding {
            return Ok(Some(reply));
        }
        self.held.push(reply);
        if self.held.len() >= HELD_MAX {
            self.release()?;
        }
        Ok(None)
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
        match send.try_send(WriteCommand::Send(WireMessage::App(msg))) {
            Ok(()) => {
                handle.unyield()?;
                Ok(None)
            }
            Err(TrySendError::Full(c)) | Err(TrySendError::Closed(c)) => {
                // This one takes the loop's way: so do the later ones,
                // which must not overtake it.
                self.write = None;
                Ok(match c {
                    WriteCommand::Send(WireMessage::App(m)) => Some(m),
                    _ => None,
                })
            }
        }
    }
}

impl<C: MyDHTConf> SpawnSend<Reply<C>> for LocalDest<C> {
    fn send(&mut self, reply: Reply<C>) -> Result<()> {
        let reply = match reply {
            Reply::Api(qid, r) => match self.give_api(qid, r) {
                None => return Ok(()),
                Some(r) => Reply::Api(qid, r),
            },
            other => other,
        };
        let Some(reply) = self.held(reply)? else {
            return Ok(());
        };
        match reply {
            Reply::Send(to, msg) if to == self.peer => match self.direct(msg)? {
                None => Ok(()),
                Some(msg) => self.to_loop.send(Reply::Send(to, msg)),
            },
            other => self.to_loop.send(other),
        }
    }

    fn try_send(&mut self, reply: Reply<C>) -> std::result::Result<(), TrySendError<Reply<C>>> {
        let reply = match reply {
            Reply::Api(qid, r) => match self.give_api(qid, r) {
                None => return Ok(()),
                Some(r) => Reply::Api(qid, r),
            },
            other => other,
        };
        let reply = match self.held(reply) {
            Ok(Some(reply)) => reply,
            // Held; or released and the main loop is gone (the node stops).
            Ok(None) | Err(_) => return Ok(()),
        };
        match reply {
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
