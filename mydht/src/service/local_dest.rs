//! [`LocalDest`]: where a local service's replies go — straight to its
//! connection's write service when it answers the peer that asked, through
//! the main loop otherwise.

use mydht_base::{
    Result, SpawnChannel, SpawnHandle, SpawnSend, SpawnUnyield, Spawner, TrySendError,
};

use super::{Reply, WriteCommand, WriteService};
use crate::command::MainLoopSender;
use crate::conf::{ChannelRecv, MyDHTConf};
use crate::frame::WireMessage;
use crate::identity::PeerId;

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

/// The destination of a local service. A reply to the connection's own
/// peer goes to the write service directly when its spawner and channel
/// can be shared (a thread), saving a trip through the main loop; when the
/// write service has ended, or cannot be reached so, it goes through the
/// main loop like every other reply.
pub struct LocalDest<C: MyDHTConf> {
    to_loop: MainLoopSender<C>,
    peer: PeerId,
    write: Option<(WriteWeakSend<C>, WriteWeakHandle<C>)>,
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
            Reply::Send(to, msg) if to == self.peer => match self.direct(msg)? {
                None => Ok(()),
                Some(msg) => self.to_loop.send(Reply::Send(to, msg)),
            },
            other => self.to_loop.send(other),
        }
    }

    fn try_send(&mut self, reply: Reply<C>) -> std::result::Result<(), TrySendError<Reply<C>>> {
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
