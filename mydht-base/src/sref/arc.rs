//! [`ArcRef`]: an `Arc`, sendable as itself.

use std::sync::Arc;

use super::common::passthrough_impls;
use super::{Ref, SRef, SToRef};

/// An atomically reference-counted pointer for services on several threads.
///
/// Its sendable form is itself: crossing a thread keeps sharing the same
/// value (`ArcRef::ptr_eq` holds across the crossing).
///
/// ```
/// use mydht_base::{ArcRef, SRef, SToRef};
///
/// let peer = ArcRef::new(String::from("peer-1"));
/// let sendable = peer.clone().get_sendable();
/// let back: ArcRef<String> = std::thread::spawn(move || sendable)
///     .join()
///     .unwrap()
///     .to_ref();
/// assert!(ArcRef::ptr_eq(&peer, &back));
/// ```
pub struct ArcRef<T>(Arc<T>);

impl<T> ArcRef<T> {
    /// Wraps a value in a new `Arc`.
    pub fn new(t: T) -> Self {
        ArcRef(Arc::new(t))
    }

    /// Wraps an existing `Arc`, sharing its value.
    pub fn from_arc(arc: Arc<T>) -> Self {
        ArcRef(arc)
    }

    /// The underlying `Arc` (for `Arc::strong_count` and the like).
    pub fn as_arc(&self) -> &Arc<T> {
        &self.0
    }

    /// True when both point to the same allocation.
    pub fn ptr_eq(this: &Self, other: &Self) -> bool {
        Arc::ptr_eq(&this.0, &other.0)
    }
}

impl<T> Clone for ArcRef<T> {
    fn clone(&self) -> Self {
        ArcRef(Arc::clone(&self.0))
    }
}

passthrough_impls!(ArcRef);

impl<T: Send + Sync> Ref<T> for ArcRef<T> {
    fn new(t: T) -> Self {
        ArcRef::new(t)
    }
}

impl<T: Send + Sync> SRef for ArcRef<T> {
    type Send = ArcRef<T>;
    fn get_sendable(self) -> ArcRef<T> {
        self
    }
}

impl<T: Send + Sync> SToRef<ArcRef<T>> for ArcRef<T> {
    fn to_ref(self) -> ArcRef<T> {
        self
    }
}
