//! [`TunnelShared`]: what the global and the local tunnel services and
//! the pumps share — the node's `FullTunnel` (replay cache, kept reply
//! keys), the book of queries awaiting replies, the relayed links and the
//! reports waiting to go — behind one mutex.
//!
//! Why shared rather than routed to the global service: a reply relay and
//! the sender reading a reply need the full tunnel object only for one
//! table look-up (`FullTunnel::admit`), after which their stream goes on
//! without it. Taking the lock for that look-up keeps the reply on the
//! read side (the local service of the connection it came on), as a
//! forward relay is, instead of moving every reply stream through the
//! global service. The lock is held for look-ups and for building a
//! query's header, never across I/O.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tunnel::FullTunnel;

use crate::book::QueryBook;
use crate::link::LinkTable;
use crate::msg::TunnelMsg;

/// Reports a pump queued (it cannot send itself): at most this many wait
/// for the global service's next tick; past it the oldest is dropped.
pub const OUTBOX_LEN: usize = 1024;

/// The node's tunnel state shared by its tunnel services.
pub struct TunnelShared {
    /// Key, replay cache, kept reply keys.
    pub full: FullTunnel,
    /// Queries awaiting a reply.
    pub book: QueryBook,
    /// The links this node relayed onions on, for error reports.
    pub links: LinkTable,
    /// Messages to send (error reports from pumps), bounded.
    pub outbox: VecDeque<(SocketAddr, TunnelMsg)>,
}

impl TunnelShared {
    /// Queues `msg` for `to`, dropping the oldest past `OUTBOX_LEN`.
    pub fn post(&mut self, to: SocketAddr, msg: TunnelMsg) {
        if self.outbox.len() >= OUTBOX_LEN {
            self.outbox.pop_front();
        }
        self.outbox.push_back((to, msg));
    }
}

/// A handle on the shared state; clones share it.
#[derive(Clone)]
pub struct SharedTunnel(Arc<Mutex<TunnelShared>>);

impl SharedTunnel {
    /// Shares `full` with a book of `max_pending` queries and a table of
    /// `max_links` relayed links, each kept `ttl`.
    pub fn new(full: FullTunnel, max_pending: usize, max_links: usize, ttl: Duration) -> Self {
        SharedTunnel(Arc::new(Mutex::new(TunnelShared {
            full,
            book: QueryBook::new(max_pending),
            links: LinkTable::new(max_links, ttl),
            outbox: VecDeque::new(),
        })))
    }

    /// The state, for one short step.
    pub fn lock(&self) -> MutexGuard<'_, TunnelShared> {
        // Each step leaves the state consistent before it can panic (a
        // table insert or remove at a time).
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
