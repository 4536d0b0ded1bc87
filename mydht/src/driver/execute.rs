//! How the mio driver carries out the core's actions. What it learns doing
//! them (a dial failed, a service refused a command) goes back to the core
//! as an event; the loop in [`MainLoop::execute`] takes the actions that
//! causes too.

use std::time::Instant;

use mydht_base::{Error, ErrorKind, ErrorLevel, NoChannel, Peer, Registerable, Result, Transport};
use readwrite_comp::CompW;

use super::conn::{dialled_halves, ConnIo, HandshakeIo, OpenIo, Shadows};
use super::services::{Delivery, Services};
use super::{blocking, MainLoop, FIRST_CONN};
use crate::auth::SessionKeys;
use crate::command::{ConnRef, DialId};
use crate::conf::{Address, MyDHTConf};
use crate::core::{Action, ServiceKind};
use crate::frame::{FrameWriter, WireMessage};
use crate::identity::PeerId;
use crate::service::{
    Activity, ApiCommand, GlobalCommand, LocalDest, PeerStatus, ReadCommand, ReadService,
    ServiceCtx, ServiceSlot, TimeoutAsBlock, WriteCommand, WriteService,
};
use crate::shadow::Shadow;
use crate::stream::conn_read_stream;

impl<C: MyDHTConf> MainLoop<C> {
    /// Carries out every action the core has.
    pub(super) fn execute(&mut self) {
        while let Some(action) = self.core.poll_action() {
            self.carry_out(action);
        }
    }

    fn carry_out(&mut self, action: Action<C>) {
        match action {
            Action::Dial { dial, address } => self.dial(dial, address),
            Action::SendFrame { conn, frame } => {
                if let Some(ConnIo::Handshaking(io)) = self.conns.get_mut(conn) {
                    if let Err(e) = io.send(&frame) {
                        self.core.conn_failed(conn, Some(e));
                    }
                }
            }
            Action::PrepareShadows { conn, keys } => {
                if let Some(ConnIo::Handshaking(io)) = self.conns.get_mut(conn) {
                    match Shadows::new(&self.shadow, &keys) {
                        Ok(s) => io.shadows = Some(s),
                        Err(e) => self.core.conn_failed(conn, Some(e)),
                    }
                }
            }
            Action::Open {
                conn,
                peer,
                keys,
                pending,
            } => {
                if let Err(e) = self.open(conn, peer, &keys, pending) {
                    self.core.conn_failed(conn.key, Some(e));
                }
            }
            Action::Write { conn, msgs } => self.write(conn, msgs),
            Action::Finish { conn } => {
                // Its session ends: the global service's messages go
                // through the core, which drops them for a closing
                // connection.
                self.forget_direct(conn);
                if let Some(ConnIo::Open(open)) = self.conns.get_mut(conn) {
                    let sent = open.write.send(WriteCommand::Finish);
                    if open.write.has_backlog() && !self.write_backlogs.contains(&conn) {
                        self.write_backlogs.push(conn);
                    }
                    if let Err(e) = sent {
                        self.core.write_failed(conn, e);
                    }
                }
            }
            Action::Refuse { conn, keys } => {
                if let Err(e) = self.refuse(conn, &keys) {
                    slog::debug!(self.logger, "refusal not written"; "conn" => conn, "error" => %e);
                }
            }
            Action::Close { conn, error } => self.close(conn, error),
            // A registration goes into the api service's book at once: the
            // query's reply, which a local service gives straight to the
            // book, then always finds it, and the api service is not woken
            // for every query.
            Action::Api(cmd @ ApiCommand::Register { .. }) => self.services.api_book.apply(cmd),
            Action::Api(cmd) => {
                let s = &mut self.services.api;
                let sent = s.send(cmd);
                let out = Services::<C>::outcome(sent, s.take_error(), s.is_gone());
                self.report(ServiceKind::Api, out);
            }
            Action::Global(cmd) => {
                // The global service's direct way to a peer opens before
                // it hears the peer is online, and closes before it hears
                // it is offline.
                if let GlobalCommand::PeerStatus(peer, status) = &cmd {
                    match status {
                        PeerStatus::Online => self.open_direct(*peer.get_id()),
                        PeerStatus::Offline => self.services.direct.remove(peer.get_id()),
                    }
                }
                let s = &mut self.services.global;
                let sent = s.send(cmd);
                let out = Services::<C>::outcome(sent, s.take_error(), s.is_gone());
                self.report(ServiceKind::Global, out);
            }
            Action::PeerStore(cmd) => {
                let s = &mut self.services.peer_store;
                let sent = s.send(*cmd);
                let out = Services::<C>::outcome(sent, s.take_error(), s.is_gone());
                self.report(ServiceKind::PeerStore, out);
            }
            Action::PeerMgmt(cmd) => {
                let s = &mut self.services.peer_mgmt;
                let sent = s.send(cmd);
                let out = Services::<C>::outcome(sent, s.take_error(), s.is_gone());
                self.report(ServiceKind::PeerMgmt, out);
            }
            Action::CheckGlobal => {
                let s = &mut self.services.global;
                let checked = s.check();
                let out = Services::<C>::outcome(checked, s.take_error(), s.is_gone());
                self.report(ServiceKind::Global, out);
            }
            Action::Restart(kind) => match self.services.restart(&mut self.conf, kind) {
                Ok(()) => {
                    slog::warn!(self.logger, "service restarted"; "service" => ?kind);
                    if kind == ServiceKind::PeerMgmt {
                        self.core.set_fixed_verdict(self.services.fixed_verdict());
                    }
                }
                Err(e) => self.core.restart_failed(kind, e),
            },
            Action::Stop => self.stopped = true,
        }
    }

