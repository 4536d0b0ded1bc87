//! The peer: what every layer knows of another node.
//!
//! Only the identity part is here for now; the identity and shadow factories
//! of the wire level extend it.

use std::fmt::Debug;
use std::hash::Hash;

/// Length of an X25519 public key.
pub const X25519_PUBLIC_KEY_LEN: usize = 32;

/// Another node: its id, its listening address and its public keys.
pub trait Peer: Clone + Debug + 'static {
    /// The peer's id: the hash of its identity public key.
    type Id: Clone + Eq + Hash + Debug;
    /// Where the peer listens.
    type Address: Clone + Eq + Hash + Debug;
    /// The peer's id.
    fn get_id(&self) -> &Self::Id;
    /// The peer's listening address.
    fn get_address(&self) -> &Self::Address;
    /// The X25519 public key a tunnel sender uses to encipher this peer's
    /// layer of an onion.
    fn tunnel_public_key(&self) -> &[u8; X25519_PUBLIC_KEY_LEN];
}
