//! A connection in the main loop's slab: authenticating (driven by the main
//! loop itself, a few small frames) or open (its read and write services
//! run).

use std::collections::VecDeque;
use std::time::Instant;

use mydht_base::{
    ConnectCheck, ConnectStatus, Error, ErrorKind, ErrorLevel, NoChannel, Result, Transport,
};

use crate::auth::{AuthMessage, Authenticated, ChallengeCache, Handshake, SessionKeys, Step};
use crate::conf::MyDHTConf;
use crate::frame::{FrameReader, FrameWriter};
use crate::mainloop::MainLoopSender;
use crate::service::{
    QueryId, ReadService, ServiceSlot, TimeoutAsBlock, WireMessage, WriteService,
};
use crate::shadow::Shadow;

/// The read service of a connection, as a slot.
pub(crate) type ReadSlot<C> =
    ServiceSlot<ReadService<C>, MainLoopSender<C>, <C as MyDHTConf>::ReadSpawn, NoChannel>;
/// The write service of a connection, as a slot.
pub(crate) type WriteSlot<C> = ServiceSlot<
    WriteService<C>,
    MainLoopSender<C>,
    <C as MyDHTConf>::WriteSpawn,
    <C as MyDHTConf>::WriteChannel,
>;

type ReadStream<C> = <<C as MyDHTConf>::Transport as Transport>::ReadStream;
type WriteStream<C> = <<C as MyDHTConf>::Transport as Transport>::WriteStream;

/// The largest handshake frame accepted: the three messages are well under
/// it in any encoder, and a peer that has not authenticated cannot make the
/// node buffer more.
pub(crate) const AUTH_MAX_FRAME: usize = 8 * 1024;

/// A connection's session shadows, built ahead of its services.
pub(crate) struct Shadows<C: MyDHTConf> {
    pub(crate) reader: <C::Shadow as Shadow>::Reader,
    pub(crate) writer: <C::Shadow as Shadow>::Writer,
}

impl<C: MyDHTConf> Shadows<C> {
    pub(crate) fn new(shadow: &C::Shadow, keys: &SessionKeys) -> Result<Self> {
        Ok(Shadows {
            reader: shadow.reader(keys)?,
            writer: shadow.writer(keys)?,
        })
    }
}

/// A connection whose handshake runs: the main loop reads and writes its
/// plain handshake frames itself.
pub(crate) struct Handshaking<C: MyDHTConf> {
    pub(crate) handshake: Handshake,
    pub(crate) read: ReadStream<C>,
    pub(crate) write: WriteStream<C>,
    pub(crate) reader: FrameReader,
    pub(crate) writer: FrameWriter,
    /// An outbound connect not yet established.
    pub(crate) connecting: bool,
}

impl<C: MyDHTConf> Handshaking<C> {
    /// Makes progress on readiness: connect check, pending bytes, then every
    /// handshake frame that arrived. `Some` once the peer is authenticated
    /// (what is left to write is in `writer`). `keys_known` gets the
    /// session keys as soon as they are derived, while the peer checks this
    /// side's last message, to prepare what uses them.
    pub(crate) fn drive(
        &mut self,
        enc: &C::MsgEnc,
        challenges: &mut ChallengeCache,
        now: Instant,
        mut keys_known: impl FnMut(&SessionKeys) -> Result<()>,
    ) -> Result<Option<Authenticated>> {
        if self.connecting {
            match self.write.check_connect()? {
                ConnectStatus::Pending => return Ok(None),
                ConnectStatus::Established => self.connecting = false,
            }
        }
        self.flush()?;
        loop {
            let msg = match self
                .reader
                .read_msg::<AuthMessage, _, _>(enc, &mut TimeoutAsBlock(&mut self.read))
            {
                Ok(Some(m)) => m,
                Ok(None) => {
                    return Err(Error::new(
                        ErrorKind::Io(std::io::ErrorKind::UnexpectedEof),
                        ErrorLevel::ShutDown,
                        "connection closed during authentication",
                    ))
                }
                Err(e) if e.is_would_block() => return Ok(None),
                Err(e) => return Err(e),
            };
            // Each message goes out before the session keys are derived:
            // the peer checks it meanwhile.
            let step = match msg {
                AuthMessage::Pong(pong) => {
                    // Signed and sent before the responder's signature is
                    // checked: both sides check at once (see `auth`).
                    let (fin, answered) = self.handshake.answer_pong(&pong, now)?;
                    if let Some(fin) = fin {
                        self.send(enc, &AuthMessage::PongFinal(fin))?;
                    }
                    let auth = answered.finish()?;
                    keys_known(&auth.keys)?;
                    return Ok(Some(auth));
                }
                msg => self.handshake.handle(&msg, challenges, now)?,
            };
            match step {
                Step::Send(reply) => {
                    self.send(enc, &reply)?;
                    if let Some(keys) = self.handshake.derive_keys()? {
                        keys_known(keys)?;
                    }
                }
                Step::SendAndFinish(reply, auth) => {
                    self.send(enc, &reply)?;
                    return Ok(Some(auth));
                }
                Step::Finish(auth) => return Ok(Some(auth)),
            }
        }
    }