    /// Starts the global service again if its loop ended, and opens the
    /// handles' way to it (see `GlobalDoor`).
    pub(super) fn reopen_global_door(&mut self) {
        if self.stopped {
            return;
        }
        let out = self.services.reopen_global_door();
        self.report(ServiceKind::Global, out);
        self.execute();
    }

    fn report(&mut self, kind: ServiceKind, delivery: Delivery) {
        if let Some((error, lost)) = delivery {
            self.core.service_failed(kind, error, lost);
        }
    }

    /// Opens a connection to `address`: on this thread for a transport that
    /// can be polled, on a connector thread otherwise.
    fn dial(&mut self, dial: DialId, address: Address<C>) {
        if self.listener.is_some() {
            self.connectors.retain(|j| !j.is_finished());
            let ctx = self.auth_ctx();
            match blocking::spawn_connector(ctx, address, dial) {
                Ok(join) => self.connectors.push(join),
                Err(e) => self.core.dial_failed(dial, e),
            }
            return;
        }
        let connected = self.transport.connect_with(&address).and_then(|c| {
            let (read, write) = dialled_halves::<C>(c)?;
            let writer = FrameWriter::new(self.core.constants().max_frame);
            Ok(HandshakeIo::new(read, write, writer, true))
        });
        match connected {
            Ok(io) => match self.add_conn(io) {
                Some(key) => {
                    self.core.dialled(dial, key, Instant::now());
                    self.execute();
                    // A connect may be done already, with no readiness edge
                    // to come.
                    self.on_ready(key, true, true);
                }
                None => {
                    let e = Error::new(ErrorKind::Other, ErrorLevel::Ignore, "cannot be polled");
                    self.core.dial_failed(dial, e);
                }
            },
            Err(e) => self.core.dial_failed(dial, e),
        }
    }

    /// Starts the read and write services of an admitted connection.
    fn open(
        &mut self,
        cref: ConnRef,
        peer: C::PeerRef,
        keys: &SessionKeys,
        pending: Vec<WireMessage<C::ProtoMsg>>,
    ) -> Result<()> {
        let Some(ConnIo::Handshaking(io)) = self.conns.try_remove(cref.key) else {
            return Err(Error::new(
                ErrorKind::Other,
                ErrorLevel::ShutDown,
                "connection is not authenticating",
            ));
        };
        // Stored again under the same key (a slab reuses the last key
        // freed) once its services run; a failure below reaches the core,
        // which closes it.
        let HandshakeIo {
            read,
            write,
            writer: preamble,
            shadows,
            ..
        } = *io;
        let shadows = match shadows {
            Some(shadows) => shadows,
            None => Shadows::new(&self.shadow, keys)?,
        };
        // A read service whose thread waits in its socket turns the
        // poll's watch of its reads off meanwhile.
        #[cfg(unix)]
        let read_wait = read.read_wait(&self.registry, cref.key + FIRST_CONN);
        let activity = Activity::new(Instant::now());
        let read = TimeoutAsBlock::with_activity(read, activity.clone());
        let write = TimeoutAsBlock::with_activity(write, activity.clone());
        let read_stream = conn_read_stream::<C>(read, shadows.reader);
        let write_stream = CompW::new(write, shadows.writer);
        let constants = self.core.constants();
        let ctx = ServiceCtx {
            enc: self.core_enc(),
            max_frame: constants.max_frame,
            to_loop: self.sender.clone(),
            logger: self.logger.clone(),
        };
        let (loops, direct_replies) = (constants.loops, constants.direct_replies);
        let flush_first = preamble.pending() > 0;
        let writer = WriteService::new(cref, write_stream, preamble, ctx.clone());
        let mut write = ServiceSlot::new(
            writer,
            self.sender.clone(),
            self.conf.write_spawner()?,
            self.conf.write_channel(),
            loops.write,
        )?;
        // Started now so that the local service can hold its weak handle,
        // on one command: what the core queued (behind the handshake's
        // unwritten bytes, which the service writes first), or those
        // bytes alone. A second command here would wait for the next
        // loop under a counted write loop (`ServiceLoops::write`).
        self.note_feeds(cref.key, &pending);
        let first = if !pending.is_empty() {
            Some(WriteCommand::Batch(pending))
        } else {
            flush_first.then_some(WriteCommand::Flush)
        };
        write.start(first)?;
        let direct = if direct_replies && self.conf.services_on_threads() {
            write.direct_way()
        } else {
            None
        };
        let local = ServiceSlot::new(
            self.conf.init_local(
                self.me.info(),
                crate::node_peer::info_of(&*peer),
                self.core.peers_view(),
            )?,
            LocalDest::new(self.sender.clone(), *peer.get_id(), direct)
                .with_api(self.services.api_book.clone()),
            self.conf.local_spawner()?,
            self.conf.local_channel(),
            loops.local,
        )?
        // Its owner, the read service, is nothing the local service waits
        // on (it waits on the loop, which goes on turning).
        .joining();
        let reader = ReadService::new(cref, peer, read_stream, local, ctx);
        #[cfg(unix)]
        let reader = reader.with_read_wait(read_wait);
        let mut read = ServiceSlot::new(
            reader,
            self.sender.clone(),
            self.conf.read_spawner()?,
            NoChannel,
            0,
        )?;
        read.start(Some(ReadCommand::Run))?;
        let key = self.conns.insert(ConnIo::Open(Box::new(OpenIo {
            read,
            write,
            activity,
            feeds: None,
            direct_peer: None,
        })));
        debug_assert_eq!(key, cref.key, "the slab reuses the freed key");
        Ok(())
    }

