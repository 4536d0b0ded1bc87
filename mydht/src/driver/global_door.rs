//! [`GlobalDoor`]: the node handle's direct way to the global service, so
//! that a query crosses one thread less (caller → global service, not
//! caller → main loop → global service).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mydht_base::{Error, ErrorKind, ErrorLevel};

use crate::command::ApiResult;
use crate::conf::MyDHTConf;
use crate::profile::handle_gives;
use crate::service::api::SharedBook;
use crate::service::{ApiCommand, GlobalCommand, GlobalWay, NotGiven, QueryId, ReplySlot};

/// The way while it is open: the global service's channel and handle,
/// and the book its query is registered in first; `gen`, which opening
/// this is.
struct Open<C: MyDHTConf> {
    way: GlobalWay<C>,
    book: SharedBook<C>,
    gen: u64,
}

/// A query given through the door may run on its caller's thread while
/// fewer other queries than this are pending in the book: one query at a
/// time, and the one before it, complete but not yet forgotten by the
/// thread that gave its reply (a moment after it woke its caller).
const FEW_OTHERS: usize = 2;

/// What became of a query given to the door.
pub(super) enum Passed<C: MyDHTConf> {
    /// In the global service's channel (or refused by the book, whose
    /// error its slot has).
    Given,
    /// In the channel, but the service's loop had ended by then: the
    /// main loop must start it again (it reads the channel from where
    /// the last loop left it), and is to be woken for that.
    Stranded,
    /// Not given: the command back, for the main loop's way.
    Back(C::GlobalCmd),
}

/// The node handle's way straight into the global service's channel
/// ([`MyDHTConf::direct_global`]), shared by the main loop (which opens
/// it while the global service's loop runs, and closes it when the node
/// stops) and the handles (which shut it when they find that loop
/// ended).
///
/// A query given through it is registered in the node's
/// [`SharedBook`] first, with its deadline (the caller's timeout from
/// now), so that its reply, which the global service or a local service
/// gives to the book directly, always finds it, and the main loop's query
/// tick expires it as any other (a `Timeout` for its caller). Then it
/// goes into the channel; a full channel (the service is busy) or a loop
/// that ended gives it back for the main loop's way, as before (the core
/// registers it again: the same query, its entry replaced in place, so
/// it counts once against `max_pending_queries`).
///
/// The door's lock is held only to take a copy of the way: the query is
/// given outside it, so that a query the global service runs on its
/// caller's thread ([`InPlaceGlobal`](crate::profile::InPlaceGlobal))
/// holds up no other caller (they queue behind it in the channel).
pub(crate) struct GlobalDoor<C: MyDHTConf> {
    open: Mutex<Option<Open<C>>>,
    /// Openings so far.
    opened: AtomicU64,
    /// The way is shut: the main loop looks at the global service, starts
    /// it again if its loop ended, and opens the way.
    shut: AtomicBool,
    /// Queries given straight to the global service.
    given: AtomicU64,
}

impl<C: MyDHTConf> GlobalDoor<C> {
    /// A door open on `way`, registering queries in `book`.
    pub(super) fn new(way: GlobalWay<C>, book: SharedBook<C>) -> Self {
        GlobalDoor {
            open: Mutex::new(Some(Open { way, book, gen: 0 })),
            opened: AtomicU64::new(0),
            shut: AtomicBool::new(false),
            given: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Open<C>>> {
        // Nothing panics while holding it (the book and the channel do
        // not); a poisoned door is still whole.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens the door again on `way` (the global service runs).
    pub(super) fn reopen(&self, way: GlobalWay<C>, book: SharedBook<C>) {
        let gen = self.opened.fetch_add(1, Ordering::Relaxed) + 1;
        *self.lock() = Some(Open { way, book, gen });
        self.shut.store(false, Ordering::Release);
    }

    /// Closes the door for good (the node stops): later queries take the
    /// main loop's way, closed too. Its clone of the book goes, so that
    /// the book, once the node's services are gone, fails what is pending.
    pub(super) fn close(&self) {
        *self.lock() = None;
    }

    /// True when a handle found the way dead: the main loop should look.
    pub(super) fn is_shut(&self) -> bool {
        self.shut.load(Ordering::Acquire)
    }

    /// Queries given straight to the global service so far.
    pub(super) fn given(&self) -> u64 {
        self.given.load(Ordering::Relaxed)
    }

    /// Shuts the way of opening `gen` (not a later one).
    fn shut(&self, gen: u64) {
        let mut open = self.lock();
        if open.as_ref().is_some_and(|o| o.gen == gen) {
            *open = None;
            self.shut.store(true, Ordering::Release);
        }
    }

    /// Gives the query `qid` (`cmd`, its replies to `slot`, failing after
    /// `timeout`) to the global service, registered in the book first.
    pub(super) fn give(
        &self,
        qid: QueryId,
        slot: &ReplySlot<ApiResult<C>>,
        timeout: Duration,
        cmd: C::GlobalCmd,
    ) -> Passed<C> {
        let (mut way, book, gen) = {
            let guard = self.lock();
            let Some(open) = guard.as_ref() else {
                return Passed::Back(cmd);
            };
            (open.way.clone(), open.book.clone(), open.gen)
        };
        if way.ended() {
            self.shut(gen);
            return Passed::Back(cmd);
        }
        // A timeout past what an `Instant` holds takes the main loop's way.
        let Some(deadline) = Instant::now().checked_add(timeout) else {
            return Passed::Back(cmd);
        };
        let register = ApiCommand::Register {
            qid,
            slot: slot.clone(),
            deadline,
        };
        let others = book.register_among(qid, register, FEW_OTHERS);
        if slot.is_done() {
            // Refused (too many pending queries): the caller has the
            // error, and the global service does not run what failed.
            return Passed::Given;
        }
        // With few others pending, the global service may run it on this
        // thread, and answer it, before `give` returns; not under load:
        // the service's thread runs those queued together, their frames
        // to one peer sent as one batch.
        let give = || way.give(GlobalCommand::Api(qid, cmd));
        let given = if others < FEW_OTHERS {
            handle_gives(give)
        } else {
            give()
        };
        match given {
            Ok(()) => {
                self.given.fetch_add(1, Ordering::Relaxed);
                if way.ended() {
                    // Ended, perhaps before reading it: the main loop's
                    // next loop of the service reads it.
                    self.shut(gen);
                    return Passed::Stranded;
                }
                Passed::Given
            }
            Err((cmd, why)) => {
                if let NotGiven::Ended = why {
                    self.shut(gen);
                }
                match cmd {
                    // Left in the book: the main loop registers it again
                    // (the same query, replaced in place).
                    GlobalCommand::Api(_, cmd) => Passed::Back(cmd),
                    // Only the query itself comes back from the channel.
                    _ => {
                        slot.fail(Error::new(
                            ErrorKind::Other,
                            ErrorLevel::Ignore,
                            "query lost on its way to the global service",
                        ));
                        Passed::Given
                    }
                }
            }
        }
    }
}
