//! `sref_enum!` and `sref_struct!`: a user's command type gets its sendable
//! twin and both conversions without hand-written code; `sref_as_itself!`
//! for a type that is `Send` already.
//!
//! Plain `macro_rules!` (no proc-macro crate): tuple fields are bound to
//! names taken from a fixed pool, which is why a tuple variant or tuple
//! struct has at most 16 fields.

/// Implements [`SRef`](crate::SRef) and [`SToRef`](crate::SToRef) for
/// each listed type as its own sendable form: for types that are `Send`
/// and hold no `Rc`, such as an application's service state that a
/// `ThreadParkRef` spawner moves to its thread. A generic type is written
/// `impl<C> for Type<C>` (type parameters without bounds; the type must be
/// `Send` for every one).
///
/// ```
/// use mydht_base::{SRef, SToRef};
///
/// /// A counter service's state.
/// struct Counter(u64);
/// mydht_base::sref_as_itself!(Counter);
///
/// let back: Counter = std::thread::spawn(move || Counter(3).get_sendable())
///     .join()
///     .unwrap()
///     .to_ref();
/// assert_eq!(back.0, 3);
///
/// /// A service generic over its configuration.
/// struct Forwarder<C>(std::marker::PhantomData<fn() -> C>);
/// mydht_base::sref_as_itself!(impl<C> for Forwarder<C>);
/// ```
#[macro_export]
macro_rules! sref_as_itself {
    (impl<$($g:ident),+ $(,)?> for $t:ty) => {
        impl<$($g),+> $crate::SRef for $t {
            type Send = $t;
            fn get_sendable(self) -> $t {
                self
            }
        }

        impl<$($g),+> $crate::SToRef<$t> for $t {
            fn to_ref(self) -> $t {
                self
            }
        }
    };
    ($($t:ty),* $(,)?) => {
        $(
            impl $crate::SRef for $t {
                type Send = $t;
                fn get_sendable(self) -> $t {
                    self
                }
            }

            impl $crate::SToRef<$t> for $t {
                fn to_ref(self) -> $t {
                    self
                }
            }
        )*
    };
}

