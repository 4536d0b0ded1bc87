//! The session shadow with `CipherSuite::Aes256Gcm`, between two peers that
//! agreed on it in their handshake: the properties the ChaCha20-Poly1305
//! shadow has (`shadow_session.rs`, `shadow_garbage.rs`) hold with the same
//! chunks: messages round-trip, tampering, truncation, reordering and
//! replay fail, random bytes never open, and I/O can stop at any byte.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use mydht::auth::{CipherSuite, SessionKeys};
use mydht::shadow::{SessionCipher, DEFAULT_MAX_CHUNK, SESSION_TAG_LEN};
use mydht::{ChallengeCache, Handshake, SessionShadow, Shadow};
use mydht_basetest::peers::local_peer;
use proptest::prelude::*;
use readwrite_comp::testing::{retry, FaultPlan, FaultyReader, FaultyWriter};
use readwrite_comp::{ChunkCipher, ChunkMode, CompR, CompW};

const AES: CipherSuite = CipherSuite::Aes256Gcm;

/// Alice's and Bob's session keys, from a real handshake in AES-256-GCM.
fn session_keys() -> (SessionKeys, SessionKeys) {
    let p = local_peer;
    let now = Instant::now();
    let t = Duration::from_secs(5);
    let (mut i, ping) = Handshake::initiate_with_suite(p("a"), None, AES, t, now).unwrap();
    let mut r = Handshake::respond_with_suite(p("b"), AES, t, now);
    let pong = r
        .on_ping(&ping, &mut ChallengeCache::new(4, t), now)
        .unwrap();
    let (fin, alice) = i.on_pong(&pong, now).unwrap();
    let bob = r.on_final(&fin, now).unwrap();
    (alice.keys, bob.keys)
}

fn seal(shadow: &SessionShadow, keys: &SessionKeys, messages: &[&[u8]]) -> Vec<u8> {
    let mut w = CompW::new(Vec::new(), shadow.writer(keys).unwrap());
    for m in messages {
        w.write_all(m).unwrap();
        w.write_end().unwrap();
    }
    w.into_inner()
}

fn open(
    shadow: &SessionShadow,
    keys: &SessionKeys,
    wire: &[u8],
    n: usize,
) -> io::Result<Vec<Vec<u8>>> {
    let mut r = CompR::new(wire, shadow.reader(keys).unwrap());
    let mut out = Vec::new();
    for _ in 0..n {
        let mut m = Vec::new();
        r.read_to_end(&mut m)?;
        r.read_end()?;
        out.push(m);
    }
    Ok(out)
}

fn sizes() -> Vec<Vec<u8>> {
    [
        0,
        1,
        100,
        DEFAULT_MAX_CHUNK - 1,
        DEFAULT_MAX_CHUNK,
        DEFAULT_MAX_CHUNK + 1,
        100_000,
    ]
    .iter()
    .map(|&n| (0..n).map(|i| (i * 7 + n) as u8).collect())
    .collect()
}

#[test]
fn the_handshake_gives_keys_for_its_suite() {
    let (alice, bob) = session_keys();
    assert_eq!((alice.suite, bob.suite), (AES, AES));
}

#[test]
fn messages_round_trip_in_both_directions() {
    let (alice, bob) = session_keys();
    let shadow = SessionShadow::default();
    let messages = sizes();
    let refs: Vec<&[u8]> = messages.iter().map(|m| &m[..]).collect();
    let to_bob = seal(&shadow, &alice, &refs);
    assert_eq!(open(&shadow, &bob, &to_bob, refs.len()).unwrap(), messages);
    let to_alice = seal(&shadow, &bob, &refs);
    assert_eq!(
        open(&shadow, &alice, &to_alice, refs.len()).unwrap(),
        messages
    );
    assert_ne!(to_bob, to_alice);
}

#[test]
fn fixed_cells_round_trip() {
    let (alice, bob) = session_keys();
    let shadow = SessionShadow::new(ChunkMode::Fixed { cell_size: 512 });
    let messages = sizes();
    let refs: Vec<&[u8]> = messages.iter().map(|m| &m[..]).collect();
    let wire = seal(&shadow, &alice, &refs);
    assert_eq!(wire.len() % 512, 0);
    assert_eq!(open(&shadow, &bob, &wire, refs.len()).unwrap(), messages);
}

/// Same chunk layout as ChaCha20-Poly1305 (a 4-byte header, a 16-byte
/// tag), and no plaintext on the wire.
#[test]
fn the_bytes_on_the_wire_are_not_the_message() {
    let (alice, _) = session_keys();
    let secret = b"attack at dawn, attack at dawn, attack at dawn";
    let wire = seal(&SessionShadow::default(), &alice, &[secret]);
    assert!(!wire.windows(6).any(|w| w == b"attack"));
    assert_eq!(wire.len(), 4 + secret.len() + SESSION_TAG_LEN);
}

