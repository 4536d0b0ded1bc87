//! [`TunnelShared`]: what the global and the local tunnel services share —
//! the node's `FullTunnel` (replay cache, kept reply keys) and the book of
//! queries awaiting replies — behind one mutex.
//!
//! Why shared rather than routed to the global service: a reply relay and
//! the sender reading a reply need the full tunnel object only for one
//! table look-up (`FullTunnel::admit`), after which their stream goes on
//! without it. Taking the lock for that look-up keeps the reply on the
//! read side (the local service of the connection it came on), as a
//! forward relay is, instead of moving every reply through the global
//! service's queue. The lock is held for look-ups and for building a
//! query's header, never across I/O.

use std::sync::{Arc, Mutex, MutexGuard};

use tunnel::FullTunnel;

use crate::book::QueryBook;

/// The node's tunnel state shared by its tunnel services.
pub struct TunnelShared {
    /// Key, replay cache, kept reply keys.
    pub full: FullTunnel,
    /// Queries awaiting a reply.
    pub book: QueryBook,
}

/// A handle on the shared state; clones share it.
#[derive(Clone)]
pub struct SharedTunnel(Arc<Mutex<TunnelShared>>);

impl SharedTunnel {
    /// Shares `full` with a book of `max_pending` queries.
    pub fn new(full: FullTunnel, max_pending: usize) -> Self {
        SharedTunnel(Arc::new(Mutex::new(TunnelShared {
            full,
            book: QueryBook::new(max_pending),
        })))
    }

    /// The state, for one short step.
    pub fn lock(&self) -> MutexGuard<'_, TunnelShared> {
        // Each step leaves the state consistent before it can panic (a
        // table insert or remove at a time).
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
