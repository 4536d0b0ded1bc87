//! The traits every `Ref` implements the same way: by passing through to the
//! `T` it points to, as `Rc` and `Arc` do. Serde passes through too, so that a
//! `Ref` in a message encodes as the plain `T`.

/// Implements `Deref`, `Borrow`, comparisons, `Hash`, `Debug`, `Display` and
/// serde for a one-field wrapper `$wrapper<T>` whose field `0` derefs to `T`
/// and which has an inherent `new(T)`.
macro_rules! passthrough_impls {
    ($wrapper:ident) => {
        impl<T> std::ops::Deref for $wrapper<T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.0
            }
        }

        impl<T> std::borrow::Borrow<T> for $wrapper<T> {
            fn borrow(&self) -> &T {
                self
            }
        }

        impl<T> AsRef<T> for $wrapper<T> {
            fn as_ref(&self) -> &T {
                self
            }
        }

        impl<T: PartialEq> PartialEq for $wrapper<T> {
            fn eq(&self, other: &Self) -> bool {
                **self == **other
            }
        }

        impl<T: Eq> Eq for $wrapper<T> {}

        impl<T: PartialOrd> PartialOrd for $wrapper<T> {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                (**self).partial_cmp(&**other)
            }
        }

        impl<T: Ord> Ord for $wrapper<T> {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                (**self).cmp(&**other)
            }
        }

        impl<T: std::hash::Hash> std::hash::Hash for $wrapper<T> {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                (**self).hash(state)
            }
        }

        impl<T: std::fmt::Debug> std::fmt::Debug for $wrapper<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                (**self).fmt(f)
            }
        }

        impl<T: std::fmt::Display> std::fmt::Display for $wrapper<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                (**self).fmt(f)
            }
        }

        impl<T> From<T> for $wrapper<T> {
            fn from(t: T) -> Self {
                $wrapper::new(t)
            }
        }

        impl<T: serde::Serialize> serde::Serialize for $wrapper<T> {
            fn serialize<S: serde::Serializer>(
                &self,
                serializer: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                (**self).serialize(serializer)
            }
        }

        impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for $wrapper<T> {
            fn deserialize<D: serde::Deserializer<'de>>(
                deserializer: D,
            ) -> std::result::Result<Self, D::Error> {
                T::deserialize(deserializer).map($wrapper::new)
            }
        }
    };
}

pub(super) use passthrough_impls;