    fn send(&mut self, enc: &C::MsgEnc, msg: &AuthMessage) -> Result<()> {
        self.writer.push_msg(enc, msg)?;
        self.flush()
    }

    fn flush(&mut self) -> Result<()> {
        match self.writer.write_to(&mut TimeoutAsBlock(&mut self.write)) {
            Err(e) if !e.is_would_block() => Err(e),
            _ => Ok(()),
        }
    }
}

/// A connection whose services run.
pub(crate) struct Open<C: MyDHTConf> {
    pub(crate) peer: C::PeerRef,
    pub(crate) read: ReadSlot<C>,
    pub(crate) write: WriteSlot<C>,
    /// Messages routed to the peer during this loop turn: one batch, one
    /// flush.
    pub(crate) outbox: Vec<WireMessage<C::ProtoMsg>>,
}

/// An authenticated connection waiting for peer management's verdict; its
/// services start once accepted.
pub(crate) struct Awaiting<C: MyDHTConf> {
    pub(crate) hs: Box<Handshaking<C>>,
    pub(crate) auth: Authenticated,
    /// The authenticated peer as the services will hold it, made once.
    pub(crate) peer: C::PeerRef,
}

/// Where a connection stands.
pub(crate) enum ConnState<C: MyDHTConf> {
    Handshaking(Box<Handshaking<C>>),
    Awaiting(Box<Awaiting<C>>),
    Open(Box<Open<C>>),
    /// Between the two, while the services are built.
    Switching,
}

/// One connection of the slab.
pub(crate) struct Connection<C: MyDHTConf> {
    pub(crate) id: u64,
    pub(crate) state: ConnState<C>,
    /// Messages for the peer, kept until the connection is authenticated.
    pub(crate) pending: VecDeque<WireMessage<C::ProtoMsg>>,
    /// Api connect queries waiting for the authentication.
    pub(crate) waiters: Vec<QueryId>,
    /// True when this node dialled it: the tie-break between two
    /// connections to one peer needs who dialled each.
    pub(crate) dialled: bool,
    /// When an unauthenticated connection, or one awaiting its verdict, is
    /// dropped.
    pub(crate) deadline: Instant,
    /// The session shadows, built while the peer checks this side's last
    /// handshake message: their buffers' first touch (page faults) is then
    /// off the connection's critical path.
    pub(crate) shadows: Option<Shadows<C>>,
}

impl<C: MyDHTConf> Connection<C> {
    /// True while it holds session shadows built before its services.
    pub(crate) fn has_early_shadows(&self) -> bool {
        self.shadows.is_some()
    }

    /// True while its `deadline` applies: authenticating or awaiting its
    /// verdict.
    pub(crate) fn has_deadline(&self) -> bool {
        matches!(
            self.state,
            ConnState::Handshaking(_) | ConnState::Awaiting(_)
        )
    }

    /// Stops the services of an open connection (joins their threads); the
    /// streams are dropped, which closes the socket.
    pub(crate) fn close(self) -> Result<()> {
        match self.state {
            ConnState::Handshaking(_) | ConnState::Awaiting(_) | ConnState::Switching => Ok(()),
            ConnState::Open(open) => {
                let Open { read, write, .. } = *open;
                let r = read.stop();
                let w = write.stop();
                r.and(w)
            }
        }
    }
}
