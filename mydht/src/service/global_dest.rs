//! [`GlobalDest`]: where the global service's replies go — an api reply
//! straight to its query's slot, a message to an online peer straight to
//! its connection's write service (when the profile allows it), through
//! the main loop otherwise.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mydht_base::service::channel::IdleInlineRecv;
use mydht_base::{
    Result, SRef, SToRef, SpawnChannel, SpawnHandle, SpawnRecv, SpawnSend, SpawnUnyield, Spawner,
    TrySendError,
};

use super::api::SharedBook;
use super::{GlobalCommand, PeersView, Reply, WriteCommand};
use crate::command::MainLoopSender;
use crate::conf::{ChannelRecv, MyDHTConf};
use crate::frame::WireMessage;
use crate::identity::PeerId;

/// A connection's write service as the global service reaches it: its
/// channel's weak sender and its weak handle, type-erased so that the
/// global service's destination crosses threads under every profile.
///
/// Made by [`MyDHTConf::direct_writer`]: the profiles whose write
/// services can be reached from another thread (read services on
/// threads: `threaded!`, `threaded_blocking!`, `may_blocking!`) make one;
/// the others none, and their global service's messages go through the
/// main loop.
pub struct DirectWriter<C: MyDHTConf>(Box<dyn WriteWay<C>>);

/// What [`DirectWriter`] hides.
trait WriteWay<C: MyDHTConf>: Send {
    /// Gives `msgs` (not empty) to the write service as one command and
    /// wakes it; the messages back when the service has ended or its
    /// channel is full or closed.
    fn give(&mut self, msgs: Vec<C::ProtoMsg>) -> Option<Vec<C::ProtoMsg>>;
}

impl<C, S, H> WriteWay<C> for (S, H)
where
    C: MyDHTConf,
    S: SpawnSend<WriteCommand<C>> + Send,
    H: SpawnUnyield + Send,
{
    fn give(&mut self, mut msgs: Vec<C::ProtoMsg>) -> Option<Vec<C::ProtoMsg>> {
        let (send, handle) = self;
        if handle.is_finished() {
            return Some(msgs);
        }
        let cmd = match msgs.len() {
            1 => WriteCommand::Send(WireMessage::App(msgs.remove(0))),
            _ => WriteCommand::Batch(msgs.into_iter().map(WireMessage::App).collect()),
        };
        let back = match send.try_send(cmd) {
            // Queued: a failed wake-up is the loop's to see (the service
            // ended, the connection's end reaches it).
            Ok(()) => {
                let _ = handle.unyield();
                return None;
            }
            Err(TrySendError::Full(c)) | Err(TrySendError::Closed(c)) => match c {
                WriteCommand::Send(m) => vec![m],
                WriteCommand::Batch(ms) => ms,
                _ => Vec::new(),
            },
        };
        let app = back.into_iter().filter_map(|m| match m {
            WireMessage::App(m) => Some(m),
            _ => None,
        });
        Some(app.collect())
    }
}

impl<C: MyDHTConf> DirectWriter<C> {
    /// The direct way to the write service of weak sender `send` and weak
    /// handle `handle`.
    pub fn new<S, H>(send: S, handle: H) -> Self
    where
        S: SpawnSend<WriteCommand<C>> + Send + 'static,
        H: SpawnUnyield + Send + 'static,
    {
        DirectWriter(Box::new((send, handle)))
    }
}

/// The clonable sender of the global service's channel.
pub type GlobalWeakSend<C> =
    <<C as MyDHTConf>::GlobalChannel as SpawnChannel<GlobalCommand<C>>>::WeakSend;

/// The shareable handle of the global service.
pub type GlobalWeakHandle<C> = <<<C as MyDHTConf>::GlobalSpawn as Spawner<
    <C as MyDHTConf>::GlobalService,
    GlobalDest<C>,
    GlobalRecv<C, ChannelRecv<<C as MyDHTConf>::GlobalChannel, GlobalCommand<C>>>,
