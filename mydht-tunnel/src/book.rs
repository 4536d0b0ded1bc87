//! [`QueryBook`]: the queries a node sent through tunnels and awaits
//! replies for, bounded, with their deadlines.

use std::collections::HashMap;
use std::time::Instant;

use mydht::QueryId;

use crate::error::TunnelSendError;

/// One query awaiting its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingQuery {
    /// The api query the reply answers.
    pub qid: QueryId,
    /// When the node gives up on it.
    pub deadline: Instant,
}

/// Queries awaiting a reply, by the token their payload carries. Bounded:
/// when full, a new query is refused ([`TunnelSendError::TooManyPending`])
/// rather than an old one forgotten.
#[derive(Debug)]
pub struct QueryBook {
    capacity: usize,
    by_token: HashMap<u64, PendingQuery>,
}

impl QueryBook {
    /// A book of at most `capacity` queries.
    pub fn new(capacity: usize) -> Self {
        QueryBook {
            capacity,
            by_token: HashMap::new(),
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

    /// Records query `qid` under `token` until `deadline`.
    pub fn insert(
        &mut self,
        token: u64,
        qid: QueryId,
        deadline: Instant,
    ) -> Result<(), TunnelSendError> {
        if self.by_token.len() >= self.capacity {
            return Err(TunnelSendError::TooManyPending);
        }
        self.by_token.insert(token, PendingQuery { qid, deadline });
        Ok(())
    }

    /// Takes the query of `token`: a reply answers once.
    pub fn take(&mut self, token: u64) -> Option<PendingQuery> {
        self.by_token.remove(&token)
    }

    /// Removes and returns the queries whose deadline passed at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<PendingQuery> {
        let mut gone = Vec::new();
        self.by_token.retain(|_, q| {
            let keep = q.deadline > now;
            if !keep {
                gone.push(*q);
            }
            keep
        });
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
        let mut book = QueryBook::new(2);
        let (a, b) = (book.new_token().unwrap(), book.new_token().unwrap());
        book.insert(a, 1, now + Duration::from_secs(1)).unwrap();
        book.insert(b, 2, now + Duration::from_secs(3)).unwrap();
        assert!(matches!(
            book.insert(7, 3, now),
            Err(TunnelSendError::TooManyPending)
        ));
        assert_eq!(book.take(a).map(|q| q.qid), Some(1));
        assert_eq!(book.take(a), None);
        assert!(book.expire(now + Duration::from_secs(2)).is_empty());
        let gone = book.expire(now + Duration::from_secs(3));
        assert_eq!(gone.iter().map(|q| q.qid).collect::<Vec<_>>(), vec![2]);
        assert!(book.is_empty());
    }
}
