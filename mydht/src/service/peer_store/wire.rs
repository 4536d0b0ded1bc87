//! [`PeerInfo`] as a key/value: its serde form (the peer store sends peers
//! to peers) and its key, the [`PeerId`].
//!
//! A received peer is rebuilt with [`PeerInfo::new`], so its id is always
//! the hash of its identity key, whatever id a peer sent, and its address
//! is bounded.

use mydht_base::{KeyVal, Peer};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::identity::{PeerId, PeerInfo, IDENTITY_KEY_LEN, PEER_ID_LEN};
use mydht_base::peer::X25519_PUBLIC_KEY_LEN;

/// The fields of a peer on the wire; the id is not sent, it is the hash of
/// the identity key.
#[derive(Serialize, Deserialize)]
struct PeerWire {
    identity_key: [u8; IDENTITY_KEY_LEN],
    address: String,
    tunnel_key: [u8; X25519_PUBLIC_KEY_LEN],
}

impl Serialize for PeerInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PeerWire {
            identity_key: *self.identity_key(),
            address: self.get_address().clone(),
            tunnel_key: *self.tunnel_public_key(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for PeerInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = PeerWire::deserialize(d)?;
        PeerInfo::new(w.identity_key, w.address, w.tunnel_key).map_err(D::Error::custom)
    }
}

impl Serialize for PeerId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_bytes().serialize(s)
    }
}

impl<'de> Deserialize<'de> for PeerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <[u8; PEER_ID_LEN]>::deserialize(d).map(PeerId::from)
    }
}

/// A peer is stored and found by its id.
impl KeyVal for PeerInfo {
    type Key = PeerId;
    fn get_key(&self) -> PeerId {
        *self.get_id()
    }
}