    /// Writes a refused peer a sealed `Refused` frame and the session's end,
    /// without waiting: whatever the socket does not take at once is lost
    /// (the peer then sees the connection close before its admission).
    fn refuse(&mut self, key: usize, keys: &SessionKeys) -> Result<()> {
        let Some(ConnIo::Handshaking(io)) = self.conns.get_mut(key) else {
            return Ok(());
        };
        io.check_connected()?;
        let writer = match io.shadows.take() {
            Some(shadows) => shadows.writer,
            None => self.shadow.writer(keys)?,
        };
        let mut sealed = CompW::new(TimeoutAsBlock::new(&mut io.write), writer);
        let mut frame = FrameWriter::new(self.core.constants().max_frame);
        frame.push_msg(&self.enc, &WireMessage::<C::ProtoMsg>::Refused)?;
        frame.write_to(&mut sealed)?;
        sealed.write_end()?;
        Ok(())
    }

    fn write(&mut self, key: usize, mut msgs: Vec<WireMessage<C::ProtoMsg>>) {
        self.note_feeds(key, &msgs);
        let Some(ConnIo::Open(open)) = self.conns.get_mut(key) else {
            return;
        };
        let res = match msgs.len() {
            0 => Ok(()),
            1 => open.write.send(WriteCommand::Send(msgs.remove(0))),
            _ => open.write.send(WriteCommand::Batch(msgs)),
        };
        if open.write.has_backlog() && !self.write_backlogs.contains(&key) {
            self.write_backlogs.push(key);
        }
        if let Err(e) = res {
            self.core.write_failed(key, e);
        }
    }

    /// Gives the global service a direct way to `peer`'s write service,
    /// through the connection it is online on (when the profile has one,
    /// [`MyDHTConf::direct_writer`]).
    fn open_direct(&mut self, peer: PeerId) {
        let Some(key) = self.core.online_conn(&peer) else {
            return;
        };
        let Some(ConnIo::Open(open)) = self.conns.get_mut(key) else {
            return;
        };
        let writer = open.write.direct_way();
        if let Some(writer) = writer.and_then(|(s, h)| C::direct_writer(s, h)) {
            self.services.direct.insert(peer, key, writer);
            open.direct_peer = Some(peer);
        }
    }

    /// Closes the global service's direct way through connection `key`.
    fn forget_direct(&mut self, key: usize) {
        if let Some(ConnIo::Open(open)) = self.conns.get_mut(key) {
            if let Some(peer) = open.direct_peer.take() {
                self.services.direct.remove_conn(&peer, key);
            }
        }
    }

    fn close(&mut self, key: usize, error: Option<Error>) {
        let Some(io) = self.conns.try_remove(key) else {
            return;
        };
        if let ConnIo::Open(open) = &io {
            if let Some(peer) = open.direct_peer {
                self.services.direct.remove_conn(&peer, key);
                // The peer may stay online through another connection (two
                // nodes that dialled each other at once).
                self.open_direct(peer);
            }
        }
        if let Some(e) = &error {
            slog::debug!(self.logger, "connection closed"; "conn" => key, "error" => %e);
        }
        if self.conf.services_on_threads() {
            // Asked to stop, not joined: a service on a thread may be
            // waiting for room in this loop's channel (back-pressure), and
            // only this loop, turning, makes room. Its thread ends on its
            // own, closing the connection's stream.
            drop(io);
        } else if let Err(e) = io.close() {
            slog::warn!(self.logger, "connection services ended with an error"; "error" => %e);
        }
    }

    fn auth_ctx(&self) -> blocking::AuthCtx<C> {
        blocking::AuthCtx {
            transport: self.transport.clone(),
            me: self.me.clone(),
            enc: self.core_enc(),
            constants: self.core.constants().clone(),
            sender: self.sender.clone(),
            logger: self.logger.clone(),
        }
    }

    fn core_enc(&self) -> C::MsgEnc {
        self.enc.clone()
    }
}
