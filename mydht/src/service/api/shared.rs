//! [`SharedBook`]: the node's [`ApiBook`] behind a lock, so that a reply
//! reaches its caller's slot from the thread that made it.

use std::sync::{Arc, Mutex, MutexGuard};

use super::{ApiBook, ApiCommand};
use crate::command::ApiResult;
use crate::conf::MyDHTConf;
use crate::service::QueryId;

/// The pending queries of a node, shared by the main loop's driver (which
/// registers each query as the core says), the api service (which gives
/// the core's replies, fails and expires queries) and the destinations of
/// the local services, which give an application's reply to its query
/// directly instead of through the main loop and the api service: two
/// thread crossings less under `threaded!`. Clones share the book.
///
/// The core decides nothing on an application's reply (it hands
/// `Reply::Api` to the api service as it is), so the shortcut changes no
/// decision; a reply whose query is no longer in the book (done, failed,
/// expired) takes the main loop's way and is dropped there, as before.
pub struct SharedBook<C: MyDHTConf>(Arc<Mutex<ApiBook<C>>>);

impl<C: MyDHTConf> Clone for SharedBook<C> {
    fn clone(&self) -> Self {
        SharedBook(self.0.clone())
    }
}

impl<C: MyDHTConf> SharedBook<C> {
    /// A book of at most `capacity` pending queries.
    pub fn new(capacity: usize) -> Self {
        SharedBook(Arc::new(Mutex::new(ApiBook::new(capacity))))
    }

    fn lock(&self) -> MutexGuard<'_, ApiBook<C>> {
        // A panic while holding the lock leaves at worst a query that never
        // completes here: its deadline still fails it.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies one command.
    pub fn apply(&self, cmd: ApiCommand<C>) {
        self.lock().apply(cmd);
    }

    /// Registers the query `qid` (`register`, an [`ApiCommand::Register`]
    /// of it): how many other queries are pending then, `most` at most (a
    /// complete one is counted until whoever completed it forgets it, a
    /// moment after its caller is woken).
    pub(crate) fn register_among(
        &self,
        qid: QueryId,
        register: ApiCommand<C>,
        most: usize,
    ) -> usize {
        let mut book = self.lock();
        book.apply(register);
        book.others_pending(qid, most)
    }

    /// Gives the application's `reply` to the pending query `qid`; the
    /// reply back when no such query is pending. The slot is filled (and
    /// its caller woken) outside the book's lock, which the main loop takes
    /// to register queries.
    pub fn give_app(&self, qid: QueryId, reply: C::ApiReply) -> Result<(), C::ApiReply> {
        let Some(slot) = self.lock().slot(qid) else {
            return Err(reply);
        };
        if slot.push(ApiResult::App(reply)) {
            self.lock().forget(qid);
        }
        Ok(())
    }
}