/// Declares an enum and its sendable twin, with `SRef` for the enum and
/// `SToRef` for the twin.
///
/// The enum is emitted as written. The twin (named after `=>`) has the same
/// variants, each field of type `<F as SRef>::Send`; it is `Send` and gets a
/// generated doc on itself, its variants and fields. Attributes written
/// between `=>` and the twin's name (a `#[derive(Debug)]`, say) go to the
/// twin; attributes on the enum, its variants and fields stay on the enum.
///
/// Supports tuple (up to 16 fields), struct and unit variants, attributes,
/// doc comments and visibility. Not supported: generic parameters, explicit
/// discriminants, and `#[cfg]` on variants or fields (the twin would not
/// follow it).
///
/// ```
/// use mydht_base::{RcRef, SRef, SToRef};
///
/// mydht_base::sref_enum! {
///     /// What the global service is asked to do.
///     #[derive(Debug, Clone, PartialEq)]
///     pub enum GlobalCommand => #[derive(Debug)] GlobalCommandSend {
///         /// A peer was seen at this time.
///         Touch(RcRef<String>, u64),
///         /// Send `payload` to each peer of `to`.
///         Forward { to: Vec<RcRef<String>>, payload: String },
///         /// Stop the service.
///         Stop,
///     }
/// }
///
/// let cmd = GlobalCommand::Touch(RcRef::new("peer-1".to_string()), 7);
/// let sendable: GlobalCommandSend = cmd.clone().get_sendable();
/// let back: GlobalCommand = std::thread::spawn(move || sendable)
///     .join()
///     .unwrap()
///     .to_ref();
/// assert_eq!(back, cmd);
/// ```
#[macro_export]
macro_rules! sref_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident => $(#[$send_meta:meta])* $send:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident
                $( ( $( $(#[$tuple_meta:meta])* $tuple_ty:ty ),* $(,)? ) )?
                $( { $( $(#[$field_meta:meta])* $field:ident : $field_ty:ty ),* $(,)? } )?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $(
                $(#[$variant_meta])*
                $variant
                $( ( $( $(#[$tuple_meta])* $tuple_ty ),* ) )?
                $( { $( $(#[$field_meta])* $field : $field_ty ),* } )?
            ),*
        }

        #[doc = concat!(
            "The sendable form of [`", stringify!($name), "`]: the same variants, ",
            "each field in its `SRef::Send` form."
        )]
        $(#[$send_meta])*
        $vis enum $send {
            $(
                #[doc = concat!("[`", stringify!($name), "::", stringify!($variant), "`], sendable.")]
                $variant
                $( ( $( <$tuple_ty as $crate::SRef>::Send ),* ) )?
                $( { $(
                    #[doc = concat!("`", stringify!($field), "`, sendable.")]
                    $field : <$field_ty as $crate::SRef>::Send
                ),* } )?
            ),*
        }

        $crate::__sref_enum_arms! {
            @next $name $send [] []
            $( $variant $( ( $($tuple_ty),* ) )? $( { $($field),* } )? ),*
        }
    };
}

/// Declares a struct and its sendable twin, with `SRef` for the struct and
/// `SToRef` for the twin: the struct counterpart of
/// [`sref_enum!`](crate::sref_enum), with the same rules for attributes.
///
/// Supports named-field structs, tuple structs (up to 16 fields; end the
/// declaration with `;`) and unit structs; field visibility is kept on the
/// twin. Generic parameters are not supported.
///
/// ```
/// use mydht_base::{RcRef, SRef, SToRef};
///
/// mydht_base::sref_struct! {
///     /// A value to store, and where it came from.
///     #[derive(Debug, PartialEq)]
///     pub struct Store => StoreSend {
///         /// The peer that sent it.
///         pub from: RcRef<String>,
///         /// The value.
///         pub value: Vec<u8>,
///     }
/// }
///
/// mydht_base::sref_struct! {
///     /// A peer and a hop count.
///     pub struct Hop => HopSend(pub RcRef<String>, pub u8);
/// }
///
/// let store = Store { from: RcRef::new("peer-1".into()), value: vec![1, 2] };
/// let sendable = store.get_sendable();
/// let back: Store = std::thread::spawn(move || sendable).join().unwrap().to_ref();
/// assert_eq!(*back.from, "peer-1");
///
/// let hop: Hop = Hop(RcRef::new("peer-2".into()), 3).get_sendable().to_ref();
/// assert_eq!((hop.0.as_str(), hop.1), ("peer-2", 3));
/// ```
#[macro_export]
macro_rules! sref_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident => $(#[$send_meta:meta])* $send:ident {
            $( $(#[$field_meta:meta])* $field_vis:vis $field:ident : $field_ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$field_meta])* $field_vis $field : $field_ty ),*
        }

        #[doc = concat!(
            "The sendable form of [`", stringify!($name), "`]: the same fields, ",
            "each in its `SRef::Send` form."
        )]
        $(#[$send_meta])*
        $vis struct $send {
            $(
                #[doc = concat!("`", stringify!($field), "`, sendable.")]
                $field_vis $field : <$field_ty as $crate::SRef>::Send
            ),*
        }

        impl $crate::SRef for $name {
            type Send = $send;
            fn get_sendable(self) -> $send {
                let $name { $($field),* } = self;
                $send { $( $field: $crate::SRef::get_sendable($field) ),* }
            }
        }

        impl $crate::SToRef<$name> for $send {
            fn to_ref(self) -> $name {
                let $send { $($field),* } = self;
                $name { $( $field: $crate::SToRef::to_ref($field) ),* }
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident => $(#[$send_meta:meta])* $send:ident (
            $( $(#[$field_meta:meta])* $field_vis:vis $field_ty:ty ),* $(,)?
        );
    ) => {
        $(#[$meta])*
        $vis struct $name( $( $(#[$field_meta])* $field_vis $field_ty ),* );

        #[doc = concat!(
            "The sendable form of [`", stringify!($name), "`]: the same fields, ",
            "each in its `SRef::Send` form."
        )]
        $(#[$send_meta])*
        $vis struct $send( $( $field_vis <$field_ty as $crate::SRef>::Send ),* );

        $crate::__sref_bind! {
            [] [__f0 __f1 __f2 __f3 __f4 __f5 __f6 __f7 __f8 __f9 __f10 __f11 __f12 __f13 __f14 __f15]
            [$($field_ty),*]
            [$crate::__sref_tuple_struct] [$name $send]
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident => $(#[$send_meta:meta])* $send:ident;
    ) => {
        $(#[$meta])*
        $vis struct $name;

        #[doc = concat!("The sendable form of [`", stringify!($name), "`].")]
        $(#[$send_meta])*
        $vis struct $send;

        impl $crate::SRef for $name {
            type Send = $send;
            fn get_sendable(self) -> $send {
                $send
            }
        }

        impl $crate::SToRef<$name> for $send {
            fn to_ref(self) -> $name {
                $name
            }
        }
    };
}

/// Builds the match arms of `sref_enum!`, one variant at a time, then emits
/// the two impls.
#[doc(hidden)]
#[macro_export]
macro_rules! __sref_enum_arms {
    // Every variant done.
    (@next $name:ident $send:ident [$($to_send:tt)*] [$($to_ref:tt)*]) => {
        impl $crate::SRef for $name {
            type Send = $send;
            fn get_sendable(self) -> $send {
                match self {
                    $($to_send)*
                }
            }
        }

        impl $crate::SToRef<$name> for $send {
            fn to_ref(self) -> $name {
                match self {
                    $($to_ref)*
                }
            }
        }
    };
    // Unit variant.
    (@next $name:ident $send:ident [$($to_send:tt)*] [$($to_ref:tt)*]
        $variant:ident $(, $($rest:tt)*)?
    ) => {
        $crate::__sref_enum_arms! {
            @next $name $send
            [$($to_send)* $name::$variant => $send::$variant,]
            [$($to_ref)* $send::$variant => $name::$variant,]
            $($($rest)*)?
        }
    };
    // Struct variant.
    (@next $name:ident $send:ident [$($to_send:tt)*] [$($to_ref:tt)*]
        $variant:ident { $($field:ident),* } $(, $($rest:tt)*)?
    ) => {
        $crate::__sref_enum_arms! {
            @next $name $send
            [$($to_send)*
                $name::$variant { $($field),* } => $send::$variant {
                    $( $field: $crate::SRef::get_sendable($field) ),*
                },
            ]
            [$($to_ref)*
                $send::$variant { $($field),* } => $name::$variant {
                    $( $field: $crate::SToRef::to_ref($field) ),*
                },
            ]
            $($($rest)*)?
        }
    };
    // Tuple variant: name its fields first.
    (@next $name:ident $send:ident $to_send:tt $to_ref:tt
        $variant:ident ( $($ty:ty),* ) $(, $($rest:tt)*)?
    ) => {
        $crate::__sref_bind! {
            [] [__f0 __f1 __f2 __f3 __f4 __f5 __f6 __f7 __f8 __f9 __f10 __f11 __f12 __f13 __f14 __f15]
            [$($ty),*]
            [$crate::__sref_enum_arms]
            [@tuple $name $send $to_send $to_ref $variant [$($($rest)*)?]]
        }
    };
    // Tuple variant with its fields named.
    (@tuple $name:ident $send:ident [$($to_send:tt)*] [$($to_ref:tt)*]
        $variant:ident [$($rest:tt)*] [$($bound:ident)*]
    ) => {
        $crate::__sref_enum_arms! {
            @next $name $send
            [$($to_send)*
                $name::$variant($($bound),*) =>
                    $send::$variant($( $crate::SRef::get_sendable($bound) ),*),
            ]
            [$($to_ref)*
                $send::$variant($($bound),*) =>
                    $name::$variant($( $crate::SToRef::to_ref($bound) ),*),
            ]
            $($rest)*
        }
    };
}

/// Emits the impls of a tuple struct of `sref_struct!` once its fields are
/// named.
#[doc(hidden)]
#[macro_export]
macro_rules! __sref_tuple_struct {
    ($name:ident $send:ident [$($bound:ident)*]) => {
        impl $crate::SRef for $name {
            type Send = $send;
            fn get_sendable(self) -> $send {
                let $name($($bound),*) = self;
                $send($( $crate::SRef::get_sendable($bound) ),*)
            }
        }

        impl $crate::SToRef<$name> for $send {
            fn to_ref(self) -> $name {
                let $send($($bound),*) = self;
                $name($( $crate::SToRef::to_ref($bound) ),*)
            }
        }
    };
}

/// Takes one name from the pool per field type, then calls back
/// `$callback! { $args... [names] }`. The pool is written once by the caller,
/// so the names share one hygiene context and match across patterns and
/// expressions.
#[doc(hidden)]
#[macro_export]
macro_rules! __sref_bind {
    ([$($bound:ident)*] [$next:ident $($pool:ident)*] [$ty:ty $(, $more:ty)*]
        $callback:tt $args:tt
    ) => {
        $crate::__sref_bind! { [$($bound)* $next] [$($pool)*] [$($more),*] $callback $args }
    };
    ([$($bound:ident)*] [] [$ty:ty $(, $more:ty)*] $callback:tt $args:tt) => {
        compile_error!("sref_enum!/sref_struct!: more than 16 tuple fields, use named fields");
    };
    ([$($bound:ident)*] [$($pool:ident)*] [] [$($callback:tt)*] [$($args:tt)*]) => {
        $($callback)*! { $($args)* [$($bound)*] }
    };
}
