//! The session shadow under random input, in both cipher suites: random
//! bytes never open (and never panic), and random messages survive random
//! short and blocked I/O.

use std::io::{Read, Write};

use mydht::auth::{CipherSuite, SessionKey, SessionKeys};
use mydht::{SessionShadow, Shadow};
use proptest::prelude::*;
use readwrite_comp::testing::{retry, FaultPlan, FaultyReader, FaultyWriter};
use readwrite_comp::{ChunkMode, CompR, CompW};

fn keys(suite: CipherSuite, flip: bool) -> SessionKeys {
    let (a, b) = (
        SessionKey::from_bytes([1; 32]),
        SessionKey::from_bytes([2; 32]),
    );
    let (send, recv) = if flip { (b, a) } else { (a, b) };
    SessionKeys { send, recv, suite }
}

fn any_suite() -> impl Strategy<Value = CipherSuite> {
    prop_oneof![
        Just(CipherSuite::ChaCha20Poly1305),
        Just(CipherSuite::Aes256Gcm)
    ]
}

fn small_chunks() -> SessionShadow {
    SessionShadow::new(ChunkMode::Variable { max_chunk: 64 })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_open(
        wire in prop::collection::vec(any::<u8>(), 0..400),
        suite in any_suite(),
    ) {
        let mut r = CompR::new(&wire[..], small_chunks().reader(&keys(suite, true)).unwrap());
        let mut m = Vec::new();
        let res = r.read_to_end(&mut m).and_then(|_| r.read_end());
        prop_assert!(res.is_err());
    }

    #[test]
    fn messages_survive_short_and_blocked_io(
        messages in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..4),
        seed in any::<u64>(),
        suite in any_suite(),
    ) {
        let shadow = small_chunks();
        let sink = FaultyWriter::new(Vec::new(), FaultPlan::new().max_io(7).seeded(seed, 300));
        let mut w = CompW::new(sink, shadow.writer(&keys(suite, false)).unwrap());
        for m in &messages {
            let mut rest = &m[..];
            while !rest.is_empty() {
                let n = retry(|| w.write(rest)).unwrap();
                rest = &rest[n..];
            }
            retry(|| w.write_end()).unwrap();
        }
        let wire = w.into_inner().into_inner();
        let source = FaultyReader::new(&wire[..], FaultPlan::new().max_io(5).seeded(!seed, 300));
        let mut r = CompR::new(source, shadow.reader(&keys(suite, true)).unwrap());
        for m in &messages {
            let mut got = Vec::new();
            let mut buf = [0u8; 50];
            loop {
                let n = retry(|| r.read(&mut buf)).unwrap();
                if n == 0 { break; }
                got.extend_from_slice(&buf[..n]);
            }
            retry(|| r.read_end()).unwrap();
            prop_assert_eq!(&got, m);
        }
    }
}
