//! [`EphemeralKeys`]: the header's fresh key pairs, made ahead.

use std::collections::VecDeque;

use crate::crypto::{CryptoError, X25519Secret};

/// Key pairs for the sender's headers, made before a query needs them.
///
/// A header carries a fresh X25519 key pair per hop (its public key is the
/// hop's ephemeral key), so a query through 3 relays each way makes 8 key
/// pairs before anything is sent: one X25519 scalar multiplication each,
/// the part of the header that depends on nothing of the route. A sender
/// that has quiet moments makes them then ([`make`](Self::make)) and a
/// header takes them from here; when there are none left, it makes its own
/// as it always did. Bounded: at most `capacity` pairs are held, and each
/// is taken once (removed) and never used for a second header.
pub struct EphemeralKeys {
    keys: VecDeque<X25519Secret>,
    capacity: usize,
}

impl EphemeralKeys {
    /// An empty store that holds at most `capacity` key pairs.
    pub fn new(capacity: usize) -> Self {
        EphemeralKeys {
            keys: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// A store that holds nothing: every key pair is made when needed.
    pub fn none() -> Self {
        Self::new(0)
    }

    /// A key pair made ahead, or a fresh one when none is left.
    pub fn take(&mut self) -> Result<X25519Secret, CryptoError> {
        match self.keys.pop_front() {
            Some(key) => Ok(key),
            None => X25519Secret::generate(),
        }
    }

    /// How many key pairs the store lacks to be full.
    pub fn room(&self) -> usize {
        self.capacity - self.keys.len()
    }

    /// Key pairs held now.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key pair is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds key pairs made elsewhere (for instance outside a lock), those
    /// past the capacity dropped.
    pub fn add(&mut self, keys: impl IntoIterator<Item = X25519Secret>) {
        for key in keys {
            if self.keys.len() >= self.capacity {
                return;
            }
            self.keys.push_back(key);
        }
    }

    /// Makes up to `at_most` key pairs, never past the capacity; how many
    /// it made.
    pub fn make(&mut self, at_most: usize) -> Result<usize, CryptoError> {
        let n = self.room().min(at_most);
        for _ in 0..n {
            self.keys.push_back(X25519Secret::generate()?);
        }
        Ok(n)
    }
}

impl std::fmt::Debug for EphemeralKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private parts.
        f.debug_struct("EphemeralKeys")
            .field("len", &self.keys.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_made_ahead_are_taken_once_each_then_fresh_ones() {
        let mut keys = EphemeralKeys::new(3);
        assert_eq!(keys.make(5).expect("make"), 3);
        assert_eq!((keys.len(), keys.room()), (3, 0));
        let taken: Vec<[u8; 32]> = (0..5)
            .map(|_| *keys.take().expect("take").public_key())
            .collect();
        assert!(keys.is_empty());
        for (i, a) in taken.iter().enumerate() {
            assert!(taken[i + 1..].iter().all(|b| a != b), "a key used twice");
        }
    }

    #[test]
    fn adding_stops_at_the_capacity() {
        let mut keys = EphemeralKeys::new(2);
        let made: Vec<X25519Secret> = (0..4)
            .map(|_| X25519Secret::generate().expect("key"))
            .collect();
        let first = *made[0].public_key();
        keys.add(made);
        assert_eq!((keys.len(), keys.room()), (2, 0));
        assert_eq!(keys.take().expect("take").public_key(), &first);
        assert_eq!(EphemeralKeys::none().make(1).expect("make"), 0);
    }
}
