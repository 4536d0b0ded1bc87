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
use std::time::{Duration, Instant};

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
    /// Queues `msg` for `to`; past `OUTBOX_LEN` the oldest is dropped and
    /// returned, for the caller to log.
    #[must_use = "a report dropped for room is to be logged"]
    pub fn post(&mut self, to: SocketAddr, msg: TunnelMsg) -> Option<(SocketAddr, TunnelMsg)> {
        let dropped = if self.outbox.len() >= OUTBOX_LEN {
            self.outbox.pop_front()
        } else {
            None
        };
        self.outbox.push_back((to, msg));
        dropped
    }

    /// Whether the global service's tick has work at `now`: a queued
    /// report, header keys to make, a query to answer (its deadline or
    /// failure due), or the links' work ([`LinkTable::any_due`]). Other
    /// ticks are skipped: an idle node's global service, and its thread,
    /// stay asleep, and so do a relay's while its tunnels go well.
    pub fn wants_tick(&self, now: Instant) -> bool {
        !self.outbox.is_empty()
            || self.full.ephemeral_room() > 0
            || self.book.any_due(now)
            || self.links.any_due(now)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::PendingQuery;
    use tunnel::crypto::X25519Secret;
    use tunnel::TunnelConfig;

    fn report(n: usize) -> (SocketAddr, TunnelMsg) {
        let to = SocketAddr::from(([127, 0, 0, 1], 1 + (n % 60_000) as u16));
        let mut link = [0; 8];
        link.copy_from_slice(&(n as u64).to_be_bytes());
        (
            to,
            TunnelMsg::Report {
                link,
                report: [7; 32],
            },
        )
    }

    fn link_of(msg: &TunnelMsg) -> u64 {
        match msg {
            TunnelMsg::Report { link, .. } => u64::from_be_bytes(*link),
            other => panic!("not a report: {other:?}"),
        }
    }

    #[test]
    fn a_full_outbox_drops_its_oldest_report_and_says_which() {
        let secret = X25519Secret::generate().expect("key");
        let full = FullTunnel::new(TunnelConfig::default(), secret).expect("tunnel");
        let shared = SharedTunnel::new(full, 4, 4, Duration::from_secs(1));
        let mut s = shared.lock();
        for n in 0..OUTBOX_LEN {
            let (to, msg) = report(n);
            assert!(s.post(to, msg).is_none(), "report {n} fits");
        }
        let (to, msg) = report(OUTBOX_LEN);
        let (lost_to, lost) = s.post(to, msg).expect("the oldest is dropped");
        assert_eq!((lost_to, link_of(&lost)), (report(0).0, 0));
        assert_eq!(s.outbox.len(), OUTBOX_LEN);
        let kept: Vec<u64> = s.outbox.iter().map(|(_, m)| link_of(m)).collect();
        assert_eq!(kept.first(), Some(&1));
        assert_eq!(kept.last(), Some(&(OUTBOX_LEN as u64)));
    }

    /// Fills the header keys' room, as the tick's helper would.
    fn make_keys(s: &mut TunnelShared) {
        let room = s.full.ephemeral_room();
        let keys = (0..room).map(|_| X25519Secret::generate().expect("key"));
        s.full.add_ephemeral_keys(keys.collect::<Vec<_>>());
    }

    /// A node whose state is idle: its header keys made, nothing else.
    fn idle() -> SharedTunnel {
        let secret = X25519Secret::generate().expect("key");
        let full = FullTunnel::new(TunnelConfig::default(), secret).expect("tunnel");
        let shared = SharedTunnel::new(full, 4, 4, Duration::from_secs(1));
        {
            let mut s = shared.lock();
            assert!(s.wants_tick(Instant::now()), "header keys to make");
            make_keys(&mut s);
            assert!(!s.wants_tick(Instant::now()), "nothing due on an idle node");
        }
        shared
    }

    #[test]
    fn the_tick_is_wanted_while_anything_is_due_and_not_on_an_idle_node() {
        let now = Instant::now();
        // A queued report.
        let shared = idle();
        let (to, msg) = report(1);
        assert!(shared.lock().post(to, msg).is_none());
        assert!(shared.lock().wants_tick(now), "a queued report");
        shared.lock().outbox.clear();
        assert!(!shared.lock().wants_tick(now));
        // A stream held open until a time.
        let held = shared.lock().links.hold(Box::new(7u8), now);
        assert!(held.is_none());
        assert!(shared.lock().wants_tick(now), "a held stream");
        let released = shared.lock().links.release(now);
        assert_eq!(released.len(), 1);
        assert!(!shared.lock().wants_tick(now));
        // A header key taken by a query.
        let shared = idle();
        let hop = tunnel::RouteHop {
            public_key: *X25519Secret::generate().expect("key").public_key(),
            address: vec![1],
        };
        let writer = shared.lock().full.new_writer(&[hop], None);
        let writer = writer.expect("a writer");
        assert!(shared.lock().wants_tick(now), "a header key to make again");
        let mut s = shared.lock();
        make_keys(&mut s);
        assert!(!s.wants_tick(Instant::now()));
        // A query awaiting its reply.
        let first = SocketAddr::from(([127, 0, 0, 1], 7));
        let deadline = now + Duration::from_secs(1);
        let query = PendingQuery::new(
            1,
            deadline,
            ([1; 8], first),
            writer.report_reader(),
            Vec::new(),
        );
        s.book.insert([1; 16], query).expect("a query kept");
        assert!(!s.wants_tick(now), "a query awaiting its reply");
        assert!(s.wants_tick(deadline), "a query to expire");
    }
}
