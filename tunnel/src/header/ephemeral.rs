//! [`EphemeralKeys`]: the header's fresh key pairs, and whole hops
//! ([`PreparedHop`]), made ahead.

use std::collections::VecDeque;

use crate::crypto::{derive_hop_keys, CryptoError, HopKeys, X25519Secret, PUBLIC_KEY_LEN};

/// One hop of a header made ahead for a given hop key: a fresh key pair's
/// public key and the [`HopKeys`] of its exchange with that hop, so the
/// header that takes it makes no X25519 operation for that hop. The
/// private key is dropped once the keys are derived; a prepared hop is
/// taken by one header only.
pub struct PreparedHop {
    hop: [u8; PUBLIC_KEY_LEN],
    ephemeral: [u8; PUBLIC_KEY_LEN],
    keys: HopKeys,
}

impl PreparedHop {
    /// Prepares a hop for the hop whose static key is `hop` with the fresh
    /// key pair `key` (one X25519 derivation).
    pub fn new(hop: &[u8; PUBLIC_KEY_LEN], key: X25519Secret) -> Result<Self, CryptoError> {
        let mut shared = key.diffie_hellman(hop)?;
        let keys = derive_hop_keys(&shared, key.public_key());
        shared.fill(0);
        Ok(PreparedHop {
            hop: *hop,
            ephemeral: *key.public_key(),
            keys: keys?,
        })
    }

    /// The static key of the hop it was made for.
    pub fn hop(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.hop
    }
}

impl std::fmt::Debug for PreparedHop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the keys.
        f.debug_struct("PreparedHop").finish_non_exhaustive()
    }
}

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
///
/// It also holds hops prepared for given hop keys ([`PreparedHop`]: the key
/// pair and its exchange with that hop, made off the query's path, for
/// instance for the route a sender drew ahead); a header takes the first
/// one prepared for a hop's key, if any, and so makes no X25519 operation
/// for that hop. At most `capacity` of them too: past it the oldest goes.
pub struct EphemeralKeys {
    keys: VecDeque<X25519Secret>,
    prepared: VecDeque<PreparedHop>,
    capacity: usize,
}

impl EphemeralKeys {
    /// An empty store that holds at most `capacity` key pairs.
    pub fn new(capacity: usize) -> Self {
        EphemeralKeys {
            keys: VecDeque::with_capacity(capacity),
            prepared: VecDeque::new(),
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

    /// The public key and hop keys of the header's hop whose static key is
    /// `hop`: a hop prepared for it, taken (removed), or else a key pair
    /// ([`take`](Self::take)) and its exchange with `hop`, made now.
    pub fn take_hop(
        &mut self,
        hop: &[u8; PUBLIC_KEY_LEN],
    ) -> Result<([u8; PUBLIC_KEY_LEN], HopKeys), CryptoError> {
        if let Some(i) = self.prepared.iter().position(|p| &p.hop == hop) {
            if let Some(p) = self.prepared.remove(i) {
                return Ok((p.ephemeral, p.keys));
            }
        }
        let key = self.take()?;
        let mut shared = key.diffie_hellman(hop)?;
        let keys = derive_hop_keys(&shared, key.public_key());
        shared.fill(0);
        Ok((*key.public_key(), keys?))
    }

    /// Keeps hops prepared ahead; past the capacity the oldest are dropped
    /// (those of a route that was not taken, a peer gone).
    pub fn add_prepared(&mut self, hops: impl IntoIterator<Item = PreparedHop>) {
        if self.capacity == 0 {
            return;
        }
        for hop in hops {
            if self.prepared.len() >= self.capacity {
                self.prepared.pop_front();
            }
            self.prepared.push_back(hop);
        }
    }

    /// Hops prepared and not taken yet.
    pub fn prepared_len(&self) -> usize {
        self.prepared.len()
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
            .field("prepared", &self.prepared.len())
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
    fn a_prepared_hop_gives_the_keys_of_its_exchange_once_then_fresh_ones() {
        let hop = X25519Secret::generate().expect("hop");
        let other = X25519Secret::generate().expect("other hop");
        let mut keys = EphemeralKeys::new(2);
        let prepared = PreparedHop::new(hop.public_key(), X25519Secret::generate().unwrap());
        keys.add_prepared([prepared.expect("prepare")]);
        assert_eq!(keys.prepared_len(), 1);
        // Another hop's key finds nothing prepared: made now.
        let (e, k) = keys.take_hop(other.public_key()).expect("other");
        let shared = other.diffie_hellman(&e).expect("exchange");
        assert_eq!(derive_hop_keys(&shared, &e).expect("keys"), k);
        assert_eq!(keys.prepared_len(), 1);
        // The hop's key takes the prepared one: the hop derives the same.
        let (e1, k1) = keys.take_hop(hop.public_key()).expect("prepared");
        let shared = hop.diffie_hellman(&e1).expect("exchange");
        assert_eq!(derive_hop_keys(&shared, &e1).expect("keys"), k1);
        assert_eq!(keys.prepared_len(), 0);
        // Taken once: the next is a fresh key pair.
        let (e2, k2) = keys.take_hop(hop.public_key()).expect("fresh");
        assert_ne!(e1, e2);
        assert_ne!(k1, k2);
    }

    #[test]
    fn prepared_hops_past_the_capacity_drop_the_oldest() {
        let hops: Vec<X25519Secret> = (0..3).map(|_| X25519Secret::generate().unwrap()).collect();
        let mut keys = EphemeralKeys::new(2);
        keys.add_prepared(
            hops.iter().map(|h| {
                PreparedHop::new(h.public_key(), X25519Secret::generate().unwrap()).unwrap()
            }),
        );
        assert_eq!(keys.prepared_len(), 2);
        assert_eq!(keys.prepared[0].hop(), hops[1].public_key());
        assert_eq!(keys.prepared[1].hop(), hops[2].public_key());
        let mut none = EphemeralKeys::none();
        none.add_prepared([PreparedHop::new(
            hops[0].public_key(),
            X25519Secret::generate().unwrap(),
        )
        .unwrap()]);
        assert_eq!(none.prepared_len(), 0);
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
