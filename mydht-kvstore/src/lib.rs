//! # mydht-kvstore
//!
//! The key/value application of MyDHT: what a user stores in the DHT, where
//! a node keeps it, and which peers are responsible for a key. Its pieces
//! plug into the generic query engine of `mydht`
//! (`mydht::service::kvstore::QueryEngine`) through the `mydht_base`
//! traits: [`SignedValue`] is a [`KeyVal`](mydht_base::KeyVal), the stores
//! are [`KVStore`](mydht_base::KVStore)s and the
//! [`RoutingTable`](kademlia::RoutingTable) is a
//! [`Route`](mydht_base::Route).
//!
//! - [`key`]: [`Key`], the 256-bit key of a value;
//! - [`value`]: [`SignedValue`], a value signed by its publisher, checked by
//!   [`SignedValue::verify`] against [`ValueLimits`]; [`ValueError`];
//! - [`store`]: [`MemoryValueStore`] and the persistent [`RedbStore`], one
//!   admission policy ([`store::admit`]), [`StoreError`];
//! - [`kademlia`]: XOR [`Distance`](kademlia::Distance) and the k-bucket
//!   [`RoutingTable`](kademlia::RoutingTable);
//! - [`dht`]: the DHT on live nodes ([`Dht`](dht::Dht), `put`/`get`, the
//!   node's services and ready configuration);
//! - [`clock`]: where the stores read the time ([`SystemClock`],
//!   [`ManualClock`]).
//!
//! Everything but [`dht`] is a plain state machine or store: no threads,
//! sockets or timers. Times are milliseconds since the Unix epoch.

pub mod clock;
pub mod dht;
pub mod kademlia;
pub mod key;
pub mod store;
pub mod value;

pub use clock::{Clock, ManualClock, SystemClock};
pub use key::{Key, KEY_LEN};
pub use store::{
    MemoryValueStore, RedbStore, StoreConf, StoreError, Stored, ValueStore, DEFAULT_CAPACITY,
};
pub use value::{SignedValue, SignedValueParts, ValueError, ValueLimits, DEFAULT_MAX_VALUE_LEN};
