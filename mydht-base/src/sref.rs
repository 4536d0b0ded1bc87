//! References that cross threads.
//!
//! A node running on one thread shares values as `Rc`; a node running on
//! many threads shares them as `Arc` or copies. [`SRef`] lets a value that is
//! an `Rc` on one thread become a sendable form ([`SRef::Send`]) to cross a
//! thread, and an `Rc` again on the other side ([`SToRef::to_ref`]). [`Ref`]
//! is the shared-pointer abstraction the rest of MyDHT is written against.

use std::borrow::Borrow;

/// A value with a sendable form.
pub trait SRef: Sized {
    /// The form that crosses threads.
    type Send: SToRef<Self>;
    /// Turns the value into its sendable form.
    fn get_sendable(self) -> Self::Send;
}

/// The sendable form of an [`SRef`] value.
pub trait SToRef<T: SRef>: Send + Sized {
    /// Turns the sendable form back into the value.
    fn to_ref(self) -> T;
}

/// A shared pointer to a `T` with a sendable form: `RcRef`, `ArcRef`,
/// `CloneRef`.
pub trait Ref<T>: SRef + Clone + Borrow<T> {
    /// Wraps a value.
    fn new(t: T) -> Self;
}
