//! [`QueryBook`]: the queries a node sent through tunnels and awaits
//! replies for, bounded, with their deadlines and the way their error
//! reports are read.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use mydht::{PeerId, QueryId};
use tunnel::crypto::REPLAY_ID_LEN;
use tunnel::ReportReader;

use crate::error::TunnelSendError;
use crate::link::LinkId;

/// A reply's id, as the sender's writer and the reply's reader give it.
pub type ReplyId = [u8; REPLAY_ID_LEN];

/// One query awaiting its reply.
#[derive(Debug)]
pub struct PendingQuery {
    /// The api query the reply answers.
    pub qid: QueryId,
    /// When the node gives up on it.
    pub deadline: Instant,
    /// The link its onion left on: error reports come back under it.
    pub link: LinkId,
    /// The error keys of its routes, which read their reports (apart
    /// from its writer: the pump streaming its cells holds that one).
    pub reports: ReportReader,
    /// Its stream to the first hop failed, or its reply came broken:
    /// answered with this error at this time, unless a report from the
    /// routes comes first.
    pub failed: Option<(Instant, TunnelSendError)>,
    /// The relays on both routes, each with its index in the reply
    /// route: the report of the hop before such a relay on the reply
    /// route must pass it again on the query route.
    pub both_routes: Vec<(PeerId, usize)>,
    /// Reply relay `.1` went offline: the query fails at `.0` unless its
    /// reply began to arrive (the reply could have passed the relay
    /// before it went).
    pub offline: Option<(Instant, usize)>,
    /// The reply's first bytes came: it is being read.
    pub arriving: bool,
    /// The address its onion was sent to (the route's first hop).
    pub first_hop: SocketAddr,
}

impl PendingQuery {
    /// A query awaiting its reply, its onion sent to `first_hop`, nothing
    /// failed yet.
    pub fn new(
        qid: QueryId,
        deadline: Instant,
        (link, first_hop): (LinkId, SocketAddr),
        reports: ReportReader,
        both_routes: Vec<(PeerId, usize)>,
    ) -> Self {
        PendingQuery {
            qid,
            deadline,
            link,
            reports,
            failed: None,
            both_routes,
            offline: None,
            arriving: false,
            first_hop,
        }
    }

    /// Whether it is to be answered at `now` (deadline passed, its own
    /// failure due, or a reply relay gone while no reply arrives).
    fn is_due(&self, now: Instant) -> bool {
        self.deadline <= now
            || self.failed.as_ref().is_some_and(|f| f.0 <= now)
            || (!self.arriving && self.offline.is_some_and(|o| o.0 <= now))
    }

    /// What answers it once due: its own failure, a reply relay gone
    /// offline, or the timeout.
    pub fn error(self) -> TunnelSendError {
        match (self.failed, self.offline, self.arriving) {
            (Some((_, e)), _, _) => e,
            (None, Some((_, hop)), false) => TunnelSendError::ReplyRelayOffline { hop },
            _ => TunnelSendError::Timeout,
        }
    }
}

/// Queries awaiting a reply, by reply id. Bounded: when full, a new query
/// is refused ([`TunnelSendError::TooManyPending`]) rather than an old one
/// forgotten.
#[derive(Debug)]
pub struct QueryBook {
    capacity: usize,
    by_reply: HashMap<ReplyId, PendingQuery>,
    by_link: HashMap<LinkId, ReplyId>,
}

impl QueryBook {
    /// A book of at most `capacity` queries.
    pub fn new(capacity: usize) -> Self {
        QueryBook {
            capacity,
            by_reply: HashMap::new(),
            by_link: HashMap::new(),
        }
    }

    /// Records `query`, whose reply will carry `reply`.
    pub fn insert(&mut self, reply: ReplyId, query: PendingQuery) -> Result<(), TunnelSendError> {
        if self.is_full() {
            return Err(TunnelSendError::TooManyPending);
        }
        self.by_link.insert(query.link, reply);
        self.by_reply.insert(reply, query);
        Ok(())
    }

    /// Takes the query of reply `id`: a reply answers once.
    pub fn take(&mut self, id: &ReplyId) -> Option<PendingQuery> {
        let q = self.by_reply.remove(id)?;
        self.by_link.remove(&q.link);
        Some(q)
    }

