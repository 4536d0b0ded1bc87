//! [`MainLoopSender`]: how services and the node handle reach the main
//! loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::ThreadId;

use mio::Waker;
use mydht_base::service::channel::MpscSend;
use mydht_base::{Error, ErrorKind, ErrorLevel, Result, SRef, SToRef, SpawnSend, TrySendError};

use super::wake::LoopWake;
use super::{MainLoopCommand, MainLoopCommandSend, ToMainLoop};
use crate::conf::MyDHTConf;

/// The sender of the main loop's bounded channel, with the poll's waker
/// (written only while the loop may be asleep: the `wake` module).
///
/// It is `Send` whatever the configuration's peer reference: a command
/// travels in its sendable form ([`MainLoopCommandSend`]; free for
/// `ArcRef`, a copy of each peer it names for `RcRef`) and is turned back
/// on the loop's thread.
///
/// Services on other threads wait while the channel is full
/// (back-pressure) when the configuration says they run on threads
/// ([`services_on_threads`](MyDHTConf::services_on_threads)); a service on
/// the main loop's own thread cannot wait for itself, so there a full
/// channel is a `ChannelFull` error whatever the configuration.
pub struct MainLoopSender<C: MyDHTConf> {
    send: MpscSend<MainLoopCommandSend<C>>,
    waker: Arc<LoopWake>,
    may_wait: bool,
    /// The main loop's own thread needs no wake: it drains its channel
    /// after every poll, and does not wait in the poll when it sent itself
    /// something ([`take_self_sent`](Self::take_self_sent)).
    loop_thread: ThreadId,
    self_sent: Arc<AtomicBool>,
}

impl<C: MyDHTConf> Clone for MainLoopSender<C> {
    fn clone(&self) -> Self {
        MainLoopSender {
            send: self.send.clone(),
            waker: self.waker.clone(),
            may_wait: self.may_wait,
            loop_thread: self.loop_thread,
            self_sent: self.self_sent.clone(),
        }
    }
}

impl<C: MyDHTConf> MainLoopSender<C> {
    /// Built on the main loop's thread.
    pub fn new(send: MpscSend<MainLoopCommandSend<C>>, waker: Arc<Waker>, may_wait: bool) -> Self {
        MainLoopSender {
            send,
            waker: Arc::new(LoopWake::new(waker)),
            may_wait,
            loop_thread: std::thread::current().id(),
            self_sent: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Sends a command and wakes the main loop.
    pub fn send_cmd(&mut self, cmd: MainLoopCommand<C>) -> Result<()> {
        match self.send.try_send(cmd.get_sendable()) {
            Ok(()) => {}
            // Never on the loop's own thread (an inline service of a mixed
            // profile): it would wait for itself.
            Err(TrySendError::Full(cmd)) if self.may_wait && !self.on_loop_thread() => {
                self.send.send(cmd)?
            }
            Err(TrySendError::Full(_)) => {
                return Err(Error::new(
                    ErrorKind::ChannelFull,
                    ErrorLevel::Ignore,
                    "main loop channel full",
                ))
            }
            Err(TrySendError::Closed(_)) => {
                return Err(Error::new(
                    ErrorKind::ChannelClosed,
                    ErrorLevel::ShutDown,
                    "main loop stopped",
                ))
            }
        }
        self.wake()
    }

    /// True when the main loop sent itself a command since the last call.
    pub(crate) fn take_self_sent(&self) -> bool {
        self.self_sent.swap(false, Ordering::Relaxed)
    }

    /// True when the main loop sent itself a command not yet taken.
    pub(crate) fn self_sent(&self) -> bool {
        self.self_sent.load(Ordering::Relaxed)
    }

    /// The loop's waker and running flag, for the loop itself.
    pub(crate) fn loop_wake(&self) -> &LoopWake {
        &self.waker
    }

    fn on_loop_thread(&self) -> bool {
        std::thread::current().id() == self.loop_thread
    }

    fn wake(&self) -> Result<()> {
        if self.on_loop_thread() {
            self.self_sent.store(true, Ordering::Relaxed);
            return Ok(());
        }
        self.waker.wake().map_err(Error::from)
    }
}

impl<C: MyDHTConf, X: ToMainLoop<C>> SpawnSend<X> for MainLoopSender<C> {
    fn send(&mut self, cmd: X) -> Result<()> {
        match cmd.to_main_loop() {
            Some(c) => self.send_cmd(c),
            None => Ok(()),
        }
    }

    fn try_send(&mut self, cmd: X) -> std::result::Result<(), TrySendError<X>> {
        match cmd.to_main_loop() {
            Some(c) => match self.send.try_send(c.get_sendable()) {
                Ok(()) => {
                    // A failed wake means the loop is gone; the next send
                    // reports it as a closed channel.
                    let _ = self.wake();
                    Ok(())
                }
                Err(TrySendError::Full(c)) => Err(TrySendError::Full(X::back(c.to_ref()))),
                Err(TrySendError::Closed(c)) => Err(TrySendError::Closed(X::back(c.to_ref()))),
            },
            None => Ok(()),
        }
    }
}

// Already `Send` (it carries sendable commands): crosses threads as itself,
// for services spawned with `ThreadParkRef`.
impl<C: MyDHTConf> SRef for MainLoopSender<C> {
    type Send = Self;
    fn get_sendable(self) -> Self {
        self
    }
}

impl<C: MyDHTConf> SToRef<MainLoopSender<C>> for MainLoopSender<C> {
    fn to_ref(self) -> Self {
        self
    }
}
