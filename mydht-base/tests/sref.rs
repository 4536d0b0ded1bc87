//! `SRef` behaviour users rely on: values cross threads through their
//! sendable form and come back equal, `Rc` values are moved when unique and
//! cloned when shared, `Arc` values stay shared, `Ref`s encode as the plain
//! value, and `sref_enum!`/`sref_struct!` make the sendable twins.

use std::collections::{BTreeSet, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use mydht_base::{ArcRef, CloneRef, RcRef, Ref, SRef, SToRef};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// A peer that counts how many times it was cloned.
#[derive(Debug)]
struct Peer {
    id: u64,
    clones: Arc<AtomicUsize>,
}

impl Peer {
    fn new(id: u64) -> (Self, Arc<AtomicUsize>) {
        let clones = Arc::new(AtomicUsize::new(0));
        let peer = Peer {
            id,
            clones: clones.clone(),
        };
        (peer, clones)
    }
}

impl Clone for Peer {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, Ordering::SeqCst);
        Peer {
            id: self.id,
            clones: self.clones.clone(),
        }
    }
}

impl PartialEq for Peer {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

mydht_base::sref_enum! {
    /// A command of the global service, holding `Rc`s.
    #[derive(Debug, Clone, PartialEq)]
    pub enum GlobalCommand => #[derive(Debug)] GlobalCommandSend {
        /// A peer was seen.
        Touch(RcRef<Peer>, u64),
        /// Forward a payload.
        Forward {
            /// The peers to forward to.
            to: Vec<RcRef<Peer>>,
            /// What to forward.
            payload: String,
        },
        /// Nested std types.
        Nested(Option<Box<(RcRef<Peer>, bool)>>,),
        /// Stop.
        Stop,
    }
}

mydht_base::sref_enum! {
    /// No variant at all.
    pub enum Never => NeverSend {}
}

mydht_base::sref_enum! {
    /// The largest tuple variant the macro takes, crate visibility.
    #[derive(Debug, PartialEq)]
    pub(crate) enum Wide => WideSend {
        /// Sixteen fields.
        Sixteen(
            u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8,
            #[allow(unused)] RcRef<u8>,
        ),
    }
}

mydht_base::sref_struct! {
    /// A named-field struct.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Query => QuerySend {
        /// Who asked.
        pub from: RcRef<Peer>,
        /// Hops left.
        pub hops: u8,
        route: Vec<CloneRef<u64>>,
    }
}

mydht_base::sref_struct! {
    /// A tuple struct.
    #[derive(Debug, PartialEq)]
    pub struct Hop => HopSend(pub RcRef<Peer>, u8);
}

mydht_base::sref_struct! {
    /// A unit struct.
    #[derive(Debug, PartialEq)]
    pub struct Ping => PingSend;
}

/// Sends a sendable form to another thread and back, as a service channel
/// would.
fn cross_thread<S: Send + 'static>(s: S) -> S {
    thread::spawn(move || s).join().expect("thread")
}

fn round_trip<T: SRef>(t: T) -> T
where
    T::Send: 'static,
{
    cross_thread(t.get_sendable()).to_ref()
}

fn assert_send<T: Send>() {}

#[test]
fn twins_are_send() {
    assert_send::<GlobalCommandSend>();
    assert_send::<QuerySend>();
    assert_send::<HopSend>();
    assert_send::<PingSend>();
    assert_send::<NeverSend>();
}

#[test]
fn unique_rc_is_moved_not_cloned() {
    let (peer, clones) = Peer::new(1);
    let back = round_trip(RcRef::new(peer));
    assert_eq!(back.id, 1);
    assert_eq!(clones.load(Ordering::SeqCst), 0);
    assert_eq!(Rc::strong_count(back.as_rc()), 1);
}

#[test]
fn shared_rc_is_cloned_and_the_original_kept() {
    let (peer, clones) = Peer::new(2);
    let kept = RcRef::new(peer);
    let back = round_trip(kept.clone());
    assert_eq!(clones.load(Ordering::SeqCst), 1);
    assert_eq!(*back, *kept);
    // A new Rc on the receiving side, sharing nothing with the original.
    assert!(!RcRef::ptr_eq(&back, &kept));
    assert_eq!(Rc::strong_count(kept.as_rc()), 1);
    assert_eq!(Rc::strong_count(back.as_rc()), 1);
}

#[test]
fn arc_stays_shared_across_threads() {
    let kept = ArcRef::new(String::from("peer"));
    let back = round_trip(kept.clone());
    assert!(ArcRef::ptr_eq(&back, &kept));
    assert_eq!(Arc::strong_count(kept.as_arc()), 2);
}

#[test]
fn clone_ref_round_trips() {
    let back = round_trip(CloneRef::new(vec![1u8, 2, 3]));
    assert_eq!(back.into_inner(), vec![1, 2, 3]);
}

