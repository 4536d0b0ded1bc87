//! [`PeerInfo`] as a key/value: its serde form (the peer store sends peers
//! to peers) and its key, the [`PeerId`].
//!
//! A received peer is rebuilt with [`PeerInfo::new`], so its id is always
//! the hash of its identity key, whatever id a peer sent, and its address
//! is bounded. Its key binding, when sent, travels as the peer claims it:
//! a node checks it before it dials the peer known-key.

use std::fmt;

use mydht_base::{KeyVal, Peer};
use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::identity::{KeyBinding, PeerId, PeerInfo, IDENTITY_KEY_LEN, PEER_ID_LEN, SIGNATURE_LEN};
use mydht_base::peer::X25519_PUBLIC_KEY_LEN;

/// The fields of a peer on the wire; the id is not sent, it is the hash of
/// the identity key.
#[derive(Serialize, Deserialize)]
struct PeerWire {
    identity_key: [u8; IDENTITY_KEY_LEN],
    address: String,
    tunnel_key: [u8; X25519_PUBLIC_KEY_LEN],
    /// Absent from a self-describing form (JSON) means none.
    #[serde(default)]
    binding: Option<KeyBinding>,
}

impl Serialize for PeerInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PeerWire {
            identity_key: *self.identity_key(),
            address: self.get_address().clone(),
            tunnel_key: *self.tunnel_public_key(),
            binding: self.key_binding().copied(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for PeerInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = PeerWire::deserialize(d)?;
        let info =
            PeerInfo::new(w.identity_key, w.address, w.tunnel_key).map_err(D::Error::custom)?;
        Ok(match w.binding {
            Some(b) => info.with_binding(b),
            None => info,
        })
    }
}

/// A binding is its 64 signature bytes, a fixed-size tuple (no length on
/// the wire, nothing allocated on receipt).
impl Serialize for KeyBinding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(SIGNATURE_LEN)?;
        for b in &self.0 {
            t.serialize_element(b)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for KeyBinding {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl<'de> Visitor<'de> for Bytes {
            type Value = KeyBinding;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{SIGNATURE_LEN} bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KeyBinding, A::Error> {
                let mut out = [0u8; SIGNATURE_LEN];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = seq
                        .next_element()?
                        .ok_or_else(|| A::Error::invalid_length(i, &self))?;
                }
                if seq.next_element::<u8>()?.is_some() {
                    return Err(A::Error::invalid_length(SIGNATURE_LEN + 1, &self));
                }
                Ok(KeyBinding(out))
            }
        }
        d.deserialize_tuple(SIGNATURE_LEN, Bytes)
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
