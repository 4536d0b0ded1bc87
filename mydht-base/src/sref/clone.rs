//! [`CloneRef`]: a plain value standing in for a shared pointer.

use super::common::passthrough_impls;
use super::{Ref, SRef, SToRef};

/// A value that is cloned where a pointer would be shared: the right `Ref`
/// for small values (ids, addresses) where a counted pointer costs more than
/// a copy. Sendable as itself.
///
/// ```
/// use mydht_base::{CloneRef, SRef, SToRef};
///
/// let id = CloneRef::new(42u64);
/// let back: CloneRef<u64> = std::thread::spawn(move || id.get_sendable())
///     .join()
///     .unwrap()
///     .to_ref();
/// assert_eq!(*back, 42);
/// ```
#[derive(Clone, Copy, Default)]
pub struct CloneRef<T>(T);

impl<T> CloneRef<T> {
    /// Wraps a value.
    pub fn new(t: T) -> Self {
        CloneRef(t)
    }

    /// The wrapped value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

passthrough_impls!(CloneRef);

impl<T: Clone + Send> Ref<T> for CloneRef<T> {
    fn new(t: T) -> Self {
        CloneRef::new(t)
    }
}

impl<T: Send> SRef for CloneRef<T> {
    type Send = CloneRef<T>;
    fn get_sendable(self) -> CloneRef<T> {
        self
    }
}

impl<T: Send> SToRef<CloneRef<T>> for CloneRef<T> {
    fn to_ref(self) -> CloneRef<T> {
        self
    }
}
