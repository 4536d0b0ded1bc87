//! `Json` and `Bincode`: every message round-trips, through frames too;
//! malformed input is a `Decode` error that closes the connection.

mod frame_support;

use std::collections::HashMap;

use frame_support::{check_round_trip, round_trip, TestMsg, Value};
use mydht::msgenc::{Bincode, Json};
use mydht_base::{Attachment, ErrorKind, ErrorLevel, MsgEnc};
use proptest::prelude::*;

#[test]
fn json_round_trips_every_message() {
    check_round_trip::<TestMsg, _>(&Json, 256);
}

#[test]
fn bincode_round_trips_every_message() {
    check_round_trip::<TestMsg, _>(&Bincode::new(), 256);
}

#[test]
fn round_trip_of_a_fixed_batch() {
    let msgs = vec![
        TestMsg::Ping {
            nonce: u64::MAX,
            from: Some("é\"\\\n".into()),
        },
        TestMsg::Store {
            key: vec![0, 255],
            value: Value::Bytes(vec![1; 5000]),
            attachment: Some(Attachment::new(1 << 40)),
        },
        TestMsg::Found {
            values: [(7, Value::Pair(-1, true)), (9, Value::Empty)].into(),
            hops: 3,
        },
        TestMsg::Bye,
    ];
    round_trip(&Json, &msgs, &[1, 7, 300]).unwrap();
    round_trip(&Bincode::new(), &msgs, &[1, 7, 300]).unwrap();
}

fn assert_decode_error<E: MsgEnc>(enc: &E, bytes: &[u8]) {
    let e = enc.decode::<TestMsg>(bytes).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode, "{e}");
    assert_eq!(e.level(), ErrorLevel::ShutDown, "{e}");
}

#[test]
fn trailing_bytes_after_a_message_are_an_error() {
    let mut out = Vec::new();
    Json.encode(&TestMsg::Bye, &mut out).unwrap();
    out.extend_from_slice(b"{}");
    assert_decode_error(&Json, &out);

    let mut out = Vec::new();
    Bincode::new().encode(&TestMsg::Bye, &mut out).unwrap();
    out.push(0);
    assert_decode_error(&Bincode::new(), &out);
}

#[test]
fn empty_input_is_an_error() {
    assert_decode_error(&Json, b"");
    assert_decode_error(&Bincode::new(), b"");
}

#[test]
fn bincode_rejects_a_claimed_length_over_its_limit_without_allocating_it() {
    // `Ping` (variant 0), nonce 0, `from` is `Some` of a string whose length
    // is a varint u64 (tag 253): 2^56 bytes claimed by a message of 12
    // bytes. Without the limit bincode would allocate a string of the
    // claimed length before reading it.
    let mut bytes = vec![0, 0, 1, 253];
    bytes.extend_from_slice(&(1u64 << 56).to_le_bytes());
    let e = Bincode::new().decode::<TestMsg>(&bytes).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert!(e.message().contains("Limit"), "{e}");

    // Under a tight limit, a legitimate but bigger message is refused too.
    let small = Bincode::<64>::with_limit();
    assert_eq!(small.limit(), 64);
    let mut out = Vec::new();
    let msg = TestMsg::Tags(vec!["x".repeat(100)]);
    small.encode(&msg, &mut out).unwrap();
    assert_decode_error(&small, &out);
}

#[test]
fn an_unencodable_message_is_an_encode_error_and_leaves_the_output_as_it_was() {
    // JSON object keys must be strings or integers.
    let msg: HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
    let mut out = b"prefix".to_vec();
    let e = Json.encode(&msg, &mut out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Encode);
    assert_eq!(e.level(), ErrorLevel::Ignore);
    assert_eq!(out, b"prefix");
}

#[test]
fn encoders_append_to_their_output() {
    let mut out = b"xy".to_vec();
    Bincode::new().encode(&7u8, &mut out).unwrap();
    assert_eq!(out, [b'x', b'y', 7]);
    let mut out = b"xy".to_vec();
    Json.encode(&7u8, &mut out).unwrap();
    assert_eq!(out, b"xy7");
}

proptest! {
    #[test]
    fn garbage_never_panics_and_is_a_shutdown_error(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        for result in [Json.decode::<TestMsg>(&bytes), Bincode::new().decode::<TestMsg>(&bytes)] {
            if let Err(e) = result {
                prop_assert_eq!(e.kind(), ErrorKind::Decode);
                prop_assert_eq!(e.level(), ErrorLevel::ShutDown);
            }
        }
    }

    #[test]
    fn a_corrupted_message_never_panics(
        msg in any::<TestMsg>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        // Changing one byte of a valid message reaches deeper decoder paths
        // than random bytes do.
        for result in [corrupt(&Json, &msg, at, byte), corrupt(&Bincode::new(), &msg, at, byte)] {
            if let Err(e) = result {
                prop_assert_eq!(e.kind(), ErrorKind::Decode);
                prop_assert_eq!(e.level(), ErrorLevel::ShutDown);
            }
        }
    }
}

/// Encodes `msg`, sets the byte at `at` to `byte`, decodes.
fn corrupt<E: MsgEnc>(
    enc: &E,
    msg: &TestMsg,
    at: prop::sample::Index,
    byte: u8,
) -> mydht_base::Result<TestMsg> {
    let mut out = Vec::new();
    enc.encode(msg, &mut out).unwrap();
    let i = at.index(out.len());
    out[i] = byte;
    enc.decode(&out)
}
