//! [`RcRef`]: an `Rc` that can cross threads by value.

use std::rc::Rc;

use super::common::passthrough_impls;
use super::{Ref, SRef, SToRef};

/// A reference-counted pointer for services that share one thread.
///
/// Cheap to clone and not `Send`. To cross a thread it becomes an
/// [`RcRefSend`] carrying the `T` itself: moved out of the `Rc` when this was
/// the last reference, cloned otherwise. On arrival it becomes a new `Rc`
/// (strong count 1) that shares nothing with the original: values that were
/// shared on the sending thread are separate copies on the receiving one.
///
/// ```
/// use mydht_base::{RcRef, SRef, SToRef};
///
/// let peer = RcRef::new(String::from("peer-1"));
/// let sendable = peer.get_sendable();
/// let back: RcRef<String> = std::thread::spawn(move || sendable)
///     .join()
///     .unwrap()
///     .to_ref();
/// assert_eq!(*back, "peer-1");
/// ```
pub struct RcRef<T>(Rc<T>);

impl<T> RcRef<T> {
    /// Wraps a value in a new `Rc`.
    pub fn new(t: T) -> Self {
        RcRef(Rc::new(t))
    }

    /// Wraps an existing `Rc`, sharing its value.
    pub fn from_rc(rc: Rc<T>) -> Self {
        RcRef(rc)
    }

    /// The underlying `Rc` (for `Rc::strong_count` and the like).
    pub fn as_rc(&self) -> &Rc<T> {
        &self.0
    }

    /// True when both point to the same allocation.
    pub fn ptr_eq(this: &Self, other: &Self) -> bool {
        Rc::ptr_eq(&this.0, &other.0)
    }
}

impl<T> Clone for RcRef<T> {
    fn clone(&self) -> Self {
        RcRef(Rc::clone(&self.0))
    }
}

passthrough_impls!(RcRef);

impl<T: Clone + Send> Ref<T> for RcRef<T> {
    fn new(t: T) -> Self {
        RcRef::new(t)
    }
}

impl<T: Clone + Send> SRef for RcRef<T> {
    type Send = RcRefSend<T>;
    fn get_sendable(self) -> RcRefSend<T> {
        RcRefSend(Rc::unwrap_or_clone(self.0))
    }
}

/// The sendable form of an [`RcRef`]: the value itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RcRefSend<T>(T);

impl<T> RcRefSend<T> {
    /// The carried value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: Clone + Send> SToRef<RcRef<T>> for RcRefSend<T> {
    fn to_ref(self) -> RcRef<T> {
        RcRef::new(self.0)
    }
}
