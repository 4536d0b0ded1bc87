//! [`SRef`] for the std types commands are made of, so that users only write
//! (or generate) conversions for their own types.
//!
//! Types that are already `Send` and hold no `Ref` are sendable as
//! themselves; containers convert their content.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use super::{SRef, SToRef};

crate::sref_as_itself!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    &'static str,
    Duration,
    Instant,
    SystemTime,
    IpAddr,
    Ipv4Addr,
    Ipv6Addr,
    SocketAddr,
    // Command results carry errors.
    crate::Error,
);

impl<T: SRef> SRef for Vec<T> {
    type Send = Vec<T::Send>;
    fn get_sendable(self) -> Vec<T::Send> {
        self.into_iter().map(SRef::get_sendable).collect()
    }
}

impl<T: SRef> SToRef<Vec<T>> for Vec<T::Send> {
    fn to_ref(self) -> Vec<T> {
        self.into_iter().map(SToRef::<T>::to_ref).collect()
    }
}

impl<T: SRef> SRef for Option<T> {
    type Send = Option<T::Send>;
    fn get_sendable(self) -> Option<T::Send> {
        self.map(SRef::get_sendable)
    }
}

impl<T: SRef> SToRef<Option<T>> for Option<T::Send> {
    fn to_ref(self) -> Option<T> {
        self.map(SToRef::<T>::to_ref)
    }
}

impl<T: SRef, E: SRef> SRef for Result<T, E> {
    type Send = Result<T::Send, E::Send>;
    fn get_sendable(self) -> Result<T::Send, E::Send> {
        self.map(SRef::get_sendable).map_err(SRef::get_sendable)
    }
}

impl<T: SRef, E: SRef> SToRef<Result<T, E>> for Result<T::Send, E::Send> {
    fn to_ref(self) -> Result<T, E> {
        self.map(SToRef::<T>::to_ref).map_err(SToRef::<E>::to_ref)
    }
}

impl<T: SRef> SRef for Box<T> {
    type Send = Box<T::Send>;
    fn get_sendable(self) -> Box<T::Send> {
        Box::new((*self).get_sendable())
    }
}

impl<T: SRef> SToRef<Box<T>> for Box<T::Send> {
    fn to_ref(self) -> Box<T> {
        Box::new(SToRef::<T>::to_ref(*self))
    }
}

/// `SRef` for a tuple whose every element is `SRef`.
macro_rules! sref_tuple {
    ($($name:ident $index:tt),+) => {
        impl<$($name: SRef),+> SRef for ($($name,)+) {
            type Send = ($($name::Send,)+);
            fn get_sendable(self) -> Self::Send {
                ($(self.$index.get_sendable(),)+)
            }
        }

        impl<$($name: SRef),+> SToRef<($($name,)+)> for ($($name::Send,)+) {
            fn to_ref(self) -> ($($name,)+) {
                ($(SToRef::<$name>::to_ref(self.$index),)+)
            }
        }
    };
}

sref_tuple!(A 0);
sref_tuple!(A 0, B 1);
sref_tuple!(A 0, B 1, C 2);
sref_tuple!(A 0, B 1, C 2, D 3);
