//! Key/values: what a `KVStore` stores and a DHT routes by key.

use std::fmt::Debug;
use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value that carries its own key.
///
/// Stores index values by [`get_key`](KeyVal::get_key); routes (Kademlia)
/// pick the peers closest to the key. A key/value crosses the wire inside a
/// message, encoded by the node's `MsgEnc`: a large payload belongs in an
/// `Attachment` of that message, not in the value itself.
///
/// ```
/// use mydht_base::KeyVal;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// struct Note {
///     title: String,
///     text: String,
/// }
///
/// impl KeyVal for Note {
///     type Key = String;
///     fn get_key(&self) -> String {
///         self.title.clone()
///     }
/// }
///
/// let note = Note { title: "todo".into(), text: "write tests".into() };
/// assert_eq!(note.get_key(), "todo");
/// ```
pub trait KeyVal: Serialize + DeserializeOwned + Clone + Debug {
    /// The key the value is stored and routed by.
    type Key: Serialize + DeserializeOwned + Clone + Eq + Hash + Debug;

    /// The value's key. It returns a key rather than a reference so that a
    /// key computed from the content (a hash) needs no extra field.
    fn get_key(&self) -> Self::Key;
}
