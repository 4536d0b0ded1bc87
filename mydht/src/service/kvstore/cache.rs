//! The query cache: the queries a node takes part in, bounded in number
//! (the oldest is evicted) and in time (each has a deadline). A query stays
//! after it is answered, until its deadline, so that the same query id
//! arriving again (a cycle in the route) is recognised and not processed
//! twice.

use std::collections::BTreeSet;
use std::time::Instant;

use mydht_base::{KVCache, KeyVal, Peer};

use super::bounded::BoundedMap;
use super::message::{ApiQueryId, QueryID};

/// Where the answer of a query goes.
#[derive(Debug, Clone)]
pub(crate) enum Upstream<P> {
    /// A local api query.
    Api(ApiQueryId),
    /// The previous hop of a proxied query.
    Peer(P),
    /// Nobody: this hop replied on its own (asynchronous mode), the entry
    /// is only there to recognise the query id.
    Nobody,
}

/// What a query collects.
#[derive(Debug, Clone)]
pub(crate) enum Work<V: KeyVal> {
    /// Values of `key`; with `near`, any values (the closest to `key` that
    /// each peer knows), each key once.
    Find {
        key: V::Key,
        found: Vec<V>,
        near: bool,
    },
    /// Peers that stored the value.
    Store { stored: u32 },
}

/// One query of the cache.
#[derive(Debug, Clone)]
pub(crate) struct QueryState<V: KeyVal, P: Peer> {
    pub(crate) upstream: Upstream<P>,
    pub(crate) work: Work<V>,
    /// Proxied peers that have not replied yet.
    pub(crate) awaiting: Vec<P::Id>,
    /// True when asynchronous replies come to this node (from anyone): the
    /// query then ends on its result count or its deadline only.
    pub(crate) collecting: bool,
    pub(crate) nb_result: u8,
    pub(crate) deadline: Instant,
    /// Answered; kept to recognise the id.
    pub(crate) done: bool,
}

impl<V: KeyVal, P: Peer> QueryState<V, P> {
    /// Results so far: values found or peers that stored.
    pub(crate) fn count(&self) -> usize {
        match &self.work {
            Work::Find { found, .. } => found.len(),
            Work::Store { stored } => *stored as usize,
        }
    }
}

/// The bounded query cache, with a deadline index for expiry.
pub(crate) struct QueryCache<V: KeyVal, P: Peer> {
    queries: BoundedMap<QueryID, QueryState<V, P>>,
    deadlines: BTreeSet<(Instant, QueryID)>,
}

impl<V: KeyVal, P: Peer> QueryCache<V, P> {
    pub(crate) fn new(capacity: usize) -> Self {
        QueryCache {
            queries: BoundedMap::new(capacity),
            deadlines: BTreeSet::new(),
        }
    }

    /// Removes and returns the queries whose deadline is `now` or earlier.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(QueryID, QueryState<V, P>)> {
        let mut expired = Vec::new();
        while let Some(&(deadline, qid)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(state) = self.queries.remove(&qid) {
                expired.push((qid, state));
            }
        }
        expired
    }

    /// The earliest deadline, when the node should tick next.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(d, _)| *d)
    }
}

impl<V: KeyVal, P: Peer> KVCache<QueryID, QueryState<V, P>> for QueryCache<V, P> {
    fn get_c(&self, key: &QueryID) -> Option<&QueryState<V, P>> {
        self.queries.get(key)
    }

    /// The deadline must not be changed through this reference: the expiry
    /// index keeps the one given at insertion.
    fn get_mut_c(&mut self, key: &QueryID) -> Option<&mut QueryState<V, P>> {
        self.queries.get_mut(key)
    }

    fn add_c(
        &mut self,
        key: QueryID,
        val: QueryState<V, P>,
    ) -> Option<(QueryID, QueryState<V, P>)> {
        if let Some(old) = self.queries.get(&key) {
            self.deadlines.remove(&(old.deadline, key));
        }
        self.deadlines.insert((val.deadline, key));
        let evicted = self.queries.insert(key, val)?;
        self.deadlines.remove(&(evicted.1.deadline, evicted.0));
        Some(evicted)
    }

    fn remove_c(&mut self, key: &QueryID) -> Option<QueryState<V, P>> {
        let state = self.queries.remove(key)?;
        self.deadlines.remove(&(state.deadline, *key));
        Some(state)
    }

    fn len_c(&self) -> usize {
        self.queries.len()
    }
}
