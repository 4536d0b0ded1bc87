//! [`Republisher`]: when each value a node holds is placed again on the
//! peers closest to its key — a plain state machine, the time given.
//!
//! A value is due every `interval` while it lives (counted from when the
//! node last got it: a holder that receives the value again from another
//! holder waits a whole interval more, so that holders do not all
//! republish the same value), and at once when the peers closest to its
//! key change: one of the peers it was placed on went offline, or a peer
//! closer to the key than one of them came online. Nothing happens until
//! [`due`](Republisher::due) is called, at the node's tick.

use std::collections::BTreeMap;

use mydht::PeerId;

use crate::key::Key;

/// The republishing state of one value.
#[derive(Debug, Clone)]
struct Entry {
    /// When it is next due (Unix ms).
    next_ms: u64,
    /// When the value expires: it is forgotten then.
    expires_ms: u64,
    /// The peers it was last placed on (this node not counted).
    placed: Vec<PeerId>,
    /// A holder went: placed again around the key at the next tick.
    dirty: bool,
    /// Peers that came online among the closest: placed on them at the
    /// next tick (at most [`MAX_NEWCOMERS`]; past it, `dirty`).
    newcomers: Vec<PeerId>,
}

/// Most peers remembered per value as holding it.
const MAX_PLACED: usize = 64;

/// Most newcomers remembered per value.
const MAX_NEWCOMERS: usize = 8;

/// Where a due value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// To the peers closest to its key (found again).
    Around,
    /// To these peers only: they came online among the closest.
    On(Vec<PeerId>),
}

/// The republishing schedule of the values a node holds, at most
/// `capacity` of them (the store's own bound).
#[derive(Debug, Clone)]
pub struct Republisher {
    entries: BTreeMap<Key, Entry>,
    interval_ms: u64,
    capacity: usize,
}

impl Republisher {
    /// A schedule republishing every `interval_ms` (0: only when the
    /// closest peers change), for at most `capacity` values.
    pub fn new(interval_ms: u64, capacity: usize) -> Self {
        Republisher {
            entries: BTreeMap::new(),
            interval_ms,
            capacity: capacity.max(1),
        }
    }

    /// Number of values scheduled.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no value is scheduled.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The node holds the value of `key`, expiring at `expires_ms`, from
    /// `now_ms` on (it stored it, or a peer placed it): due a whole
    /// interval later. False when the schedule is full (the value is held
    /// but not republished).
    pub fn held(&mut self, key: Key, expires_ms: u64, now_ms: u64) -> bool {
        let next_ms = self.next_after(now_ms);
        if let Some(e) = self.entries.get_mut(&key) {
            e.next_ms = next_ms;
            e.expires_ms = expires_ms;
            return true;
        }
        if self.entries.len() >= self.capacity {
            self.entries.retain(|_, e| e.expires_ms > now_ms);
            if self.entries.len() >= self.capacity {
                return false;
            }
        }
        self.entries.insert(
            key,
            Entry {
                next_ms,
                expires_ms,
                placed: Vec::new(),
                dirty: false,
                newcomers: Vec::new(),
            },
        );
        true
    }

    /// The value of `key` was placed on `peers` (it is not re-placed for
    /// them until one of them goes or a closer peer comes).
    pub fn placed(&mut self, key: &Key, peers: Vec<PeerId>) {
        if let Some(e) = self.entries.get_mut(key) {
            e.placed = peers;
        }
    }

    /// The value of `key` was placed on `peers` too (newcomers among the
    /// closest), besides the peers it was placed on before (at most 64 are
    /// remembered, the newest).
    pub fn placed_also(&mut self, key: &Key, peers: Vec<PeerId>) {
        if let Some(e) = self.entries.get_mut(key) {
            for p in peers {
                if !e.placed.contains(&p) {
                    e.placed.push(p);
                }
            }
            let over = e.placed.len().saturating_sub(MAX_PLACED);
            e.placed.drain(..over);
        }
    }

    /// The peers the value of `key` was last placed on.
    pub fn placed_on(&self, key: &Key) -> &[PeerId] {
        self.entries.get(key).map_or(&[], |e| &e.placed)
    }

    /// Peer `id` went offline: the values placed on it are due. How many.
    pub fn offline(&mut self, id: &PeerId) -> usize {
        let mut n = 0;
        for e in self.entries.values_mut() {
            if let Some(at) = e.placed.iter().position(|p| p == id) {
                e.placed.swap_remove(at);
                e.dirty = true;
                n += 1;
            }
        }
        n
    }

    /// Peer `id` came online: the values for which `among_closest` says it
    /// is now among the peers closest to the key (and that were not placed
    /// on it) are due, for it alone. How many.
    pub fn online(&mut self, id: &PeerId, mut among_closest: impl FnMut(&Key) -> bool) -> usize {
        let mut n = 0;
        for (key, e) in self.entries.iter_mut() {
            if e.placed.contains(id) || e.newcomers.contains(id) || !among_closest(key) {
                continue;
            }
            if e.newcomers.len() < MAX_NEWCOMERS {
                e.newcomers.push(*id);
            } else {
                e.dirty = true;
            }
            n += 1;
        }
        n
    }

    /// Makes every value due at the next [`due`](Self::due).
    pub fn force_all(&mut self) {
        for e in self.entries.values_mut() {
            e.dirty = true;
        }
    }

    /// Forgets the value of `key` (the store no longer holds it).
    pub fn forget(&mut self, key: &Key) {
        self.entries.remove(key);
    }

    /// At most `max` values due at `now_ms`, in key order, and where each
    /// goes: around its key when a holder went or its interval passed (it
    /// is then rescheduled a whole interval later), else on the newcomers.
    /// Expired values are forgotten.
    pub fn due(&mut self, now_ms: u64, max: usize) -> Vec<(Key, Due)> {
        self.entries.retain(|_, e| e.expires_ms > now_ms);
        let next_ms = self.next_after(now_ms);
        let mut due = Vec::new();
        for (key, e) in self.entries.iter_mut() {
            if due.len() >= max {
                break;
            }
            if e.dirty || e.next_ms <= now_ms {
                e.dirty = false;
                e.newcomers.clear();
                e.next_ms = next_ms;
                due.push((*key, Due::Around));
            } else if !e.newcomers.is_empty() {
                due.push((*key, Due::On(std::mem::take(&mut e.newcomers))));
            }
        }
        due
    }

    fn next_after(&self, now_ms: u64) -> u64 {
        match self.interval_ms {
            0 => u64::MAX,
            i => now_ms.saturating_add(i),
        }
    }
}
