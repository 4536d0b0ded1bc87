//! [`Route`]: which peers a query for a key goes to next.

use crate::peer::Peer;

/// Chooses the peers a query (find or store of a key) is sent to.
///
/// A Kademlia route answers with the peers whose ids are closest to the key;
/// a random route with any connected peers. The query engine asks for at
/// most `nb` peers and never wants those of `exclude` (itself, the previous
/// hop, the originator): a route must leave them out, and the engine drops
/// any it returns anyway.
///
/// ```
/// use mydht_base::{Peer, Route};
///
/// #[derive(Clone, Debug)]
/// struct P(u8, String, [u8; 32]);
/// impl Peer for P {
///     type Id = u8;
///     type Address = String;
///     fn get_id(&self) -> &u8 { &self.0 }
///     fn get_address(&self) -> &String { &self.1 }
///     fn tunnel_public_key(&self) -> &[u8; 32] { &self.2 }
/// }
///
/// /// Routes to the known peers in order.
/// struct InOrder(Vec<P>);
/// impl Route<P, String> for InOrder {
///     fn route(&mut self, _key: &String, nb: usize, exclude: &[u8]) -> Vec<P> {
///         self.0.iter().filter(|p| !exclude.contains(&p.0)).take(nb).cloned().collect()
///     }
/// }
///
/// let mut r = InOrder((0..4).map(|i| P(i, String::new(), [0; 32])).collect());
/// let next: Vec<u8> = r.route(&"k".into(), 2, &[0]).iter().map(|p| p.0).collect();
/// assert_eq!(next, vec![1, 2]);
/// ```
pub trait Route<P: Peer, K> {
    /// At most `nb` peers to send a query for `key` to, none of whose id is
    /// in `exclude`.
    fn route(&mut self, key: &K, nb: usize, exclude: &[P::Id]) -> Vec<P>;
}
