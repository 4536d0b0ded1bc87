//! [`RoutingTable`]: the k-buckets of a Kademlia node, as a state machine:
//! peers and time in, pings to send and ids to look up out.

use mydht_base::{Peer, Route};

use super::bucket::Bucket;
use super::conf::{KademliaConf, Seen};
use super::distance::{bucket_index, Distance, KadId, ID_BITS};
use super::rng::SplitMix64;

/// The k-buckets of a node: for each of the 256 distance ranges from the
/// node's id, at most `k` peers, least recently seen first, and a bounded
/// cache of candidates to replace them.
///
/// Fed by the peers the node meets ([`seen`](RoutingTable::seen)), the
/// contacts peers name in their answers
/// ([`learned`](RoutingTable::learned)) and what becomes of them
/// ([`ping_result`](RoutingTable::ping_result),
/// [`failed`](RoutingTable::failed), [`timeouts`](RoutingTable::timeouts)),
/// it answers [`closest`](RoutingTable::closest) (and
/// [`closest_confirmed`](RoutingTable::closest_confirmed), the peers heard
/// from directly) and tells which buckets to refresh
/// ([`refresh_due`](RoutingTable::refresh_due),
/// [`refresh_all`](RoutingTable::refresh_all)). A contact only takes room
/// no peer heard from wants: a peer heard from replaces it, and it leaves
/// at its first failure. A full bucket never drops a live peer for a
/// newcomer: it asks for a ping of its least recently seen peer and evicts
/// it only when the ping fails. Everything is deterministic: no hashing
/// order, randomness from a seed, time given.
///
/// ```
/// use mydht_kvstore::kademlia::{KademliaConf, RoutingTable, Seen};
/// use mydht_base::Peer;
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct P([u8; 32], String, [u8; 32]);
/// impl Peer for P {
///     type Id = [u8; 32];
///     type Address = String;
///     fn get_id(&self) -> &[u8; 32] { &self.0 }
///     fn get_address(&self) -> &String { &self.1 }
///     fn tunnel_public_key(&self) -> &[u8; 32] { &self.2 }
/// }
/// let peer = |b: u8| { let mut id = [0; 32]; id[0] = b; P(id, String::new(), [0; 32]) };
///
/// let conf = KademliaConf { k: 1, ..KademliaConf::default() };
/// let mut table = RoutingTable::new([0; 32], conf, 7, 0);
/// assert_eq!(table.seen(peer(0x80), 1), Seen::Added);
/// // Same bucket, full: ping the old one before anything else.
/// assert_eq!(table.seen(peer(0x81), 2), Seen::Ping(peer(0x80)));
/// assert_eq!(table.ping_result(&peer(0x80).0, false, 3), Some(peer(0x80)));
/// assert_eq!(table.closest(&[0xff; 32], 1, &[]), vec![peer(0x81)]);
/// ```
#[derive(Debug, Clone)]
pub struct RoutingTable<P: Peer> {
    own: [u8; 32],
    conf: KademliaConf,
    buckets: Vec<Bucket<P>>,
    rng: SplitMix64,
}

