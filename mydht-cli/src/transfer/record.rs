//! Where a node's tunnel address is found: a value in the DHT under a
//! key derived from the node's id, signed by the node (the DHT signs
//! every value with its publisher's identity and verifies it when found).
//! A record is taken only when its publisher is the id looked up; the
//! tunnel connection then proves the id again (its handshake).

use std::net::SocketAddr;
use std::time::Duration;

use mydht::service::kvstore::{QueryConf, QueryMode};
use mydht::PeerId;
use mydht_base::Peer;
use mydht_kvstore::dht::{Dht, DhtError};
use mydht_kvstore::Key;

use crate::node::REPLICAS;

/// What the key's hash starts with.
const DOMAIN: &[u8] = b"mydht-cli tunnel address\0";
/// Hops a record's put or get may travel.
const HOPS: u8 = 8;

/// The key of `id`'s tunnel record.
pub fn key_of(id: &PeerId) -> Key {
    let mut bytes = DOMAIN.to_vec();
    bytes.extend_from_slice(id.as_bytes());
    Key::hash_of(&bytes)
}

/// How a put reaches the [`REPLICAS`] peers closest to its key and a get
/// asks them.
pub fn query_conf(nb_result: usize, timeout: Duration) -> QueryConf {
    QueryConf {
        mode: QueryMode::AProxy,
        hops: HOPS,
        forward: REPLICAS as u8,
        nb_result: nb_result as u8,
        timeout,
    }
}

/// Publishes this node's tunnel `address`: how many peers stored it.
pub fn publish(dht: &Dht, address: SocketAddr, timeout: Duration) -> Result<u32, DhtError> {
    let key = key_of(dht.local_peer().get_id());
    let value = address.to_string().into_bytes();
    dht.put_with(key, value, query_conf(REPLICAS, timeout), timeout)
}

/// The tunnel address `id` published, if the DHT has it.
pub fn lookup(dht: &Dht, id: &PeerId, timeout: Duration) -> Result<Option<SocketAddr>, DhtError> {
    let found = match dht.get_with(key_of(id), query_conf(REPLICAS, timeout), timeout) {
        Ok(found) => found,
        Err(DhtError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(found
        .into_iter()
        .filter(|v| v.publisher() == *id)
        .max_by_key(|v| (v.version(), v.expires_at()))
        .and_then(|v| std::str::from_utf8(v.value()).ok()?.parse().ok()))
}
