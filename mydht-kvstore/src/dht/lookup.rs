//! [`Lookup`]: one iterative Kademlia lookup — a plain state machine, the
//! time given. It keeps the peers it knows of closest to the target,
//! asks up to α of them at once for closer ones (and for the value), and
//! ends when the k closest it knows have all answered, nothing closer is
//! left to ask, the values wanted are found or its deadline passes.

use mydht::{PeerId, PeerInfo};
use mydht_base::Peer;

use crate::kademlia::Distance;
use crate::key::Key;
use crate::value::SignedValue;

/// The parameters of iterative lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupConf {
    /// Requests in flight per lookup (α).
    pub alpha: usize,
    /// The closest peers a lookup wants answers from (k), and the most
    /// peers an answer carries.
    pub k: usize,
    /// How long a peer has to answer (dial included) before it counts as
    /// failed, in milliseconds.
    pub peer_timeout_ms: u64,
    /// Most lookups under way at once; past it, a get or put is refused.
    pub max_lookups: usize,
    /// Requests a lookup for a value sends to its connected peers before
    /// any answer or failure (at most α): 1 by default, the closest
    /// connected peer among the k closest alone, since any of the key's
    /// closest peers may hold the value and one answer with it ends the
    /// lookup; α are asked at once after an answer without it, a failure,
    /// or a request unanswered for a quarter of `peer_timeout_ms`. α: the
    /// first answer of α wins (fewer slow peers in the tail, α times the
    /// requests).
    pub value_first: usize,
}

impl Default for LookupConf {
    /// α = 3, k = 20, 2 s per peer, 256 lookups, a value asked of one
    /// connected peer first.
    fn default() -> Self {
        LookupConf {
            alpha: 3,
            k: 20,
            peer_timeout_ms: 2000,
            max_lookups: 256,
            value_first: 1,
        }
    }
}

/// Where a known peer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not asked yet.
    Fresh,
    /// Asked at this time (ms), no answer yet.
    Asked(u64),
    /// Answered.
    Answered,
    /// Did not answer in time, went offline, or could not be reached.
    Failed,
}

#[derive(Debug, Clone)]
struct Candidate {
    distance: Distance,
    peer: PeerInfo,
    state: State,
    /// Hops from this node: 1 for the peers it started with.
    depth: u8,
}

/// One iterative lookup of a key: for its value, or for the peers closest
/// to it.
#[derive(Debug, Clone)]
pub struct Lookup {
    target: Key,
    me: PeerId,
    /// Values wanted (0: only the closest peers).
    want: usize,
    conf: LookupConf,
    /// Known peers, closest first, at most `4 k`.
    candidates: Vec<Candidate>,
    values: Vec<SignedValue>,
    deadline_ms: u64,
    /// Requests sent.
    asked: u32,
    /// Depth of the peer whose answer gave the first value.
    found_depth: Option<u8>,
    /// Answers received.
    answers: usize,
    /// Ends once this many peers answered (a sample of the target's
    /// neighbourhood, not its k closest).
    enough: Option<usize>,
}

impl Lookup {
    /// A lookup of `target` by node `me`, wanting `want` values (0: the
    /// closest peers only), starting from `seeds`, ending by
    /// `deadline_ms`.
    pub fn new(
        target: Key,
        me: PeerId,
        want: usize,
        seeds: Vec<PeerInfo>,
        conf: LookupConf,
        deadline_ms: u64,
    ) -> Self {
        let mut lookup = Lookup {
            target,
            me,
            want,
            conf,
            candidates: Vec::new(),
            values: Vec::new(),
            deadline_ms,
            asked: 0,
            found_depth: None,
            answers: 0,
            enough: None,
        };
        lookup.learn(seeds, 1);
        lookup
    }

    /// This lookup ends once `answers` peers answered, asking its
    /// connected peers among the k closest first: a bucket refresh, whose
    /// answers fill the bucket with contacts and need no connection to
    /// the target's k closest.
    pub fn sampling(mut self, answers: usize) -> Self {
        self.enough = Some(answers.max(1));
        self
    }

    /// The key looked up.
    pub fn target(&self) -> &Key {
        &self.target
    }

    /// True when it wants values (else only the closest peers).
    pub fn wants_values(&self) -> bool {
        self.want > 0
    }

    /// Requests sent so far.
    pub fn asked(&self) -> u32 {
        self.asked
    }

    /// Hops to the first value found (1: a peer this node started with).
    pub fn found_depth(&self) -> Option<u8> {
        self.found_depth
    }

    /// The values found, each from a different peer.
    pub fn values(&self) -> &[SignedValue] {
        &self.values
    }

    /// Takes the values found.
    pub fn take_values(&mut self) -> Vec<SignedValue> {
        std::mem::take(&mut self.values)
    }

    /// The peers to ask now, at `now_ms` (marked asked): the closest not
    /// asked yet among the k closest still possible, while fewer than α
    /// requests are in flight. A request unanswered for a quarter of the
    /// peer timeout no longer counts as in flight (it may still be
    /// answered): a dead peer holds up no one.
    pub fn next(&mut self, now_ms: u64) -> Vec<PeerInfo> {
        self.next_with(now_ms, |_| true)
    }

