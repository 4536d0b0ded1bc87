//! Links: each onion a node sends carries a random link id, and the hop it
//! goes to sends its error report back under that id. [`LinkTable`] keeps,
//! per link a relay sent an onion on, where reports go upstream and the
//! hop's keys to wrap them; bounded and expiring.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tunnel::{HopFailure, HopReader};

use crate::error::TunnelSendError;

/// A link's id: random, fixed-size (so frames keep one length at every
/// hop), meaningful only to the two hops of the link.
pub type LinkId = [u8; 8];

/// A hop's reader, shared by its pump and its link entry (whose keys wrap
/// reports).
pub type SharedReader = Arc<Mutex<HopReader>>;

/// A fresh random link id.
pub fn new_link() -> Result<LinkId, TunnelSendError> {
    let mut id = [0u8; 8];
    openssl::rand::rand_bytes(&mut id).map_err(|e| TunnelSendError::Codec(e.to_string()))?;
    Ok(id)
}

/// Where a report that comes back on a relay's outgoing link goes.
pub struct RelayLink {
    /// The previous hop's listening address.
    pub upstream: SocketAddr,
    /// The link the onion came in on.
    pub upstream_link: LinkId,
    /// The hop's reader of that onion: its keys wrap the report.
    pub reader: SharedReader,
    /// The stream to the next hop failed: this hop's own report, due at
    /// this time unless one comes from further on first.
    pub failed: Option<(Instant, HopFailure)>,
}

/// The relays' outgoing links, bounded: when full, the oldest is
/// forgotten (a report for it is then dropped); entries expire after `ttl`.
pub struct LinkTable {
    capacity: usize,
    ttl: Duration,
    by_id: HashMap<LinkId, RelayLink>,
    order: VecDeque<(LinkId, Instant)>,
    held: VecDeque<(Instant, Held)>,
}

/// Something kept alive for a while: a relay's incoming connection (its
/// lent read stream), held open until its report went upstream, so the
/// hop before it sees the report before it sees the connection close.
pub type Held = Box<dyn Send>;

