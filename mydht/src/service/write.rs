//! The write service: one per authenticated connection.

use mydht_base::{Error, Result, Service, ServiceRestartable, SpawnerYield, Transport, WriteYield};
use readwrite_comp::CompW;
use serde::{Deserialize, Serialize};

use crate::conf::MyDHTConf;
use crate::frame::FrameWriter;
use crate::identity::PeerInfo;
use crate::mainloop::{ConnRef, MainLoopCommand};
use crate::service::peer_store::PeerStoreProtoMsg;
use crate::service::{ServiceCtx, TimeoutAsBlock};
use crate::shadow::Shadow;

/// What goes in a frame once a connection is authenticated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WireMessage<M> {
    /// An application message, for the receiver's local service.
    App(M),
    /// A message between peer stores.
    PeerStore(Box<PeerStoreProtoMsg>),
    /// Discovery: send me up to this many of your connected peers.
    Discover(u8),
    /// Discovery: some of my connected peers.
    Peers(Vec<PeerInfo>),
}

/// A command for a write service.
pub enum WriteCommand<C: MyDHTConf> {
    /// Encode and send this message.
    Send(WireMessage<C::ProtoMsg>),
    /// Write what is pending (the handshake's last bytes).
    Flush,
}

type Stream<C> = CompW<
    TimeoutAsBlock<<<C as MyDHTConf>::Transport as Transport>::WriteStream>,
    <<C as MyDHTConf>::Shadow as Shadow>::Writer,
>;

/// Encodes messages into frames and writes them through the connection's
/// shadow. It answers only when the connection failed (then the main loop
/// drops the connection and the service drops later commands).
pub struct WriteService<C: MyDHTConf> {
    conn: ConnRef,
    stream: Stream<C>,
    /// Handshake bytes not yet written when the connection was handed over:
    /// they go first, in clear.
    preamble: FrameWriter,
    frames: FrameWriter,
    enc: C::MsgEnc,
    in_call: bool,
    failed: bool,
    logger: slog::Logger,
}

impl<C: MyDHTConf> WriteService<C> {
    /// The write service of connection `conn`; `preamble` holds what the
    /// handshake left to write.
    pub fn new(
        conn: ConnRef,
        stream: Stream<C>,
        preamble: FrameWriter,
        ctx: ServiceCtx<C>,
    ) -> Self {
        WriteService {
            conn,
            stream,
            preamble,
            frames: FrameWriter::new(ctx.max_frame),
            enc: ctx.enc,
            in_call: false,
            failed: false,
            logger: ctx.logger,
        }
    }

    fn flush<Y: SpawnerYield>(&mut self, yld: &mut Y) -> Result<Option<MainLoopCommand<C>>> {
        self.in_call = true;
        let res = if self.preamble.pending() > 0 {
            let mut raw = WriteYield::new(self.stream.get_mut(), yld);
            self.preamble.write_to(&mut raw)
        } else {
            Ok(())
        };
        let res = res.and_then(|()| {
            let mut stream = WriteYield::new(&mut self.stream, yld);
            self.frames.write_to(&mut stream)
        });
        match res {
            Ok(()) => {
                self.in_call = false;
                Ok(None)
            }
            Err(e) if e.is_would_block() => Err(Error::yielded()),
            Err(e) => {
                self.in_call = false;
                self.failed = true;
                slog::debug!(self.logger, "write service failed"; "conn" => self.conn.id, "error" => %e);
                Ok(Some(MainLoopCommand::ConnectionEnded {
                    conn: self.conn,
                    error: Some(e),
                }))
            }
        }
    }
}

impl<C: MyDHTConf> Service for WriteService<C> {
    type CommandIn = WriteCommand<C>;
    type CommandOut = Option<MainLoopCommand<C>>;

    fn call<Y: SpawnerYield>(
        &mut self,
        cmd: WriteCommand<C>,
        yld: &mut Y,
    ) -> Result<Option<MainLoopCommand<C>>> {
        if self.failed {
            return Ok(None);
        }
        let msg = match cmd {
            WriteCommand::Send(msg) => msg,
            WriteCommand::Flush => return self.flush(yld),
        };
        if let Err(e) = self.frames.push_msg(&self.enc, &msg) {
            // Nothing was queued: the stream is still in sync.
            slog::warn!(self.logger, "message not sent"; "error" => %e);
            return Err(e);
        }
        self.flush(yld)
    }
}

impl<C: MyDHTConf> ServiceRestartable for WriteService<C> {
    fn resume<Y: SpawnerYield>(
        &mut self,
        yld: &mut Y,
    ) -> Result<Option<Option<MainLoopCommand<C>>>> {
        if self.in_call {
            self.flush(yld).map(Some)
        } else {
            Ok(None)
        }
    }
}