    /// As [`next`](Self::next), for a node that must dial the peers for
    /// which `connected` is false: a lookup for a value asks the closest
    /// connected peers among the k closest first (any of the peers
    /// closest to the key may hold the value, and asking one costs no
    /// connection) — [`LookupConf::value_first`] of them until a first
    /// answer or failure, then α — and dials only while no request is in
    /// flight; so does a [`sampling`](Self::sampling) lookup (α at once).
    /// A lookup for the closest peers asks in order of distance.
    pub fn next_with(&mut self, now_ms: u64, connected: impl Fn(&PeerId) -> bool) -> Vec<PeerInfo> {
        let stall = (self.conf.peer_timeout_ms / 4).max(1);
        let mut in_flight = self
            .candidates
            .iter()
            .filter(|c| matches!(c.state, State::Asked(t) if now_ms.saturating_sub(t) < stall))
            .count();
        let alpha = self.conf.alpha.max(1);
        let in_order = self.want == 0 && self.enough.is_none();
        // A value's first connected peers, before anything was heard.
        let first = self.want > 0
            && self.answers == 0
            && self.candidates.iter().all(|c| match c.state {
                State::Fresh => true,
                State::Asked(t) => now_ms.saturating_sub(t) < stall,
                State::Answered | State::Failed => false,
            });
        let mut ask = Vec::new();
        // First the connected peers (every peer when not for a value),
        // then, with nothing in flight, the others.
        for pass in 0..2 {
            if in_flight > 0 && pass == 1 {
                break;
            }
            let most = if first && pass == 0 {
                self.conf.value_first.clamp(1, alpha)
            } else {
                alpha
            };
            let mut live = 0;
            for c in self.candidates.iter_mut() {
                if live >= self.conf.k || in_flight >= most {
                    break;
                }
                match c.state {
                    State::Failed => continue,
                    State::Fresh if pass == 1 || in_order || connected(c.peer.get_id()) => {
                        c.state = State::Asked(now_ms);
                        in_flight += 1;
                        self.asked += 1;
                        ask.push(c.peer.clone());
                    }
                    State::Fresh | State::Asked(_) | State::Answered => {}
                }
                live += 1;
            }
        }
        ask
    }

    /// Peer `from` answered with `peers` closer to the target, and the
    /// value it holds if it was asked for one (already checked by the
    /// caller). An answer from a peer that was not asked is ignored;
    /// false then.
    pub fn answered(
        &mut self,
        from: &PeerId,
        peers: Vec<PeerInfo>,
        value: Option<SignedValue>,
    ) -> bool {
        let Some(c) = self
            .candidates
            .iter_mut()
            .find(|c| c.peer.get_id() == from && matches!(c.state, State::Asked(_)))
        else {
            return false;
        };
        c.state = State::Answered;
        self.answers += 1;
        let depth = c.depth;
        if let Some(v) = value {
            if self.want > 0 && v.key() == &self.target && self.values.len() < self.want {
                self.found_depth.get_or_insert(depth);
                self.values.push(v);
            }
        }
        let mut peers = peers;
        peers.truncate(self.conf.k);
        self.learn(peers, depth.saturating_add(1));
        true
    }

    /// Peer `id` cannot answer (offline, unreachable): failed.
    pub fn failed(&mut self, id: &PeerId) {
        for c in self.candidates.iter_mut() {
            if c.peer.get_id() == id && !matches!(c.state, State::Answered) {
                c.state = State::Failed;
            }
        }
    }

    /// Requests unanswered for the peer timeout at `now_ms` fail: their
    /// peers, returned.
    pub fn expire(&mut self, now_ms: u64) -> Vec<PeerId> {
        let timeout = self.conf.peer_timeout_ms;
        let mut failed = Vec::new();
        for c in self.candidates.iter_mut() {
            if let State::Asked(since) = c.state {
                if now_ms.saturating_sub(since) >= timeout {
                    c.state = State::Failed;
                    failed.push(*c.peer.get_id());
                }
            }
        }
        failed
    }

    /// True when the lookup is over at `now_ms`: the values wanted found,
    /// its deadline passed, or the k closest possible peers all answered
    /// (nothing in flight, nobody closer left to ask).
    pub fn is_done(&self, now_ms: u64) -> bool {
        if now_ms >= self.deadline_ms || (self.want > 0 && self.values.len() >= self.want) {
            return true;
        }
        if self.enough.is_some_and(|n| self.answers >= n) {
            return true;
        }
        self.candidates
            .iter()
            .filter(|c| c.state != State::Failed)
            .take(self.conf.k)
            .all(|c| c.state == State::Answered)
    }

    /// The `n` closest peers that answered, closest first.
    pub fn closest_answered(&self, n: usize) -> Vec<PeerInfo> {
        self.candidates
            .iter()
            .filter(|c| c.state == State::Answered)
            .take(n)
            .map(|c| c.peer.clone())
            .collect()
    }

    /// Adds the peers not known yet (nor this node) at `depth`, keeping at
    /// most `4 k`, closest first (the farthest unasked go first).
    fn learn(&mut self, peers: Vec<PeerInfo>, depth: u8) {
        for peer in peers {
            if peer.get_id() == &self.me {
                continue;
            }
            let distance = Distance::between(peer.get_id(), &self.target);
            match self
                .candidates
                .binary_search_by(|c| c.distance.cmp(&distance))
            {
                Ok(_) => {} // known (distinct ids, distinct distances)
                Err(at) => self.candidates.insert(
                    at,
                    Candidate {
                        distance,
                        peer,
                        state: State::Fresh,
                        depth,
                    },
                ),
            }
        }
        let cap = self.conf.k.max(1).saturating_mul(4);
        while self.candidates.len() > cap {
            match self
                .candidates
                .iter()
                .rposition(|c| c.state == State::Fresh)
            {
                Some(at) => {
                    self.candidates.remove(at);
                }
                None => break,
            }
        }
    }
}
