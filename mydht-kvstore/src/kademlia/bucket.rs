//! [`Bucket`]: one k-bucket of a [`RoutingTable`](super::RoutingTable) —
//! its peers, least recently seen first, the candidates waiting to replace
//! them, and the ping under way.

use std::collections::VecDeque;

use mydht_base::Peer;

/// A peer in a bucket.
#[derive(Debug, Clone)]
pub(super) struct Entry<P> {
    pub(super) peer: P,
    pub(super) last_seen: u64,
    pub(super) failures: u32,
    /// Heard from directly (it connected, answered); else only named in a
    /// peer's answer, a contact not yet proven.
    pub(super) confirmed: bool,
}

/// One k-bucket.
#[derive(Debug, Clone)]
pub(super) struct Bucket<P: Peer> {
    /// Least recently seen first.
    pub(super) entries: VecDeque<Entry<P>>,
    /// Newest candidate last.
    pub(super) replacements: VecDeque<P>,
    /// The peer pinged and since when.
    pub(super) pending: Option<(P::Id, u64)>,
    /// Last time a peer of the bucket was seen or a lookup in its range done.
    pub(super) last_activity: u64,
}

impl<P: Peer> Bucket<P> {
    pub(super) fn new(now: u64) -> Self {
        Bucket {
            entries: VecDeque::new(),
            replacements: VecDeque::new(),
            pending: None,
            last_activity: now,
        }
    }

    pub(super) fn position(&self, id: &P::Id) -> Option<usize> {
        self.entries.iter().position(|e| e.peer.get_id() == id)
    }

    /// The position of the least recently learned contact not confirmed.
    pub(super) fn oldest_unconfirmed(&self) -> Option<usize> {
        self.entries.iter().position(|e| !e.confirmed)
    }

    /// Makes the entry at `at` the most recently seen, at `now`, and
    /// confirmed; returns it.
    pub(super) fn touch(&mut self, at: usize, now: u64) -> Option<&mut Entry<P>> {
        let mut entry = self.entries.remove(at)?;
        entry.last_seen = now;
        entry.failures = 0;
        entry.confirmed = true;
        self.entries.push_back(entry);
        self.entries.back_mut()
    }

    /// Adds `peer` as the most recently seen (`confirmed`: heard from
    /// directly).
    pub(super) fn push(&mut self, peer: P, now: u64, confirmed: bool) {
        self.replacements.retain(|p| p.get_id() != peer.get_id());
        self.entries.push_back(Entry {
            peer,
            last_seen: now,
            failures: 0,
            confirmed,
        });
    }

    /// Removes the entry at `at` and moves the newest candidate in.
    pub(super) fn evict(&mut self, at: usize, now: u64) -> Option<P> {
        let evicted = self.entries.remove(at)?.peer;
        if self
            .pending
            .as_ref()
            .is_some_and(|(id, _)| id == evicted.get_id())
        {
            self.pending = None;
        }
        if let Some(peer) = self.replacements.pop_back() {
            // Candidates were heard from when they came.
            self.push(peer, now, true);
        }
        Some(evicted)
    }
}