    /// Takes the query whose onion left on `link` (an error report came)
    /// with its reply id.
    pub fn take_link(&mut self, link: &LinkId) -> Option<(ReplyId, PendingQuery)> {
        let id = self.by_link.remove(link)?;
        self.by_reply.remove(&id).map(|q| (id, q))
    }

    /// The query of reply `id`, left in the book (its reply is being
    /// read: a report from the routes may still answer it first).
    pub fn get(&self, id: &ReplyId) -> Option<&PendingQuery> {
        self.by_reply.get(id)
    }

    /// The reply of `id` began to arrive (its query stays in the book
    /// until it is read whole); the query, if still awaited.
    pub fn arriving(&mut self, id: &ReplyId) -> Option<&PendingQuery> {
        let q = self.by_reply.get_mut(id)?;
        q.arriving = true;
        Some(q)
    }

    /// Peer `peer` went offline: the queries with `peer` as a relay on
    /// both routes whose reply has not begun to arrive fail at `at`
    /// ([`TunnelSendError::ReplyRelayOffline`]), unless something else
    /// answers them first. Such a relay cannot pass on the report of the
    /// hop before it on the reply route (the report goes back along the
    /// query route, through it): this is the sender's only way to learn
    /// before the timeout. A relay on one route only is reported by the
    /// hop before it.
    pub fn relay_offline(&mut self, peer: &PeerId, at: Instant) {
        for q in self.by_reply.values_mut() {
            if let Some((_, hop)) = q.both_routes.iter().find(|(p, _)| p == peer) {
                q.offline.get_or_insert((at, *hop));
            }
        }
    }

    /// The stream of the query that left on `link` failed: `error` answers
    /// it at `at` (the first failure counts).
    pub fn fail(&mut self, link: &LinkId, at: Instant, error: TunnelSendError) {
        if let Some(id) = self.by_link.get(link).copied() {
            self.fail_reply(&id, at, error);
        }
    }

    /// A message this node sent on a send-once connection to `address`
    /// was lost (`GlobalCommand::SendOnceFailed`): the queries whose first
    /// hop is there and whose reply has not begun to arrive fail at `at`
    /// with [`TunnelSendError::Unreachable`] (the first failure counts).
    /// The node cannot tell which message was lost: a query whose onion
    /// did reach that relay before is failed too (the relay is gone, or
    /// was for that message). No hop reports a first hop's failure: it is
    /// the sender's only way to learn of it before the timeout.
    pub fn first_hop_failed(&mut self, address: &SocketAddr, at: Instant) {
        for q in self.by_reply.values_mut() {
            if q.first_hop == *address && !q.arriving {
                q.failed.get_or_insert((at, TunnelSendError::Unreachable));
            }
        }
    }

    /// The reply of `id` came broken: `error` answers its query at `at`,
    /// unless a report from the routes comes first (the first failure
    /// counts).
    pub fn fail_reply(&mut self, id: &ReplyId, at: Instant, error: TunnelSendError) {
        if let Some(q) = self.by_reply.get_mut(id) {
            q.failed.get_or_insert((at, error));
        }
    }

    /// Removes and returns the queries whose deadline passed at `now`
    /// (`expired`) and those whose own failure is due (`failed`), with
    /// their reply ids.
    pub fn due(&mut self, now: Instant) -> Vec<(ReplyId, PendingQuery)> {
        let ids: Vec<ReplyId> = self
            .by_reply
            .iter()
            .filter(|(_, q)| q.is_due(now))
            .map(|(id, _)| *id)
            .collect();
        let mut gone: Vec<_> = ids
            .into_iter()
            .filter_map(|id| self.take(&id).map(|q| (id, q)))
            .collect();
        gone.sort_by_key(|(_, q)| q.qid);
        gone
    }

    /// Whether a query is to be answered at `now` (what [`due`](Self::due)
    /// would take).
    pub fn any_due(&self, now: Instant) -> bool {
        self.by_reply.values().any(|q| q.is_due(now))
    }

    /// True when a new query would be refused.
    pub fn is_full(&self) -> bool {
        self.by_reply.len() >= self.capacity
    }

    /// Queries awaiting a reply.
    pub fn len(&self) -> usize {
        self.by_reply.len()
    }

