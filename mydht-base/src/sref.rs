//! References that cross threads.
//!
//! A node running on one thread shares values as `Rc`; a node running on
//! many threads shares them as `Arc` or copies. [`SRef`] lets a value that is
//! an `Rc` on one thread become a sendable form ([`SRef::Send`]) to cross a
//! thread, and an `Rc` again on the other side ([`SToRef::to_ref`]). [`Ref`]
//! is the shared-pointer abstraction the rest of MyDHT is written against,
//! with three implementations:
//! - [`RcRef`]: an `Rc`, for single-threaded profiles; crossing a thread
//!   moves (or clones) the value out and wraps it in a new `Rc` on arrival;
//! - [`ArcRef`]: an `Arc`, sendable as itself;
//! - [`CloneRef`]: a plain value, cloned when shared.
//!
//! Commands are made of such references and of std types: [`SRef`] is
//! implemented for integers, `bool`, `String`, `Vec`, `Option`, `Box`,
//! tuples and more, and [`sref_enum!`](crate::sref_enum) /
//! [`sref_struct!`](crate::sref_struct) give a user's command type its
//! sendable twin without hand-written conversions
//! ([`sref_as_itself!`](crate::sref_as_itself) for a type already `Send`).
//!
//! Every `Ref` encodes with serde as the plain `T` it points to, so a message
//! holding one is on the wire exactly as if it held the value.

use std::borrow::Borrow;

mod arc;
mod clone;
mod common;
mod macros;
mod rc;
mod std_impls;

pub use arc::ArcRef;
pub use clone::CloneRef;
pub use rc::{RcRef, RcRefSend};

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
