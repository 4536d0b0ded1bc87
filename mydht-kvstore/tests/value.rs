//! Signed values: signing, verification, every way a value is refused.

mod common;

use std::error::Error as _;

use common::{identity, value, T0};
use mydht::PeerId;
use mydht_base::{ErrorKind, KeyVal};
use mydht_kvstore::{Key, SignedValue, ValueError, ValueLimits};

const HOUR: u64 = 3_600_000;

#[test]
fn sign_verify_round_trip() {
    let me = identity(1);
    let v = value(&me, "greeting", b"hello", T0, HOUR);
    v.verify(T0, &ValueLimits::default()).unwrap();
    assert_eq!(v.key(), &Key::hash_of(b"greeting"));
    assert_eq!(v.get_key(), Key::hash_of(b"greeting"));
    assert_eq!(v.value(), b"hello");
    assert_eq!(v.publisher(), *me.id());
    assert_eq!(v.publisher_key(), me.identity_key());
    assert_eq!(v.version(), T0);
    assert_eq!(v.expires_at(), T0 + HOUR);
    // Through its encoding, and through its parts.
    let back = SignedValue::from_bytes(&v.to_bytes(), &ValueLimits::default()).unwrap();
    assert_eq!(back, v);
    back.verify(T0 + HOUR - 1, &ValueLimits::default()).unwrap();
    assert_eq!(SignedValue::from_parts(v.to_parts()), v);
}

#[test]
fn a_flipped_byte_anywhere_fails() {
    let v = value(&identity(1), "k", b"some value bytes", T0, HOUR);
    let limits = ValueLimits::default();
    let bytes = v.to_bytes();
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= bit;
            let verdict =
                SignedValue::from_bytes(&bad, &limits).and_then(|b| b.verify(T0, &limits));
            assert!(
                verdict.is_err(),
                "byte {i} bit {bit:#x} flipped still verifies"
            );
        }
    }
    // And in each field of the signed message, through the parts: the
    // signature itself, the key, the value, the version, the expiry.
    let mut parts = v.to_parts();
    parts.signature[63] ^= 1;
    let bad = SignedValue::from_parts(parts).verify(T0, &limits);
    assert!(
        matches!(bad, Err(ValueError::BadSignature { .. })),
        "{bad:?}"
    );
    let mut parts = v.to_parts();
    parts.key = Key::hash_of(b"other");
    let bad = SignedValue::from_parts(parts).verify(T0, &limits);
    assert!(
        matches!(bad, Err(ValueError::BadSignature { .. })),
        "{bad:?}"
    );
    let mut parts = v.to_parts();
    parts.value.push(0);
    let bad = SignedValue::from_parts(parts).verify(T0, &limits);
    assert!(
        matches!(bad, Err(ValueError::BadSignature { .. })),
        "{bad:?}"
    );
    let mut parts = v.to_parts();
    parts.version += 1;
    let bad = SignedValue::from_parts(parts).verify(T0, &limits);
    assert!(
        matches!(bad, Err(ValueError::BadSignature { .. })),
        "{bad:?}"
    );
    let mut parts = v.to_parts();
    parts.expires_at += 1;
    let bad = SignedValue::from_parts(parts).verify(T0, &limits);
    assert!(
        matches!(bad, Err(ValueError::BadSignature { .. })),
        "{bad:?}"
    );
}

#[test]
fn a_weak_publisher_key_signs_nothing() {
    // The Ed25519 identity point as the publisher key, with R the identity
    // and s = 0: a cofactorless check accepts this "signature" on any
    // message (s·B − h·A = identity = R), so anyone could sign for this
    // publisher id. `verify` refuses small-order keys: two values of
    // distinct contents, both refused.
    let mut weak = [0u8; 32];
    weak[0] = 1;
    let mut signature = [0u8; 64];
    signature[0] = 1;
    let limits = ValueLimits::default();
    for (name, bytes) in [("a", &b"first"[..]), ("b", &b"second value"[..])] {
        let forged = SignedValue::from_parts(mydht_kvstore::SignedValueParts {
            key: Key::hash_of(name.as_bytes()),
            value: bytes.to_vec(),
            publisher_key: weak,
            publisher: PeerId::of_key(&weak),
            version: T0,
            expires_at: T0 + HOUR,
            signature,
        });
        let bad = forged.verify(T0, &limits);
        assert!(
            matches!(bad, Err(ValueError::BadSignature { .. })),
            "{name}: {bad:?}"
        );
    }
}

