//! [`QueryBook`]: the queries a node sent through tunnels and awaits
//! replies for, bounded, with their deadlines.

use std::collections::HashMap;
use std::time::Instant;

use mydht::QueryId;
use tunnel::FullWriter;

use crate::error::TunnelSendError;
use crate::link::LinkId;

/// One query awaiting its reply.
#[derive(Debug)]
pub struct PendingQuery {
    /// The api query the reply answers.
    pub qid: QueryId,
    /// When the node gives up on it.
    pub deadline: Instant,
    /// The link its onion left on: error reports come back under it.
    pub link: LinkId,
    /// The onion's writer, which reads the route's error reports.
    pub writer: Option<Box<FullWriter>>,
}

/// Queries awaiting a reply, by the token their payload carries. Bounded:
/// when full, a new query is refused ([`TunnelSendError::TooManyPending`])
/// rather than an old one forgotten.
#[derive(Debug)]
pub struct QueryBook {
    capacity: usize,
    by_token: HashMap<u64, PendingQuery>,
    by_link: HashMap<LinkId, u64>,
}

impl QueryBook {
    /// A book of at most `capacity` queries.
    pub fn new(capacity: usize) -> Self {
        QueryBook {
            capacity,
            by_token: HashMap::new(),
            by_link: HashMap::new(),
        }
    }

    /// A fresh random token, not in use.
    pub fn new_token(&self) -> Result<u64, TunnelSendError> {
        loop {
            let mut b = [0u8; 8];
            openssl::rand::rand_bytes(&mut b).map_err(|e| TunnelSendError::Codec(e.to_string()))?;
            let token = u64::from_le_bytes(b);
            if !self.by_token.contains_key(&token) {
                return Ok(token);
            }
        }
    }

    /// Records `query` under `token` until its deadline.
    pub fn insert(&mut self, token: u64, query: PendingQuery) -> Result<(), TunnelSendError> {
        if self.by_token.len() >= self.capacity {
            return Err(TunnelSendError::TooManyPending);
        }
        self.by_link.insert(query.link, token);
        self.by_token.insert(token, query);
        Ok(())
    }

    /// Takes the query of `token`: a reply answers once.
    pub fn take(&mut self, token: u64) -> Option<PendingQuery> {
        let q = self.by_token.remove(&token)?;
        self.by_link.remove(&q.link);
        Some(q)
    }

    /// Takes the query whose onion left on `link` (an error report came).
    pub fn take_link(&mut self, link: &LinkId) -> Option<PendingQuery> {
        let token = self.by_link.remove(link)?;
        self.by_token.remove(&token)
    }

    /// Removes and returns the queries whose deadline passed at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<PendingQuery> {
        let tokens: Vec<u64> = self
            .by_token
            .iter()
            .filter(|(_, q)| q.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        let mut gone: Vec<PendingQuery> = tokens.into_iter().filter_map(|t| self.take(t)).collect();
        gone.sort_by_key(|q| q.qid);
        gone
    }

    /// Queries awaiting a reply.
    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    /// True when a new query would be refused.
    pub fn is_full(&self) -> bool {
        self.by_token.len() >= self.capacity
    }

    /// True when no query awaits a reply.
    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bounded_taken_once_and_expired_on_time() {
        let now = Instant::now();
        let q = |qid, secs, link| PendingQuery {
            qid,
            deadline: now + Duration::from_secs(secs),
            link: [link; 8],
            writer: None,
        };
        let mut book = QueryBook::new(2);
        let (a, b) = (book.new_token().unwrap(), book.new_token().unwrap());
        book.insert(a, q(1, 1, 1)).unwrap();
        book.insert(b, q(2, 3, 2)).unwrap();
        assert!(book.is_full());
        assert!(matches!(
            book.insert(7, q(3, 0, 3)),
            Err(TunnelSendError::TooManyPending)
        ));
        assert_eq!(book.take(a).map(|q| q.qid), Some(1));
        assert!(book.take(a).is_none());
        assert!(book.take_link(&[1; 8]).is_none(), "taken with its token");
        assert!(book.expire(now + Duration::from_secs(2)).is_empty());
        let gone = book.expire(now + Duration::from_secs(3));
        assert_eq!(gone.iter().map(|q| q.qid).collect::<Vec<_>>(), vec![2]);
        assert!(book.is_empty());
    }
}
