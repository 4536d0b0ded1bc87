//! [`LoopWake`]: the main loop's poll waker, written only while the loop
//! may be asleep.
//!
//! Writing the poll's waker (an eventfd on Linux) is a syscall, and it makes
//! the loop's next poll return at once, so a loop that is running anyway
//! pays a turn for nothing. A loop on its own thread says when it is
//! running: [`LoopWake::woke`] after its poll returns (it will look at its
//! channel before it waits again), [`LoopWake::may_sleep`] before it waits.
//! A sender queues its command, then reads that flag and writes the waker
//! only when the loop may be asleep.
//!
//! No wake-up is lost: the loop clears the flag, then looks at its channel
//! (`MpscRecv::has_queued`), then polls; a sender counts its command in
//! the channel, then reads the flag. Both sides' steps are `SeqCst`
//! operations, so of the loop's look and the sender's read at least one
//! sees the other's write: either the loop finds the command and does not
//! wait, or the sender finds the flag cleared and wakes the loop.
//!
//! A loop driven by its caller ([`start_driven`](crate::start_driven)) never
//! says it is running (its caller may be waiting on the poll's descriptor
//! with nodes of its own): its senders always wake it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mio::Waker;
use mydht_base::service::channel::MpscRecv;

/// The poll's waker and whether the loop is surely running (see the
/// [module documentation](self)).
#[derive(Debug)]
pub(crate) struct LoopWake {
    waker: Arc<Waker>,
    /// The loop will look at its channel before it next waits: a sender
    /// need not wake it. Alone on its cache line: the loop writes it twice
    /// per turn, every sender reads it.
    awake: Padded,
}

#[derive(Debug)]
#[repr(align(128))]
struct Padded(AtomicBool);

impl LoopWake {
    /// A waker whose senders always write it until the loop first says it
    /// runs.
    pub(crate) fn new(waker: Arc<Waker>) -> Self {
        LoopWake {
            waker,
            awake: Padded(AtomicBool::new(false)),
        }
    }

    /// On a sender, after its command is counted in the loop's channel:
    /// wakes the loop unless it is surely running.
    pub(crate) fn wake(&self) -> std::io::Result<()> {
        if self.awake.0.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.waker.wake()
    }

    /// On the loop's thread, before it waits in its poll: from now on
    /// senders wake it. False when a command is already queued (or about to
    /// be): the loop must not wait.
    pub(crate) fn may_sleep<T>(&self, rx: &MpscRecv<T>) -> bool {
        self.awake.0.store(false, Ordering::SeqCst);
        !rx.has_queued()
    }

    /// On the loop's thread, once its poll returned: it will drain its
    /// channel before it waits again, so senders need not wake it.
    pub(crate) fn woke(&self) {
        self.awake.0.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;
    use std::time::{Duration, Instant};

    use mio::{Events, Poll, Token, Waker};
    use mydht_base::service::channel::MpscChannel;
    use mydht_base::{SpawnChannel, SpawnRecv, SpawnSend};

    use super::LoopWake;

    const WAKER: Token = Token(7);

    fn setup() -> (Poll, Arc<LoopWake>) {
        let poll = Poll::new().expect("poll");
        let waker = Waker::new(poll.registry(), WAKER).expect("waker");
        (poll, Arc::new(LoopWake::new(Arc::new(waker))))
    }

    fn woken(poll: &mut Poll, events: &mut Events, timeout: Duration) -> bool {
        poll.poll(events, Some(timeout)).expect("poll");
        events.iter().any(|e| e.token() == WAKER)
    }

    /// A running loop is not woken; once it may sleep, it is.
    #[test]
    fn wakes_only_a_loop_that_may_sleep() {
        let (mut poll, wake) = setup();
        let mut events = Events::with_capacity(8);
        let (mut tx, mut rx) = MpscChannel::new(8).new_channel().expect("channel");

        wake.woke();
        tx.send(1u32).expect("send");
        wake.wake().expect("wake");
        assert!(
            !woken(&mut poll, &mut events, Duration::ZERO),
            "a running loop's waker was written"
        );
        // The loop drains, then is about to wait: nothing queued.
        assert_eq!(rx.recv().expect("recv"), Some(1));
        assert_eq!(rx.recv().expect("recv"), None);
        assert!(wake.may_sleep(&rx));
        tx.send(2).expect("send");
        wake.wake().expect("wake");
        assert!(
            woken(&mut poll, &mut events, Duration::from_secs(5)),
            "a sleeping loop was not woken"
        );
        assert_eq!(rx.recv().expect("recv"), Some(2));
    }

    /// A command queued while the loop ran (no wake written) keeps it from
    /// waiting.
    #[test]
    fn a_command_queued_while_running_forbids_the_wait() {
        let (_poll, wake) = setup();
        let (mut tx, rx) = MpscChannel::new(8).new_channel().expect("channel");
        wake.woke();
        tx.send(1u32).expect("send");
        wake.wake().expect("wake");
        assert!(!wake.may_sleep(&rx));
    }

    /// Only a lost wake-up makes the loop wait this long.
    const LOOP_WAIT: Duration = Duration::from_secs(3);
    /// The loop's work after it drains its channel, in the stress tests.
    const TURN_WORK: Duration = Duration::from_micros(20);

    /// `senders` threads each send `rounds` commands, one at a time, each
    /// after the loop's answer to the one before: the loop goes to sleep
    /// between most of them, racing the next send. Every command is
    /// answered, and no poll waits for its timeout (a lost wake-up, unless
    /// another sender's wake hides it).
    fn round_trips(senders: usize, rounds: u32) {
        let (mut poll, wake) = setup();
        let (tx, mut rx) = MpscChannel::new(64).new_channel().expect("channel");
        let mut acks = Vec::new();
        let threads: Vec<_> = (0..senders)
            .map(|s| {
                let (ack_tx, ack_rx) = std::sync::mpsc::channel();
                acks.push(ack_tx);
                let mut tx = tx.clone();
                let wake = wake.clone();
                thread::spawn(move || {
                    for i in 0..rounds {
                        tx.send((s, i)).expect("send");
                        wake.wake().expect("wake");
                        let ack = ack_rx.recv_timeout(2 * LOOP_WAIT).expect("answer");
                        assert_eq!(ack, i);
                    }
                })
            })
            .collect();
        drop(tx);
        let mut events = Events::with_capacity(8);
        let mut left = senders * rounds as usize;
        while left > 0 {
            let timeout = if wake.may_sleep(&rx) {
                LOOP_WAIT
            } else {
                Duration::ZERO
            };
            let t = Instant::now();
            poll.poll(&mut events, Some(timeout)).expect("poll");
            assert!(
                t.elapsed() < LOOP_WAIT,
                "lost wake-up: {left} commands unanswered"
            );
            wake.woke();
            // The senders end (and close the channel) once all is answered.
            while left > 0 {
                let Some((s, i)) = rx.recv().expect("recv") else {
                    break;
                };
                acks[s].send(i).expect("ack");
                left -= 1;
            }
            // The rest of a turn (the core's timers, its actions): the
            // answered senders send again meanwhile, to a running loop,
            // without a wake. Work, not a wait for them.
            let turn = Instant::now();
            while turn.elapsed() < TURN_WORK {
                std::hint::spin_loop();
            }
        }
        for t in threads {
            t.join().expect("sender");
        }
    }

    #[test]
    fn no_lost_wake_up_one_sender() {
        round_trips(1, 5_000);
    }

    #[test]
    fn no_lost_wake_up_many_senders() {
        round_trips(6, 1_000);
    }
}
