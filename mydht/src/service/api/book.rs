//! [`ApiBook`]: the pending queries, a plain bounded state machine, and
//! [`ApiService`], the service that wraps it.

use std::collections::BTreeMap;
use std::time::Instant;

use mydht_base::{Error, ErrorKind, ErrorLevel, Result, Service, ServiceRestartable, SpawnerYield};

use super::{ReplySlot, SharedBook};
use crate::command::ApiResult;
use crate::conf::MyDHTConf;
use crate::service::QueryId;

/// What the api service is asked.
pub enum ApiCommand<C: MyDHTConf> {
    /// A new query: complete once `slot` has its replies, failed at
    /// `deadline`.
    Register {
        /// The query.
        qid: QueryId,
        /// Where its replies go.
        slot: ReplySlot<ApiResult<C>>,
        /// When it fails with `Timeout`.
        deadline: Instant,
    },
    /// A reply for a query.
    Reply(QueryId, ApiResult<C>),
    /// A query failed.
    Fail(QueryId, Error),
    /// The clock: queries past their deadline fail.
    Expire(Instant),
}

struct Pending<C: MyDHTConf> {
    slot: ReplySlot<ApiResult<C>>,
    deadline: Instant,
}

/// The pending queries, at most `capacity` of them.
pub struct ApiBook<C: MyDHTConf> {
    pending: BTreeMap<QueryId, Pending<C>>,
    capacity: usize,
}

impl<C: MyDHTConf> ApiBook<C> {
    /// A book of at most `capacity` pending queries.
    pub fn new(capacity: usize) -> Self {
        ApiBook {
            pending: BTreeMap::new(),
            capacity,
        }
    }

    /// Number of pending queries.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when no query is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Applies one command.
    pub fn apply(&mut self, cmd: ApiCommand<C>) {
        match cmd {
            ApiCommand::Register {
                qid,
                slot,
                deadline,
            } => {
                if let Some(pending) = self.pending.get_mut(&qid) {
                    // The same query registered again (a query the node
                    // handle registered, then gave back to the main loop's
                    // way): replaced in place, so it counts once against
                    // the capacity.
                    *pending = Pending { slot, deadline };
                } else if self.pending.len() >= self.capacity {
                    slot.fail(Error::new(
                        ErrorKind::TooLarge,
                        ErrorLevel::Ignore,
                        "too many pending queries",
                    ));
                } else if !slot.is_done() {
                    self.pending.insert(qid, Pending { slot, deadline });
                }
            }
            ApiCommand::Reply(qid, r) => {
                if let Some(p) = self.pending.get(&qid) {
                    if p.slot.push(r) {
                        self.pending.remove(&qid);
                    }
                }
            }
            ApiCommand::Fail(qid, e) => {
                if let Some(p) = self.pending.remove(&qid) {
                    p.slot.fail(e);
                }
            }
            ApiCommand::Expire(now) => self.pending.retain(|_, p| {
                if p.deadline <= now {
                    p.slot.expire();
                    false
                } else {
                    true
                }
            }),
        }
    }
}

impl<C: MyDHTConf> ApiBook<C> {
    /// The slot of the pending query `qid`, shared.
    pub(super) fn slot(&self, qid: QueryId) -> Option<ReplySlot<ApiResult<C>>> {
        self.pending.get(&qid).map(|p| p.slot.clone())
    }

    /// Forgets the query `qid` (complete).
    pub(super) fn forget(&mut self, qid: QueryId) {
        self.pending.remove(&qid);
    }

    /// How many queries other than `qid` are pending, `most` at most
    /// (the count stops there). A complete one whose caller took its
    /// replies may still be counted for a moment, until whoever completed
    /// it forgets it.
    pub(super) fn others_pending(&self, qid: QueryId, most: usize) -> usize {
        self.pending
            .iter()
            .filter(|(q, p)| **q != qid && !p.slot.is_done())
            .take(most)
            .count()
    }
}

impl<C: MyDHTConf> Drop for ApiBook<C> {
    /// A stopped node answers its pending queries at once.
    fn drop(&mut self) {
        for (_, p) in std::mem::take(&mut self.pending) {
            p.slot.fail(Error::new(
                ErrorKind::ChannelClosed,
                ErrorLevel::Ignore,
                "node stopped",
            ));
        }
    }
}

/// The api service: a [`SharedBook`] run by the node's api spawner. It
/// answers nothing: callers wait on their slots. The node's local services
/// give their api replies to the same book directly
/// ([`SharedBook::give_app`]).
pub struct ApiService<C: MyDHTConf> {
    book: SharedBook<C>,
}

impl<C: MyDHTConf> ApiService<C> {
    /// An api service over `book`.
    pub fn shared(book: SharedBook<C>) -> Self {
        ApiService { book }
    }
}

impl<C: MyDHTConf> Service for ApiService<C> {
    type CommandIn = ApiCommand<C>;
    type CommandOut = ();

    fn call<Y: SpawnerYield>(&mut self, cmd: ApiCommand<C>, _: &mut Y) -> Result<()> {
        self.book.apply(cmd);
        Ok(())
    }
}

/// It never yields inside a command.
impl<C: MyDHTConf> ServiceRestartable for ApiService<C> {}