#[test]
fn enum_command_round_trips_through_a_thread() {
    let (p1, clones1) = Peer::new(1);
    let (p2, clones2) = Peer::new(2);
    let p1 = RcRef::new(p1);
    let p2 = RcRef::new(p2);
    let commands = vec![
        GlobalCommand::Touch(p1.clone(), 42),
        GlobalCommand::Forward {
            to: vec![p1.clone(), p2.clone()],
            payload: "hello".into(),
        },
        GlobalCommand::Nested(Some(Box::new((p2.clone(), true)))),
        GlobalCommand::Nested(None),
        GlobalCommand::Stop,
    ];
    let expected = commands.clone();
    let back: Vec<GlobalCommand> = commands
        .into_iter()
        .map(|c| {
            let sendable: GlobalCommandSend = c.get_sendable();
            cross_thread(sendable).to_ref()
        })
        .collect();
    assert_eq!(back, expected);
    // p1 was shared by the kept handle in each command: cloned once per use.
    assert_eq!(clones1.load(Ordering::SeqCst), 2);
    assert_eq!(clones2.load(Ordering::SeqCst), 2);
    match &back[1] {
        GlobalCommand::Forward { to, .. } => {
            // Each arrives as its own Rc, distinct from the sender's.
            assert!(!RcRef::ptr_eq(&to[0], &p1));
            assert_eq!(Rc::strong_count(to[0].as_rc()), 1);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn struct_commands_round_trip() {
    let (peer, clones) = Peer::new(3);
    let query = Query {
        from: RcRef::new(peer),
        hops: 4,
        route: vec![CloneRef::new(7), CloneRef::new(9)],
    };
    let back = round_trip(query.clone());
    assert_eq!(back, query);
    assert_eq!(clones.load(Ordering::SeqCst), 1);

    let (peer, clones) = Peer::new(4);
    let hop = round_trip(Hop(RcRef::new(peer), 5));
    assert_eq!((hop.0.id, hop.1), (4, 5));
    assert_eq!(clones.load(Ordering::SeqCst), 0);

    assert_eq!(round_trip(Ping), Ping);
}

#[test]
fn sixteen_field_tuple_variant_round_trips() {
    let wide = Wide::Sixteen(
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        12,
        13,
        14,
        RcRef::new(15),
    );
    let Wide::Sixteen(a, .., b, last) = round_trip(wide);
    assert_eq!((a, b, *last), (0, 14, 15));
}

/// Code written against `Ref` works with each implementation.
fn sum_through_ref<R: Ref<u64>>(values: &[u64]) -> u64
where
    R::Send: 'static,
{
    let refs: Vec<R> = values.iter().map(|v| R::new(*v)).collect();
    let sent: Vec<R> = round_trip(refs.clone());
    sent.iter().map(|r| *r.borrow()).sum()
}

#[test]
fn code_generic_over_ref_works_with_each() {
    let values = [1, 2, 3, 4];
    assert_eq!(sum_through_ref::<RcRef<u64>>(&values), 10);
    assert_eq!(sum_through_ref::<ArcRef<u64>>(&values), 10);
    assert_eq!(sum_through_ref::<CloneRef<u64>>(&values), 10);
}

#[test]
fn refs_compare_hash_and_print_as_their_value() {
    let set: HashSet<RcRef<String>> = ["a", "b", "a"]
        .iter()
        .map(|s| RcRef::new(s.to_string()))
        .collect();
    assert_eq!(set.len(), 2);
    assert!(set.contains(&RcRef::new("a".to_string())));
    let ordered: BTreeSet<ArcRef<u32>> = [3, 1, 2].into_iter().map(ArcRef::new).collect();
    let ordered: Vec<u32> = ordered.iter().map(|r| **r).collect();
    assert_eq!(ordered, vec![1, 2, 3]);
    assert_eq!(format!("{:?}", CloneRef::new("x")), format!("{:?}", "x"));
    assert_eq!(format!("{}", RcRef::new(5)), "5");
}

#[test]
fn results_and_errors_cross_threads() {
    let ok: Result<RcRef<u32>, mydht_base::Error> = Ok(RcRef::new(3));
    assert_eq!(*round_trip(ok).unwrap(), 3);
    let err: Result<RcRef<u32>, mydht_base::Error> = Err(mydht_base::Error::yielded());
    assert!(round_trip(err).unwrap_err().is_yielded());
}

proptest! {
    #[test]
    fn std_types_round_trip(
        v in proptest::collection::vec(
            (any::<u32>(), any::<Option<String>>(), any::<bool>(), any::<i64>()),
            0..8,
        ),
        unit in Just(()),
        ch in any::<char>(),
    ) {
        let value = (v.clone(), Box::new(unit), ch);
        prop_assert_eq!(round_trip(value), (v, Box::new(()), ch));
    }

    #[test]
    fn rc_values_round_trip(v in proptest::collection::vec(any::<u64>(), 0..8)) {
        let refs: Vec<(RcRef<u64>,)> = v.iter().map(|x| (RcRef::new(*x),)).collect();
        let back: Vec<u64> = round_trip(refs).into_iter().map(|(r,)| *r).collect();
        prop_assert_eq!(back, v);
    }
}

mod serde_passthrough {
    //! A `Ref` in a message must encode as the plain value: checked with a
    //! serializer that records the calls it gets.

    use super::*;
    use serde::ser::{self, Impossible, SerializeStruct};
    use std::fmt;

    #[derive(Debug)]
    struct RecordError(String);

    impl fmt::Display for RecordError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for RecordError {}

    impl ser::Error for RecordError {
        fn custom<T: fmt::Display>(msg: T) -> Self {
            RecordError(msg.to_string())
        }
    }

    /// Records `u64`, strings, newtype wrappers and structs; refuses the
    /// rest.
    struct Recorder;

    struct RecordStruct(String);

    impl SerializeStruct for RecordStruct {
        type Ok = String;
        type Error = RecordError;
        fn serialize_field<T: Serialize + ?Sized>(
            &mut self,
            key: &'static str,
            value: &T,
        ) -> Result<(), RecordError> {
            self.0 += &format!("{key}={};", value.serialize(Recorder)?);
            Ok(())
        }
        fn end(self) -> Result<String, RecordError> {
            Ok(self.0 + "}")
        }
    }

    fn refused<T>() -> Result<T, RecordError> {
        Err(RecordError("not recorded".into()))
    }

    impl ser::Serializer for Recorder {
        type Ok = String;
        type Error = RecordError;
        type SerializeSeq = Impossible<String, RecordError>;
        type SerializeTuple = Impossible<String, RecordError>;
        type SerializeTupleStruct = Impossible<String, RecordError>;
        type SerializeTupleVariant = Impossible<String, RecordError>;
        type SerializeMap = Impossible<String, RecordError>;
        type SerializeStruct = RecordStruct;
        type SerializeStructVariant = Impossible<String, RecordError>;

        fn serialize_u64(self, v: u64) -> Result<String, RecordError> {
            Ok(format!("u64({v})"))
        }
        fn serialize_str(self, v: &str) -> Result<String, RecordError> {
            Ok(format!("str({v})"))
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            name: &'static str,
            value: &T,
        ) -> Result<String, RecordError> {
            Ok(format!("{name}({})", value.serialize(Recorder)?))
        }
        fn serialize_struct(
            self,
            name: &'static str,
            _len: usize,
        ) -> Result<RecordStruct, RecordError> {
            Ok(RecordStruct(format!("{name}{{")))
        }

        fn serialize_bool(self, _: bool) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_i8(self, _: i8) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_i16(self, _: i16) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_i32(self, _: i32) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_i64(self, _: i64) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_u8(self, _: u8) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_u16(self, _: u16) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_u32(self, _: u32) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_f32(self, _: f32) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_f64(self, _: f64) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_char(self, _: char) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_bytes(self, _: &[u8]) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_none(self) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_unit(self) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_unit_struct(self, _: &'static str) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
        ) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<String, RecordError> {
            refused()
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, RecordError> {
            refused()
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, RecordError> {
            refused()
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, RecordError> {
            refused()
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, RecordError> {
            refused()
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, RecordError> {
            refused()
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, RecordError> {
            refused()
        }
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(rename = "Msg")]
    struct MsgWithRefs {
        peer: RcRef<u64>,
        hops: ArcRef<u64>,
        name: CloneRef<String>,
    }

    #[derive(Serialize)]
    #[serde(rename = "Msg")]
    struct MsgPlain {
        peer: u64,
        hops: u64,
        name: String,
    }

    /// Control: a real newtype is recorded as one, so the recorder can tell.
    #[derive(Serialize)]
    struct Wrapped(u64);

    #[test]
    fn refs_serialize_as_the_plain_value() {
        let with_refs = MsgWithRefs {
            peer: RcRef::new(1),
            hops: ArcRef::new(2),
            name: CloneRef::new("n".into()),
        };
        let plain = MsgPlain {
            peer: 1,
            hops: 2,
            name: "n".into(),
        };
        let recorded = with_refs.serialize(Recorder).unwrap();
        assert_eq!(recorded, "Msg{peer=u64(1);hops=u64(2);name=str(n);}");
        assert_eq!(recorded, plain.serialize(Recorder).unwrap());
        assert_eq!(Wrapped(1).serialize(Recorder).unwrap(), "Wrapped(u64(1))");
    }

    #[test]
    fn refs_deserialize_from_the_plain_value() {
        use serde::de::value::{Error, MapDeserializer, StrDeserializer, U64Deserializer};
        use serde::de::IntoDeserializer;

        let peer = RcRef::<u64>::deserialize(U64Deserializer::<Error>::new(9)).unwrap();
        assert_eq!(*peer, 9);
        let name = CloneRef::<String>::deserialize(StrDeserializer::<Error>::new("n")).unwrap();
        assert_eq!(*name, "n");

        #[derive(Deserialize)]
        struct Counts {
            a: RcRef<u64>,
            b: ArcRef<u64>,
        }
        let fields = vec![("a", 1u64), ("b", 2u64)];
        let counts = Counts::deserialize(MapDeserializer::<_, Error>::new(
            fields.into_iter().map(|(k, v)| (k, v.into_deserializer())),
        ))
        .unwrap();
        assert_eq!((*counts.a, *counts.b), (1, 2));
    }
}