impl LinkTable {
    /// A table of at most `capacity` links, each kept `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        LinkTable {
            capacity,
            ttl,
            by_id: HashMap::new(),
            order: VecDeque::new(),
            held: VecDeque::new(),
        }
    }

    /// Keeps `link` from `now`.
    pub fn insert(&mut self, id: LinkId, link: RelayLink, now: Instant) {
        self.expire(now);
        // `order` also holds ids taken already, until they reach its front:
        // bounded at twice the capacity.
        let cap = self.capacity.max(1);
        while self.by_id.len() >= cap || self.order.len() >= 2 * cap {
            match self.order.pop_front() {
                Some((old, _)) => {
                    self.by_id.remove(&old);
                }
                None => break,
            }
        }
        if self.by_id.insert(id, link).is_none() {
            self.order.push_back((id, now + self.ttl));
        }
    }

    /// Takes link `id` (a report goes back once).
    pub fn take(&mut self, id: &LinkId, now: Instant) -> Option<RelayLink> {
        self.expire(now);
        self.by_id.remove(id)
    }

    /// The stream sent on link `id` failed with `failure`: its report is
    /// due at `at` (the first failure counts).
    pub fn fail(&mut self, id: &LinkId, failure: HopFailure, at: Instant) {
        if let Some(link) = self.by_id.get_mut(id) {
            link.failed.get_or_insert((at, failure));
        }
    }

    /// Takes the links whose own failure report is due at `now`.
    pub fn due(&mut self, now: Instant) -> Vec<RelayLink> {
        self.expire(now);
        let ids: Vec<LinkId> = self
            .by_id
            .iter()
            .filter(|(_, l)| l.failed.is_some_and(|(at, _)| at <= now))
            .map(|(id, _)| *id)
            .collect();
        ids.iter().filter_map(|id| self.by_id.remove(id)).collect()
    }

    /// Keeps `item` alive until `until` (bounded by the capacity: past
    /// it, the oldest is let go: returned, to drop once the table is
    /// unlocked, as dropping a connection's stream tells the main loop).
    pub fn hold(&mut self, item: Held, until: Instant) -> Option<Held> {
        let out = if self.held.len() >= self.capacity.max(1) {
            self.held.pop_front().map(|(_, h)| h)
        } else {
            None
        };
        self.held.push_back((until, item));
        out
    }

    /// What was held until `now` or before: to drop once the table is
    /// unlocked.
    pub fn release(&mut self, now: Instant) -> Vec<Held> {
        let mut out = Vec::new();
        let mut keep = VecDeque::new();
        for (until, h) in self.held.drain(..) {
            if until <= now {
                out.push(h);
            } else {
                keep.push_back((until, h));
            }
        }
        self.held = keep;
        out
    }

    /// Whether the table has work due at `now`: a link's own failure
    /// report, a held stream to let go, or every link expired. A link
    /// that expires while newer ones live waits for the next insert or
    /// take, which expire it: a relay kept busy needs no timer for them.
    pub fn any_due(&self, now: Instant) -> bool {
        self.held.iter().any(|(until, _)| *until <= now)
            || self
                .by_id
                .values()
                .any(|l| l.failed.is_some_and(|(at, _)| at <= now))
            || self.order.back().is_some_and(|(_, expiry)| *expiry <= now)
    }

    /// Things held.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Links kept.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when no link is kept.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(id, deadline)) = self.order.front() {
            // An id taken already is only in `order`: drop it too.
            if deadline > now && self.by_id.contains_key(&id) {
                break;
            }
            self.order.pop_front();
            if deadline <= now {
                self.by_id.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tunnel::crypto::X25519Secret;
    use tunnel::{TunnelConfig, TunnelReadProv};

    fn link(n: u8) -> RelayLink {
        let secret = Arc::new(X25519Secret::generate().unwrap());
        let view = TunnelReadProv::new(TunnelConfig::default(), secret).unwrap();
        RelayLink {
            upstream: SocketAddr::from(([127, 0, 0, 1], 1000 + n as u16)),
            upstream_link: [n; 8],
            reader: Arc::new(Mutex::new(view.new_reader())),
            failed: None,
        }
    }

    #[test]
    fn bounded_oldest_first_expiring_failing_and_taken_once() {
        let now = Instant::now();
        let mut t = LinkTable::new(2, Duration::from_secs(10));
        t.insert([1; 8], link(1), now);
        t.insert([2; 8], link(2), now);
        t.insert([3; 8], link(3), now);
        assert_eq!(t.len(), 2);
        assert!(t.take(&[1; 8], now).is_none(), "the oldest went first");
        assert_eq!(t.take(&[2; 8], now).unwrap().upstream_link, [2; 8]);
        assert!(t.take(&[2; 8], now).is_none());
        // Many inserts and takes keep the table within its bound.
        for i in 0..100u8 {
            t.insert([i; 8], link(i), now);
            t.take(&[i; 8], now);
        }
        assert!(t.order.len() <= 4);
        t.insert([7; 8], link(7), now);
        t.fail(
            &[7; 8],
            HopFailure::Unreachable,
            now + Duration::from_secs(1),
        );
        assert!(t.due(now).is_empty());
        let due = t.due(now + Duration::from_secs(1));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].failed.map(|f| f.1), Some(HopFailure::Unreachable));
        t.insert([9; 8], link(9), now);
        assert!(t.take(&[9; 8], now + Duration::from_secs(11)).is_none());
        assert!(t.is_empty());
    }

    #[test]
    fn work_is_due_for_a_failure_a_held_stream_or_the_last_expiry_only() {
        let now = Instant::now();
        let secs = Duration::from_secs;
        let mut t = LinkTable::new(4, secs(10));
        assert!(!t.any_due(now + secs(100)), "an empty table");
        t.insert([1; 8], link(1), now);
        t.insert([2; 8], link(2), now + secs(5));
        assert!(!t.any_due(now + secs(12)), "a newer link lives");
        assert!(t.any_due(now + secs(15)), "every link expired");
        t.fail(&[2; 8], HopFailure::Unreachable, now + secs(6));
        assert!(!t.any_due(now + secs(5)));
        assert!(t.any_due(now + secs(6)), "a failure report due");
        assert_eq!(t.due(now + secs(6)).len(), 1);
        assert!(!t.any_due(now + secs(6)));
        assert!(t.hold(Box::new(3u8), now + secs(7)).is_none());
        assert!(!t.any_due(now + secs(6)));
        assert!(t.any_due(now + secs(7)), "a held stream to let go");
    }
}