>>::Handle as SpawnHandle<
    <C as MyDHTConf>::GlobalService,
    GlobalDest<C>,
    GlobalRecv<C, ChannelRecv<<C as MyDHTConf>::GlobalChannel, GlobalCommand<C>>>,
>>::WeakHandle;

/// The global service as the node handle reaches it: its channel's weak
/// sender and its weak handle, type-erased so that the handle (which is
/// `Send`) can hold them under every profile.
///
/// Made by [`MyDHTConf::direct_global`]: the profiles whose global
/// service runs on a thread of its own (`ThreadPark`, `MpscChannel`:
/// `threaded!`, `threaded_blocking!`, `may_blocking!`) make one, and the
/// handle's queries then go straight into the global service's channel,
/// not through the main loop; the others none.
pub struct GlobalWay<C: MyDHTConf>(Box<dyn GlobalGive<C>>);

/// Why [`GlobalWay::give`] gave a command back.
pub(crate) enum NotGiven {
    /// The channel is full: the service is busy.
    Full,
    /// The service's loop has ended (or its channel is closed): this way
    /// is dead until the node starts the service again.
    Ended,
}

/// What [`GlobalWay`] hides.
trait GlobalGive<C: MyDHTConf>: Send {
    /// Queues `cmd` and wakes the service; the command back when it cannot.
    fn give(
        &mut self,
        cmd: GlobalCommand<C>,
    ) -> std::result::Result<(), (GlobalCommand<C>, NotGiven)>;
    /// True once the service's loop has ended.
    fn ended(&mut self) -> bool;
    /// Another way to the same service.
    fn clone_way(&self) -> Box<dyn GlobalGive<C>>;
}

impl<C, S, H> GlobalGive<C> for (S, H)
where
    C: MyDHTConf,
    S: SpawnSend<GlobalCommand<C>> + Clone + Send + 'static,
    H: SpawnUnyield + Clone + Send + 'static,
{
    fn give(
        &mut self,
        cmd: GlobalCommand<C>,
    ) -> std::result::Result<(), (GlobalCommand<C>, NotGiven)> {
        let (send, handle) = self;
        if handle.is_finished() {
            return Err((cmd, NotGiven::Ended));
        }
        match send.try_send(cmd) {
            // Queued: a failed wake-up is the main loop's to see (the
            // service ended; the node starts it again).
            Ok(()) => {
                let _ = handle.unyield();
                Ok(())
            }
            Err(TrySendError::Full(c)) => Err((c, NotGiven::Full)),
            Err(TrySendError::Closed(c)) => Err((c, NotGiven::Ended)),
        }
    }

    fn ended(&mut self) -> bool {
        self.1.is_finished()
    }

    fn clone_way(&self) -> Box<dyn GlobalGive<C>> {
        Box::new(self.clone())
    }
}

impl<C: MyDHTConf> GlobalWay<C> {
    /// The way to the global service of weak sender `send` and weak handle
    /// `handle`.
    pub fn new<S, H>(send: S, handle: H) -> Self
    where
        S: SpawnSend<GlobalCommand<C>> + Clone + Send + 'static,
        H: SpawnUnyield + Clone + Send + 'static,
    {
        GlobalWay(Box::new((send, handle)))
    }

    /// Queues `cmd` for the global service and wakes it; the command back,
    /// and why, when it cannot.
    pub(crate) fn give(
        &mut self,
        cmd: GlobalCommand<C>,
    ) -> std::result::Result<(), (GlobalCommand<C>, NotGiven)> {
        self.0.give(cmd)
    }

    /// True once the global service's loop has ended.
    pub(crate) fn ended(&mut self) -> bool {
        self.0.ended()
    }
}

impl<C: MyDHTConf> Clone for GlobalWay<C> {
    fn clone(&self) -> Self {
        GlobalWay(self.0.clone_way())
    }
}

/// A peer's entry: its connection's direct way, and whether the global
/// service must not use it any more (a message to the peer went through
/// the main loop: later ones follow it there, to keep their order).
struct Way<C: MyDHTConf> {
    writer: DirectWriter<C>,
    diverted: bool,
}