#[test]
fn the_wrong_key_or_suite_does_not_open() {
    let (alice, bob) = session_keys();
    let shadow = SessionShadow::default();
    let wire = seal(&shadow, &alice, &[b"hello"]);
    let err = open(&shadow, &alice, &wire, 1).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    // Bob's right key, read as ChaCha20-Poly1305.
    let chacha = SessionKeys {
        suite: CipherSuite::ChaCha20Poly1305,
        ..bob
    };
    let err = open(&shadow, &chacha, &wire, 1).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

#[test]
fn tampered_ciphertext_is_detected_anywhere() {
    let (alice, bob) = session_keys();
    let shadow = SessionShadow::default();
    let message = vec![9u8; 3 * DEFAULT_MAX_CHUNK / 2];
    let wire = seal(&shadow, &alice, &[&message]);
    let first_tag = 4 + DEFAULT_MAX_CHUNK;
    for at in [
        1,
        4,
        1000,
        first_tag,
        first_tag + 16 + 2,
        first_tag + 30,
        wire.len() - 1,
    ] {
        let mut bad = wire.clone();
        bad[at] ^= 0x01;
        let err = open(&shadow, &bob, &bad, 1).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
            ),
            "flip at {at}: {err}"
        );
    }
}

#[test]
fn a_truncated_message_is_detected_at_its_end() {
    let (alice, bob) = session_keys();
    let shadow = SessionShadow::default();
    let message = vec![5u8; 2 * DEFAULT_MAX_CHUNK + 10];
    let wire = seal(&shadow, &alice, &[&message]);
    let first_chunk = 4 + DEFAULT_MAX_CHUNK + SESSION_TAG_LEN;
    for cut in [
        0,
        first_chunk,
        2 * first_chunk,
        first_chunk + 100,
        wire.len() - 1,
    ] {
        let err = open(&shadow, &bob, &wire[..cut], 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
    }
    let mut early_end = wire[..first_chunk].to_vec();
    early_end[0] |= 0x80;
    let err = open(&shadow, &bob, &early_end, 1).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

#[test]
fn reordered_or_replayed_chunks_are_detected() {
    let (alice, bob) = session_keys();
    let shadow = SessionShadow::default();
    let wire = seal(&shadow, &alice, &[b"first", b"second"]);
    let first = 4 + 5 + SESSION_TAG_LEN;
    let (a, b) = wire.split_at(first);
    let swapped = [b, a].concat();
    assert_eq!(
        open(&shadow, &bob, &swapped, 2).unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );
    let replayed = [a, a].concat();
    let mut r = CompR::new(&replayed[..], shadow.reader(&bob).unwrap());
    let mut m = Vec::new();
    r.read_to_end(&mut m).unwrap();
    r.read_end().unwrap();
    assert_eq!(
        r.read_to_end(&mut m).unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );
}

#[test]
fn the_cipher_never_reuses_a_nonce_and_stops_when_exhausted() {
    let (alice, _) = session_keys();
    let mut c = SessionCipher::new(&alice.send, AES);
    assert_eq!(c.suite(), AES);
    let mut tag = [0u8; SESSION_TAG_LEN];
    c.seal(5, false, &[], &mut [1, 2, 3], &mut tag).unwrap();
    for used in [0, 5] {
        let err = c
            .seal(used, false, &[], &mut [1, 2, 3], &mut tag)
            .unwrap_err();
        assert!(err.to_string().contains("nonce reuse"), "{err}");
    }
    c.seal(u64::MAX - 1, false, &[], &mut [0; 8], &mut tag)
        .unwrap();
    let err = c
        .seal(u64::MAX, true, &[], &mut [0; 8], &mut tag)
        .unwrap_err();
    assert!(err.to_string().contains("exhausted"), "{err}");
    assert!(c.seal(0, false, &[], &mut [0; 8], &mut [0; 3]).is_err());
    let err = c.open(0, false, &[], &mut [0; 8], &[0; 40]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

fn small_chunks() -> SessionShadow {
    SessionShadow::new(ChunkMode::Variable { max_chunk: 64 })
}

fn fixed_keys() -> (SessionKeys, SessionKeys) {
    static KEYS: std::sync::OnceLock<(SessionKeys, SessionKeys)> = std::sync::OnceLock::new();
    KEYS.get_or_init(session_keys).clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_bytes_never_open(wire in prop::collection::vec(any::<u8>(), 0..400)) {
        let (_, bob) = fixed_keys();
        let mut r = CompR::new(&wire[..], small_chunks().reader(&bob).unwrap());
        let mut m = Vec::new();
        let res = r.read_to_end(&mut m).and_then(|_| r.read_end());
        prop_assert!(res.is_err());
    }

    #[test]
    fn messages_survive_short_and_blocked_io(
        messages in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..4),
        seed in any::<u64>(),
    ) {
        let (alice, bob) = fixed_keys();
        let shadow = small_chunks();
        let sink = FaultyWriter::new(Vec::new(), FaultPlan::new().max_io(7).seeded(seed, 300));
        let mut w = CompW::new(sink, shadow.writer(&alice).unwrap());
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
        let mut r = CompR::new(source, shadow.reader(&bob).unwrap());
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