#[test]
fn over_size_is_refused() {
    let limits = ValueLimits::default();
    let me = identity(1);
    let at_limit = value(&me, "k", &vec![7; limits.max_value_len], T0, HOUR);
    at_limit.verify(T0, &limits).unwrap();
    let over = value(&me, "k", &vec![7; limits.max_value_len + 1], T0, HOUR);
    match over.verify(T0, &limits) {
        Err(ValueError::TooLarge { len, max }) => {
            assert_eq!((len, max), (65_537, 65_536));
        }
        other => panic!("{other:?}"),
    }
    // A smaller configured limit.
    let small = ValueLimits { max_value_len: 4 };
    assert!(matches!(
        value(&me, "k", b"12345", T0, HOUR).verify(T0, &small),
        Err(ValueError::TooLarge { len: 5, max: 4 })
    ));
    // An encoding longer than any value within the limits is refused
    // before it is decoded.
    let huge = value(&me, "k", &vec![7; limits.max_encoded_len()], T0, HOUR);
    let bytes = huge.to_bytes();
    assert!(matches!(
        SignedValue::from_bytes(&bytes, &limits),
        Err(ValueError::TooLarge { .. })
    ));
}

#[test]
fn expired_is_refused() {
    let v = value(&identity(1), "k", b"v", T0, 1_000);
    v.verify(T0 + 999, &ValueLimits::default()).unwrap();
    match v.verify(T0 + 1_000, &ValueLimits::default()) {
        Err(ValueError::Expired { expires_at, now }) => {
            assert_eq!((expires_at, now), (T0 + 1_000, T0 + 1_000));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_publisher_key_or_id_is_refused() {
    let (alice, bob) = (identity(1), identity(2));
    let v = value(&alice, "k", b"v", T0, HOUR);
    let limits = ValueLimits::default();
    // Bob's id on Alice's key and signature.
    let mut parts = v.to_parts();
    parts.publisher = *bob.id();
    let bad = SignedValue::from_parts(parts).verify(T0, &limits);
    assert!(matches!(bad, Err(ValueError::WrongPublisher)), "{bad:?}");
    // Bob's key on Alice's id.
    let mut parts = v.to_parts();
    parts.publisher_key = *bob.identity_key();
    let bad = SignedValue::from_parts(parts).verify(T0, &limits);
    assert!(matches!(bad, Err(ValueError::WrongPublisher)), "{bad:?}");
    // Bob's key and id consistently, Alice's signature.
    let mut parts = v.to_parts();
    parts.publisher_key = *bob.identity_key();
    parts.publisher = PeerId::of_key(bob.identity_key());
    let bad = SignedValue::from_parts(parts).verify(T0, &limits);
    assert!(
        matches!(bad, Err(ValueError::BadSignature { .. })),
        "{bad:?}"
    );
}

#[test]
fn malformed_bytes_are_refused() {
    let limits = ValueLimits::default();
    let v = value(&identity(1), "k", b"v", T0, HOUR);
    let bytes = v.to_bytes();
    for cut in [0, 1, 31, bytes.len() - 1] {
        let bad = SignedValue::from_bytes(&bytes[..cut], &limits);
        assert!(
            matches!(bad, Err(ValueError::Malformed { .. })),
            "{cut}: {bad:?}"
        );
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(
        SignedValue::from_bytes(&long, &limits),
        Err(ValueError::Malformed {
            reason: "trailing bytes",
            ..
        })
    ));
    // A length prefix claiming far more than there is allocates nothing
    // of that size: bincode's limit and the input bound it.
    let mut huge = bytes[..32].to_vec();
    huge.extend_from_slice(&[0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert!(SignedValue::from_bytes(&huge, &limits).is_err());
}

#[test]
fn value_errors_convert_keeping_their_cause() {
    let v = value(&identity(1), "k", b"v", T0, 1);
    let e = v.verify(T0 + 1, &ValueLimits::default()).unwrap_err();
    let base: mydht_base::Error = e.into();
    assert_eq!(base.kind(), ErrorKind::Rejected);
    let cause = base.source().and_then(|s| s.downcast_ref::<ValueError>());
    assert!(
        matches!(cause, Some(ValueError::Expired { .. })),
        "{cause:?}"
    );

    let mut parts = v.to_parts();
    parts.signature[0] ^= 1;
    let e = SignedValue::from_parts(parts)
        .verify(T0, &ValueLimits::default())
        .unwrap_err();
    assert_eq!(mydht_base::Error::from(e).kind(), ErrorKind::Auth);
}