    /// True when no query awaits a reply.
    pub fn is_empty(&self) -> bool {
        self.by_reply.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tunnel::crypto::X25519Secret;
    use tunnel::{FrameLayout, FullWriter, RouteHop, TunnelConfig};

    fn reports() -> ReportReader {
        let layout = FrameLayout::new(&TunnelConfig::default()).unwrap();
        let hop = RouteHop {
            public_key: *X25519Secret::generate().unwrap().public_key(),
            address: vec![1],
        };
        FullWriter::new(&layout, &[hop], None)
            .unwrap()
            .0
            .report_reader()
    }

    fn hop_address() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 7))
    }

    #[test]
    fn bounded_taken_once_expired_and_failed_on_time() {
        let now = Instant::now();
        let q = |qid, secs, link| {
            PendingQuery::new(
                qid,
                now + Duration::from_secs(secs),
                ([link; 8], hop_address()),
                reports(),
                Vec::new(),
            )
        };
        let mut book = QueryBook::new(3);
        book.insert([1; 16], q(1, 1, 1)).unwrap();
        book.insert([2; 16], q(2, 5, 2)).unwrap();
        book.insert([3; 16], q(3, 5, 3)).unwrap();
        assert!(book.is_full());
        assert!(matches!(
            book.insert([4; 16], q(4, 0, 4)),
            Err(TunnelSendError::TooManyPending)
        ));
        assert_eq!(book.take(&[1; 16]).map(|q| q.qid), Some(1));
        assert!(book.take(&[1; 16]).is_none());
        assert!(book.take_link(&[1; 8]).is_none(), "taken with its reply id");
        book.fail(
            &[3; 8],
            now + Duration::from_secs(2),
            TunnelSendError::Unreachable,
        );
        assert_eq!(book.get(&[3; 16]).map(|q| q.qid), Some(3));
        assert!(book.due(now + Duration::from_secs(1)).is_empty());
        let due = book.due(now + Duration::from_secs(2));
        assert_eq!(due.iter().map(|(_, q)| q.qid).collect::<Vec<_>>(), vec![3]);
        assert!(matches!(
            due[0].1.failed,
            Some((_, TunnelSendError::Unreachable))
        ));
        let (id, q) = book.take_link(&[2; 8]).unwrap();
        assert_eq!((id, q.qid), ([2; 16], 2));
        assert!(book.is_empty());
    }

    #[test]
    fn a_reply_relay_offline_fails_its_queries_unless_their_reply_arrives() {
        let now = Instant::now();
        let (r0, r1, other) = (
            PeerId::from([1; 32]),
            PeerId::from([2; 32]),
            PeerId::from([3; 32]),
        );
        let q = |qid, link, both: Vec<(PeerId, usize)>| {
            let key = ([link; 8], hop_address());
            PendingQuery::new(qid, now + Duration::from_secs(9), key, reports(), both)
        };
        let mut book = QueryBook::new(4);
        book.insert([1; 16], q(1, 1, vec![(r0, 0), (r1, 1)]))
            .unwrap();
        book.insert([2; 16], q(2, 2, vec![(r1, 0)])).unwrap();
        book.insert([3; 16], q(3, 3, vec![(other, 0)])).unwrap();
        book.insert([4; 16], q(4, 4, vec![(r1, 0)])).unwrap();
        assert!(book.arriving(&[4; 16]).is_some());
        let at = now + Duration::from_secs(1);
        book.relay_offline(&r1, at);
        assert!(book.due(now).is_empty(), "not before the grace");
        let due = book.due(at);
        let got: Vec<_> = due
            .into_iter()
            .map(|(_, q)| match q.error() {
                TunnelSendError::ReplyRelayOffline { hop } => (hop, 0),
                other => panic!("{other:?}"),
            })
            .collect();
        // Query 1 has r1 on both routes, second on the reply route, 2 has
        // it first; 3 not at all, 4's reply is arriving.
        assert_eq!(got, vec![(1, 0), (0, 0)]);
        assert_eq!(book.len(), 2);
        // Once past the deadline, the arriving one times out as before.
        let late = book.due(now + Duration::from_secs(9));
        assert!(late
            .into_iter()
            .all(|(_, q)| matches!(q.error(), TunnelSendError::Timeout)));
    }
}