impl<P: Peer> RoutingTable<P>
where
    P::Id: KadId,
{
    /// An empty table for the node of id `own`, its refresh ids drawn from
    /// `seed`, created at `now_ms`.
    pub fn new(own: impl KadId, mut conf: KademliaConf, seed: u64, now_ms: u64) -> Self {
        conf.k = conf.k.max(1);
        conf.max_failures = conf.max_failures.max(1);
        RoutingTable {
            own: own.kad_id(),
            conf,
            buckets: (0..ID_BITS).map(|_| Bucket::new(now_ms)).collect(),
            rng: SplitMix64::new(seed),
        }
    }

    /// The table's parameters.
    pub fn conf(&self) -> &KademliaConf {
        &self.conf
    }

    /// The node's own id.
    pub fn own_id(&self) -> &[u8; 32] {
        &self.own
    }

    /// Number of peers in the buckets (candidates not counted).
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.entries.len()).sum()
    }

    /// True when no peer is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The peers of bucket `index` (see [`bucket_index`]), least recently
    /// seen first; none for an index over 255.
    pub fn bucket(&self, index: usize) -> impl Iterator<Item = &P> {
        self.buckets
            .get(index)
            .into_iter()
            .flat_map(|b| b.entries.iter().map(|e| &e.peer))
    }

    /// The candidates waiting to enter bucket `index`, oldest first.
    pub fn replacements(&self, index: usize) -> impl Iterator<Item = &P> {
        self.buckets
            .get(index)
            .into_iter()
            .flat_map(|b| b.replacements.iter())
    }

    /// The peer of id `id`, if it is in a bucket.
    pub fn get(&self, id: &P::Id) -> Option<&P> {
        let b = &self.buckets[bucket_index(&self.own, id)?];
        b.position(id)
            .and_then(|at| b.entries.get(at))
            .map(|e| &e.peer)
    }

    /// True when the peer of id `id` is in a bucket.
    pub fn contains(&self, id: &P::Id) -> bool {
        self.get(id).is_some()
    }

    /// Records that `peer` was heard from at `now_ms` (it connected, sent a
    /// message or answered). Says what the table did, and whether a ping is
    /// wanted.
    pub fn seen(&mut self, peer: P, now_ms: u64) -> Seen<P> {
        let Some(index) = bucket_index(&self.own, peer.get_id()) else {
            return Seen::Own;
        };
        let conf = self.conf;
        let bucket = &mut self.buckets[index];
        bucket.last_activity = now_ms;
        if let Some(at) = bucket.position(peer.get_id()) {
            if bucket
                .pending
                .as_ref()
                .is_some_and(|(id, _)| id == peer.get_id())
            {
                bucket.pending = None;
            }
            if let Some(entry) = bucket.touch(at, now_ms) {
                // The peer's latest address.
                entry.peer = peer;
            }
            return Seen::Refreshed;
        }
        if bucket.entries.len() < conf.k {
            bucket.push(peer, now_ms, true);
            return Seen::Added;
        }
        // A peer heard from directly takes the place of a contact only
        // named by others.
        if let Some(at) = bucket.oldest_unconfirmed() {
            bucket.entries.remove(at);
            bucket.push(peer, now_ms, true);
            return Seen::Added;
        }
        if conf.replacements > 0 {
            bucket.replacements.retain(|p| p.get_id() != peer.get_id());
            if bucket.replacements.len() >= conf.replacements {
                bucket.replacements.pop_front();
            }
            bucket.replacements.push_back(peer);
        }
        if bucket.pending.is_some() {
            return Seen::Queued;
        }
        match bucket.entries.front() {
            Some(oldest) => {
                let oldest = oldest.peer.clone();
                bucket.pending = Some((oldest.get_id().clone(), now_ms));
                Seen::Ping(oldest)
            }
            // A full bucket is never empty (k is at least one).
            None => Seen::Queued,
        }
    }

    /// Records that a peer named `peer` in an answer (a contact, not heard
    /// from directly): it enters its bucket, unconfirmed, only when the
    /// bucket has room, and is dropped at its first failure
    /// ([`failed`](RoutingTable::failed)) or when a peer heard from needs
    /// its place. True when it was added.
    pub fn learned(&mut self, peer: P, now_ms: u64) -> bool {
        let Some(index) = bucket_index(&self.own, peer.get_id()) else {
            return false;
        };
        let k = self.conf.k;
        let bucket = &mut self.buckets[index];
        if bucket.entries.len() >= k || bucket.position(peer.get_id()).is_some() {
            return false;
        }
        bucket.push(peer, now_ms, false);
        true
    }

    /// True when the peer of id `id` is in a bucket and was heard from
    /// directly; false for a contact only named by others, or unknown.
    pub fn is_confirmed(&self, id: &P::Id) -> bool {
        bucket_index(&self.own, id).is_some_and(|index| {
            let b = &self.buckets[index];
            b.position(id)
                .and_then(|at| b.entries.get(at))
                .is_some_and(|e| e.confirmed)
        })
    }

    /// The answer to a ping that [`seen`](RoutingTable::seen) asked for:
    /// alive, the peer becomes its bucket's most recently seen; dead, it is
    /// evicted, replaced by the newest candidate, and returned. A result for
    /// a peer that was not being pinged only refreshes it when alive.
    pub fn ping_result(&mut self, id: &P::Id, alive: bool, now_ms: u64) -> Option<P> {
        let index = bucket_index(&self.own, id)?;
        let bucket = &mut self.buckets[index];
        let at = bucket.position(id)?;
        let pinged = bucket.pending.as_ref().is_some_and(|(p, _)| p == id);
        if alive {
            if pinged {
                bucket.pending = None;
            }
            bucket.last_activity = now_ms;
            bucket.touch(at, now_ms);
            None
        } else if pinged {
            bucket.evict(at, now_ms)
        } else {
            None
        }
    }

    /// Records that a request to the peer of id `id` failed (no answer, a
    /// broken connection). At [`KademliaConf::max_failures`] failures (at
    /// the first for a contact never heard from) the peer is evicted,
    /// replaced by the newest candidate, and returned. A candidate of that
    /// id leaves the replacement cache.
    pub fn failed(&mut self, id: &P::Id, now_ms: u64) -> Option<P> {
        let max = self.conf.max_failures;
        let bucket = &mut self.buckets[bucket_index(&self.own, id)?];
        bucket.replacements.retain(|p| p.get_id() != id);
        let at = bucket.position(id)?;
        let entry = bucket.entries.get_mut(at)?;
        entry.failures = entry.failures.saturating_add(1);
        if entry.failures >= max || !entry.confirmed {
            bucket.evict(at, now_ms)
        } else {
            None
        }
    }

    /// Pings unanswered for [`KademliaConf::ping_timeout_ms`] at `now_ms`
    /// count as failed pings: their peers are evicted and returned.
    pub fn timeouts(&mut self, now_ms: u64) -> Vec<P> {
        let timeout = self.conf.ping_timeout_ms;
        let mut evicted = Vec::new();
        for bucket in &mut self.buckets {
            let Some((id, since)) = bucket.pending.clone() else {
                continue;
            };
            if now_ms.saturating_sub(since) < timeout {
                continue;
            }
            bucket.pending = None;
            if let Some(at) = bucket.position(&id) {
                evicted.extend(bucket.evict(at, now_ms));
            }
        }
        evicted
    }

    /// Records a lookup of `target` at `now_ms`: its bucket needs no
    /// refresh for another interval.
    pub fn looked_up(&mut self, target: &impl KadId, now_ms: u64) {
        if let Some(index) = bucket_index(&self.own, target) {
            self.buckets[index].last_activity = now_ms;
        }
    }

    /// The ids to look up to refresh the buckets idle for
    /// [`KademliaConf::refresh_interval_ms`] at `now_ms`: one random id in
    /// each such bucket's range, farthest bucket first. Only the buckets
    /// from the one below the closest non-empty bucket up to the farthest
    /// are considered (closer ones cannot hold anyone the node can learn
    /// of); an empty table refreshes nothing. The buckets returned count as
    /// refreshed.
    pub fn refresh_due(&mut self, now_ms: u64) -> Vec<[u8; 32]> {
        self.refresh(now_ms, self.conf.refresh_interval_ms)
    }

    /// As [`refresh_due`](Self::refresh_due), every bucket of the range
    /// idle or not: what a node joining the network looks up once it
    /// found its closest peers (Kademlia's join), so that it knows peers
    /// in every part of the id space and they know it.
    pub fn refresh_all(&mut self, now_ms: u64) -> Vec<[u8; 32]> {
        self.refresh(now_ms, 0)
    }

    fn refresh(&mut self, now_ms: u64, interval: u64) -> Vec<[u8; 32]> {
        let Some(closest) = self.buckets.iter().position(|b| !b.entries.is_empty()) else {
            return Vec::new();
        };
        let mut ids = Vec::new();
        for index in (closest.saturating_sub(1)..ID_BITS).rev() {
            if interval > 0 && now_ms.saturating_sub(self.buckets[index].last_activity) < interval {
                continue;
            }
            self.buckets[index].last_activity = now_ms;
            ids.push(self.random_id_in(index));
        }
        ids
    }

    /// A random id whose bucket is `index` (at most 255).
    pub fn random_id_in(&mut self, index: usize) -> [u8; 32] {
        let index = index.min(ID_BITS - 1);
        let mut distance = self.rng.next_id();
        // Bit `index`, counted from the least significant, is the highest set.
        let byte = 31 - index / 8;
        let bit = index % 8;
        distance[..byte].fill(0);
        let keep = ((1u16 << bit) - 1) as u8;
        distance[byte] = (distance[byte] & keep) | (1 << bit);
        std::array::from_fn(|i| self.own[i] ^ distance[i])
    }

    /// The `n` known peers closest to `target` by XOR distance, closest
    /// first, none of whose id is in `exclude` (contacts not confirmed
    /// included).
    pub fn closest(&self, target: &impl KadId, n: usize, exclude: &[P::Id]) -> Vec<P> {
        self.closest_where(target, n, exclude, false)
    }

    /// As [`closest`](Self::closest), only the peers heard from directly:
    /// what a node tells others, so that a contact nobody checked does not
    /// spread.
    pub fn closest_confirmed(&self, target: &impl KadId, n: usize, exclude: &[P::Id]) -> Vec<P> {
        self.closest_where(target, n, exclude, true)
    }

    /// What a node tells a peer that asks for the `n` peers closest to
    /// `target`: the `n` closest it heard from directly, closest first,
    /// and, apart, at most `contacts` contacts (peers only named in
    /// answers, not heard from) closer to `target` than the farthest of
    /// those (any contacts when fewer than `n` were heard from), closest
    /// first; none of `exclude`. A node that heard from no peer in the
    /// target's part of the id space still points the asker there: told
    /// only the peers heard from, a lookup can end among the closest
    /// peers its answerers heard from, which need not be the closest that
    /// exist (the contacts of a joining node's bucket refreshes are never
    /// heard from). The asker tries the contacts without keeping them, so
    /// that a contact nobody checked does not spread from table to table.
    pub fn closest_to_tell(
        &self,
        target: &impl KadId,
        n: usize,
        contacts: usize,
        exclude: &[P::Id],
    ) -> (Vec<P>, Vec<P>) {
        let target = target.kad_id();
        let told = self.closest_where(&target, n, exclude, true);
        if contacts == 0 {
            return (told, Vec::new());
        }
        let bound = match told.last() {
            Some(far) if told.len() >= n => Some(Distance::between(far.get_id(), &target)),
            _ => None,
        };
        let mut closer: Vec<(Distance, &P)> = self
            .buckets
            .iter()
            .flat_map(|b| b.entries.iter())
            .filter(|e| !e.confirmed && !exclude.contains(e.peer.get_id()))
            .map(|e| (Distance::between(e.peer.get_id(), &target), &e.peer))
            .filter(|(d, _)| bound.is_none_or(|b| *d < b))
            .collect();
        closer.sort_unstable_by_key(|(d, _)| *d);
        let closer = closer
            .into_iter()
            .take(contacts)
            .map(|(_, p)| p.clone())
            .collect();
        (told, closer)
    }

    /// How many peers of the table are closer to `target` than
    /// `distance`, counting up to `limit`, none of `exclude`; only those
    /// heard from directly when `confirmed`. Neither sorts nor copies a
    /// peer.
    pub fn count_closer(
        &self,
        target: &impl KadId,
        distance: &Distance,
        limit: usize,
        exclude: &[P::Id],
        confirmed: bool,
    ) -> usize {
        let target = target.kad_id();
        self.buckets
            .iter()
            .flat_map(|b| b.entries.iter())
            .filter(|e| (e.confirmed || !confirmed) && !exclude.contains(e.peer.get_id()))
            .filter(|e| Distance::between(e.peer.get_id(), &target) < *distance)
            .take(limit)
            .count()
    }

    fn closest_where(
        &self,
        target: &impl KadId,
        n: usize,
        exclude: &[P::Id],
        confirmed: bool,
    ) -> Vec<P> {
        let mut all: Vec<(Distance, &P)> = self
            .buckets
            .iter()
            .flat_map(|b| b.entries.iter())
            .filter(|e| (e.confirmed || !confirmed) && !exclude.contains(e.peer.get_id()))
            .map(|e| (Distance::between(e.peer.get_id(), target), &e.peer))
            .collect();
        // Distinct ids are at distinct distances: the order is total, and
        // the n closest are the same whether all are sorted or only they.
        if all.len() > n {
            if n == 0 {
                return Vec::new();
            }
            all.select_nth_unstable_by_key(n - 1, |(d, _)| *d);
            all.truncate(n);
        }
        all.sort_unstable_by_key(|(d, _)| *d);
        all.into_iter().map(|(_, p)| p.clone()).collect()
    }
}

impl<P, K> Route<P, K> for RoutingTable<P>
where
    P: Peer,
    P::Id: KadId,
    K: KadId,
{
    /// [`RoutingTable::closest`].
    fn route(&mut self, key: &K, nb: usize, exclude: &[P::Id]) -> Vec<P> {
        self.closest(key, nb, exclude)
    }
}