/// A peer's entry in [`DirectPeers`]: its connection's key and its way.
type Entry<C> = (usize, Arc<Mutex<Way<C>>>);

/// The online peers whose write services the global service reaches
/// directly: filled by the main loop (an entry when a peer goes online,
/// removed before its offline event reaches the global service, or when
/// its connection closes or ends its session), read by [`GlobalDest`].
/// Bounded by the node's connection limit.
pub(crate) struct DirectPeers<C: MyDHTConf> {
    peers: Mutex<HashMap<PeerId, Entry<C>>>,
    capacity: usize,
    sent: AtomicU64,
    /// Queries the global service ran on their caller's thread
    /// ([`InPlaceGlobal`](crate::profile::InPlaceGlobal)).
    in_place: Arc<AtomicU64>,
}

impl<C: MyDHTConf> DirectPeers<C> {
    /// A table of at most `capacity` peers.
    pub(crate) fn new(capacity: usize) -> Self {
        DirectPeers {
            peers: Mutex::new(HashMap::new()),
            capacity,
            sent: AtomicU64::new(0),
            in_place: Arc::new(AtomicU64::new(0)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<PeerId, Entry<C>>> {
        // Nothing panics while holding it; a poisoned map is still whole.
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `peer` is online on connection `conn`, whose write service
    /// `writer` reaches (replacing any earlier entry). Not kept past the
    /// capacity: that peer's messages then take the main loop's way.
    pub(crate) fn insert(&self, peer: PeerId, conn: usize, writer: DirectWriter<C>) {
        let mut peers = self.lock();
        if peers.len() >= self.capacity && !peers.contains_key(&peer) {
            return;
        }
        let way = Way {
            writer,
            diverted: false,
        };
        peers.insert(peer, (conn, Arc::new(Mutex::new(way))));
    }

    /// Forgets `peer`.
    pub(crate) fn remove(&self, peer: &PeerId) {
        self.lock().remove(peer);
    }

    /// Forgets `peer` if its entry is connection `conn`'s.
    pub(crate) fn remove_conn(&self, peer: &PeerId, conn: usize) {
        let mut peers = self.lock();
        if peers.get(peer).is_some_and(|(c, _)| *c == conn) {
            peers.remove(peer);
        }
    }

    /// Messages the global service gave straight to write services.
    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Acquire)
    }

    /// Queries the global service ran on their caller's thread.
    pub(crate) fn in_place(&self) -> u64 {
        self.in_place.load(Ordering::Relaxed)
    }

    fn way(&self, peer: &PeerId) -> Option<Arc<Mutex<Way<C>>>> {
        self.lock().get(peer).map(|(_, w)| w.clone())
    }
}

/// Messages held at most before they go out anyway: as many as a local
/// service holds (its `HELD_MAX`, which says why not more).
const HELD_MAX: usize = super::local_dest::HELD_MAX;

/// What the global service's destination and its receiver share (both
/// run on the global service's thread): the messages held for the direct
/// way, and what sends them.
struct Outbox<C: MyDHTConf> {
    to_loop: MainLoopSender<C>,
    direct: Arc<DirectPeers<C>>,
    /// Messages for the direct way, in order, until the global service's
    /// channel is empty (or `HELD_MAX` (32) are held).
    held: Vec<(PeerId, C::ProtoMsg)>,
    /// Hold messages until the channel is empty; false: send each at once.
    hold: bool,
    /// Messages sent directly (published to `direct.sent` with a plain
    /// store: only the global service sends).
    sent: u64,
}

impl<C: MyDHTConf> Outbox<C> {
    /// Holds `msg` for `to` when its direct way is open; the message back
    /// when it must go through the main loop.
    fn push(&mut self, to: PeerId, msg: C::ProtoMsg) -> Result<Option<C::ProtoMsg>> {
        let Some(way) = self.direct.way(&to) else {
            return Ok(Some(msg));
        };
        if way.lock().unwrap_or_else(|e| e.into_inner()).diverted {
            return Ok(Some(msg));
        }
        self.held.push((to, msg));
        if !self.hold || self.held.len() >= HELD_MAX {
            self.flush()?;
        }
        Ok(None)
    }

    /// Sends what is held: the messages to each peer as one command to its
    /// write service, in order; those its way does not take (and every
    /// later one to that peer) through the main loop.
    fn flush(&mut self) -> Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        let mut peers: Vec<(PeerId, Vec<C::ProtoMsg>)> = Vec::new();
        for (to, msg) in self.held.drain(..) {
            match peers.iter_mut().find(|(p, _)| *p == to) {
                Some((_, msgs)) => msgs.push(msg),
                None => peers.push((to, vec![msg])),
            }
        }
        for (to, msgs) in peers {
            // Counted before they are given, so that whoever reads the
            // messages on the other side reads the count too.
            let n = msgs.len() as u64;
            self.direct.sent.store(self.sent + n, Ordering::Release);
            let back = match self.direct.way(&to) {
                None => Some(msgs),
                Some(way) => {
                    let mut way = way.lock().unwrap_or_else(|e| e.into_inner());
                    match way.writer.0.give(msgs) {
                        None => None,
                        Some(back) => {
                            way.diverted = true;
                            Some(back)
                        }
                    }
                }
            };
            match back {
                None => self.sent += n,
                Some(back) => {
                    self.direct.sent.store(self.sent, Ordering::Relaxed);
                    for msg in back {
                        self.to_loop.send(Reply::Send(to, msg))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Later messages to `to` go through the main loop, after one that
    /// does.
    fn divert(&self, to: &PeerId) {
        if let Some(way) = self.direct.way(to) {
            way.lock().unwrap_or_else(|e| e.into_inner()).diverted = true;
        }
    }
}

impl<C: MyDHTConf> Drop for Outbox<C> {
    /// Held messages go out (best effort: the node may be stopping).
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// The outbox both hold.
type SharedOutbox<C> = Arc<Mutex<Outbox<C>>>;

fn lock<C: MyDHTConf>(out: &SharedOutbox<C>) -> MutexGuard<'_, Outbox<C>> {
    // Only the global service's thread takes it.
    out.lock().unwrap_or_else(|e| e.into_inner())
}

/// The destination of the global service.
///
/// An api reply ([`Reply::Api`]) goes to its query's slot through the
/// node's [`SharedBook`] (one that finds no pending query takes the main
/// loop's way, to be dropped there as before). A message to a peer
/// ([`Reply::Send`], and each peer of [`Reply::SendTo`] and
/// [`Reply::Broadcast`]) whose pooled connection is online goes straight
/// to that connection's write service when the profile allows it
/// ([`MyDHTConf::direct_writer`]; under `threaded!` the write service's
/// sender writes the frames itself while the service is idle): no trip
/// through the main loop and back. Such messages are held until the
/// global service's channel is empty ([`GlobalRecv`] sends them then, or
/// once `HELD_MAX` (32) are held), so that those to one peer go out as one
/// batch, as the main loop batched them (with `NodeConstants::loops` set for the
/// global service, each goes at once). Everything else, and every message
/// the direct way cannot take, goes through the main loop as before (a
/// message to a peer that is not online is dropped and logged there).
///
/// **Order.** The messages of the global service to one online peer
/// keep their order: held ones go out before anything it sends through
/// the main loop; they all take the direct way while it is open; once one
/// takes the main loop's way (the write service's channel was full or
/// closed, or the message has a stream behind it), every later one to
/// that peer follows it there, until the peer's next connection. The
/// edge: a message sent through the main loop before the peer's entry was
/// made (the main loop makes it when it tells the global service the peer
/// is online, before that event reaches it) may be overtaken by the
/// direct ones that follow; a message sent after the global service saw
/// the peer online is not. [`Reply::SendOn`] names a connection, not a
/// peer: it always goes through the main loop, ordered with that way only.
pub struct GlobalDest<C: MyDHTConf> {
    book: SharedBook<C>,
    view: PeersView,
    out: SharedOutbox<C>,
}

/// The receiver of the global service: its channel's, which sends the
/// messages its destination holds ([`GlobalDest`]) whenever it finds the
/// channel empty, before the service waits for more.
pub struct GlobalRecv<C: MyDHTConf, R> {
    inner: R,
    out: SharedOutbox<C>,
}

/// The global service's channel kind: the configuration's
/// ([`MyDHTConf::GlobalChannel`]), its receiver a [`GlobalRecv`].
pub struct GlobalInput<C: MyDHTConf> {
    inner: C::GlobalChannel,
    out: SharedOutbox<C>,
}

/// The global service's destination and channel kind, sharing their
/// outbox: `to_loop`, the node's `book` of queries, its online peers
/// `view` and its table of direct ways; `hold` as for [`GlobalDest`].
pub(crate) fn global_ends<C: MyDHTConf>(
    to_loop: MainLoopSender<C>,
    book: SharedBook<C>,
    view: PeersView,
    direct: Arc<DirectPeers<C>>,
    channel: C::GlobalChannel,
    hold: bool,
) -> (GlobalDest<C>, GlobalInput<C>) {
    let sent = direct.sent();
    let out = Arc::new(Mutex::new(Outbox {
        to_loop,
        direct,
        held: Vec::new(),
        hold,
        sent,
    }));
    let input = GlobalInput {
        inner: channel,
        out: out.clone(),
    };
    (GlobalDest { book, view, out }, input)
}

impl<C: MyDHTConf> GlobalDest<C> {
    /// The count of queries the global service ran on their caller's
    /// thread, kept across its restarts (a statistic).
    pub(crate) fn in_place_count(&self) -> Arc<AtomicU64> {
        lock(&self.out).direct.in_place.clone()
    }

    /// Sends what it can of `reply` directly (or holds it for that); what
    /// is left for the main loop.
    fn shortcut(&mut self, reply: Reply<C>) -> Result<Reply<C>> {
        Ok(match reply {
            Reply::Api(qid, r) => match self.book.give_app(qid, r) {
                Ok(()) => Reply::None,
                Err(r) => Reply::Api(qid, r),
            },
            Reply::Send(to, msg) => match lock(&self.out).push(to, msg)? {
                None => Reply::None,
                Some(msg) => Reply::Send(to, msg),
            },
            Reply::SendTo(mut ids, msg) => {
                ids.sort_unstable();
                ids.dedup();
                self.each(ids, msg)?
            }
            Reply::Broadcast(msg) => {
                let ids = self.view.ids();
                self.each(ids, msg)?
            }
            Reply::SendStream(to, msg, stream) => {
                lock(&self.out).divert(&to);
                Reply::SendStream(to, msg, stream)
            }
            Reply::Many(replies) => {
                let mut left = Vec::new();
                for r in replies {
                    match self.shortcut(r)? {
                        Reply::None => {}
                        r => left.push(r),
                    }
                }
                match left.len() {
                    0 => Reply::None,
                    1 => left.remove(0),
                    _ => Reply::Many(left),
                }
            }
            other => other,
        })
    }

    /// Sends `msg` directly to each of `ids` (distinct) it can; a
    /// [`Reply::SendTo`] of the others.
    fn each(&mut self, ids: Vec<PeerId>, msg: C::ProtoMsg) -> Result<Reply<C>> {
        let mut left = Vec::new();
        let mut out = lock(&self.out);
        for id in ids {
            if out.push(id, msg.clone())?.is_some() {
                left.push(id);
            }
        }
        Ok(if left.is_empty() {
            Reply::None
        } else {
            Reply::SendTo(left, msg)
        })
    }
}

impl<C: MyDHTConf> SpawnSend<Reply<C>> for GlobalDest<C> {
    fn send(&mut self, reply: Reply<C>) -> Result<()> {
        match self.shortcut(reply)? {
            Reply::None => Ok(()),
            left => {
                // What is held goes first.
                let mut out = lock(&self.out);
                out.flush()?;
                out.to_loop.send(left)
            }
        }
    }

    /// Never waits, and holds nothing back: what is held goes out now
    /// (the sender may be a node handle's thread that ran the call in
    /// place, after which no receiver finds the channel empty for it).
    fn try_send(&mut self, reply: Reply<C>) -> std::result::Result<(), TrySendError<Reply<C>>> {
        // What went (or is held) for the direct way is not sent again: a
        // retry gets what is left. A main loop gone (the node stops)
        // loses what is held, as it loses everything else.
        let left = self.shortcut(reply);
        let mut out = lock(&self.out);
        let _ = out.flush();
        match left {
            Ok(Reply::None) | Err(_) => Ok(()),
            Ok(left) => out.to_loop.try_send(left),
        }
    }
}

impl<C: MyDHTConf, R: SpawnRecv<T>, T> SpawnRecv<T> for GlobalRecv<C, R> {
    fn recv(&mut self) -> Result<Option<T>> {
        let next = self.inner.recv()?;
        if next.is_none() {
            lock(&self.out).flush()?;
        }
        Ok(next)
    }

    fn recv_wait(&mut self) -> Result<Option<T>> {
        match self.inner.recv()? {
            Some(cmd) => Ok(Some(cmd)),
            None => {
                lock(&self.out).flush()?;
                self.inner.recv_wait()
            }
        }
    }
}

impl<C: MyDHTConf, R, T> GlobalRecv<C, IdleInlineRecv<R, T>> {
    /// The receiver of an [`IdleInlineChannel`]'s loop, read through this
    /// one (the held messages sent when the channel is empty).
    ///
    /// [`IdleInlineChannel`]: mydht_base::service::channel::IdleInlineChannel
    pub(crate) fn inside_out(self) -> IdleInlineRecv<GlobalRecv<C, R>, T> {
        let out = self.out;
        self.inner.map_inner(|inner| GlobalRecv { inner, out })
    }

    /// What [`inside_out`](Self::inside_out) made, back.
    pub(crate) fn outside_in(recv: IdleInlineRecv<GlobalRecv<C, R>, T>) -> Self {
        let out = recv.get_ref().out.clone();
        GlobalRecv {
            inner: recv.map_inner(|r| r.inner),
            out,
        }
    }
}

impl<C: MyDHTConf> SpawnChannel<GlobalCommand<C>> for GlobalInput<C> {
    type WeakSend = <C::GlobalChannel as SpawnChannel<GlobalCommand<C>>>::WeakSend;
    type Send = <C::GlobalChannel as SpawnChannel<GlobalCommand<C>>>::Send;
    type Recv = GlobalRecv<C, ChannelRecv<C::GlobalChannel, GlobalCommand<C>>>;

    fn new_channel(&mut self) -> Result<(Self::Send, Self::Recv)> {
        let (send, inner) = self.inner.new_channel()?;
        let out = self.out.clone();
        Ok((send, GlobalRecv { inner, out }))
    }

    fn get_weak_send(send: &Self::Send) -> Option<Self::WeakSend> {
        <C::GlobalChannel as SpawnChannel<GlobalCommand<C>>>::get_weak_send(send)
    }
}

// `Send` whatever the profile (the direct ways are type-erased `Send`
// values): crosses threads as itself, for a global service spawned with
// `ThreadParkRef`.
impl<C: MyDHTConf> SRef for GlobalDest<C> {
    type Send = Self;
    fn get_sendable(self) -> Self {
        self
    }
}

impl<C: MyDHTConf> SToRef<GlobalDest<C>> for GlobalDest<C> {
    fn to_ref(self) -> Self {
        self
    }
}

// Crosses threads as its channel's receiver does.
impl<C: MyDHTConf, R: SRef> SRef for GlobalRecv<C, R> {
    type Send = GlobalRecv<C, R::Send>;
    fn get_sendable(self) -> GlobalRecv<C, R::Send> {
        GlobalRecv {
            inner: self.inner.get_sendable(),
            out: self.out,
        }
    }
}

impl<C: MyDHTConf, R: SRef> SToRef<GlobalRecv<C, R>> for GlobalRecv<C, R::Send> {
    fn to_ref(self) -> GlobalRecv<C, R> {
        GlobalRecv {
            inner: self.inner.to_ref(),
            out: self.out,
        }
    }
}
