//! The session shadow between two peers that just authenticated, in both
//! cipher suites (the same chunks, a 16-byte tag): messages round-trip, and
//! tampering, truncation, reordering, the wrong key or suite and nonce reuse
//! fail.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use mydht::auth::{CipherSuite, SessionKey, SessionKeys};
use mydht::shadow::{SessionCipher, DEFAULT_MAX_CHUNK, SESSION_TAG_LEN};
use mydht::{ChallengeCache, Handshake, NoShadow, SessionShadow, Shadow, TestShadow};
use mydht_basetest::peers::local_peer;
use readwrite_comp::{ChunkCipher, ChunkMode, CompR, CompW};

/// Every suite a shadow runs in.
const SUITES: [CipherSuite; 2] = [CipherSuite::ChaCha20Poly1305, CipherSuite::Aes256Gcm];

/// Alice's and Bob's session keys, from a real handshake in `suite`.
fn session_keys(suite: CipherSuite) -> (SessionKeys, SessionKeys) {
    let p = local_peer;
    let now = Instant::now();
    let t = Duration::from_secs(5);
    let (mut i, ping) = Handshake::initiate_with_suite(p("a"), None, suite, t, now).unwrap();
    let mut r = Handshake::respond_with_suite(p("b"), suite, t, now);
    let pong = r
        .on_ping(&ping, &mut ChallengeCache::new(4, t), now)
        .unwrap();
    let (fin, alice) = i.on_pong(&pong, now).unwrap();
    let bob = r.on_final(&fin, now).unwrap();
    (alice.keys, bob.keys)
}

fn seal<S: Shadow>(shadow: &S, keys: &SessionKeys, messages: &[&[u8]]) -> Vec<u8> {
    let mut w = CompW::new(Vec::new(), shadow.writer(keys).unwrap());
    for m in messages {
        w.write_all(m).unwrap();
        w.write_end().unwrap();
    }
    w.into_inner()
}

fn open<S: Shadow>(
    shadow: &S,
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
fn messages_round_trip_in_both_directions() {
    for suite in SUITES {
        let (alice, bob) = session_keys(suite);
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
        // Each direction has its own key: the two streams differ.
        assert_ne!(to_bob, to_alice);
    }
}

#[test]
fn fixed_cells_round_trip() {
    for suite in SUITES {
        let (alice, bob) = session_keys(suite);
        let shadow = SessionShadow::new(ChunkMode::Fixed { cell_size: 512 });
        let messages = sizes();
        let refs: Vec<&[u8]> = messages.iter().map(|m| &m[..]).collect();
        let wire = seal(&shadow, &alice, &refs);
        assert_eq!(wire.len() % 512, 0);
        assert_eq!(open(&shadow, &bob, &wire, refs.len()).unwrap(), messages);
    }
}

#[test]
fn the_bytes_on_the_wire_are_not_the_message() {
    for suite in SUITES {
        let (alice, _) = session_keys(suite);
        let secret = b"attack at dawn, attack at dawn, attack at dawn";
        let wire = seal(&SessionShadow::default(), &alice, &[secret]);
        assert!(!wire.windows(6).any(|w| w == b"attack"));
        assert_eq!(wire.len(), 4 + secret.len() + SESSION_TAG_LEN);
    }
}

#[test]
fn the_wrong_key_or_suite_does_not_open() {
    for suite in SUITES {
        let (alice, bob) = session_keys(suite);
        assert_eq!((alice.suite, bob.suite), (suite, suite));
        let wire = seal(&SessionShadow::default(), &alice, &[b"hello"]);
        // Alice reading her own output uses her receive key: refused.
        let err = open(&SessionShadow::default(), &alice, &wire, 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // Bob's right key, in the other suite: refused.
        let other = SUITES.into_iter().find(|&s| s != suite).unwrap();
        let wrong_suite = SessionKeys {
            suite: other,
            ..bob
        };
        let err = open(&SessionShadow::default(), &wrong_suite, &wire, 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}

#[test]
fn tampered_ciphertext_is_detected_anywhere() {
    for suite in SUITES {
        let (alice, bob) = session_keys(suite);
        let shadow = SessionShadow::default();
        let message = vec![9u8; 3 * DEFAULT_MAX_CHUNK / 2];
        let wire = seal(&shadow, &alice, &[&message]);
        // A byte of: first header, first data, first tag, second chunk, last tag.
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
}

#[test]
fn a_truncated_message_is_detected_at_its_end() {
    for suite in SUITES {
        let (alice, bob) = session_keys(suite);
        let shadow = SessionShadow::default();
        let message = vec![5u8; 2 * DEFAULT_MAX_CHUNK + 10];
        let wire = seal(&shadow, &alice, &[&message]);
        let first_chunk = 4 + DEFAULT_MAX_CHUNK + SESSION_TAG_LEN;
        // Cut at a chunk boundary (whole chunks only) or inside a chunk: the
        // reader never reports the message as complete.
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
        // Claiming an early end: the first chunk's header gets the last flag.
        let mut early_end = wire[..first_chunk].to_vec();
        early_end[0] |= 0x80;
        let err = open(&shadow, &bob, &early_end, 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}

#[test]
fn reordered_or_replayed_chunks_are_detected() {
    for suite in SUITES {
        let (alice, bob) = session_keys(suite);
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
}

#[test]
fn the_cipher_never_reuses_a_nonce() {
    for suite in SUITES {
        let mut c = SessionCipher::new(&SessionKey::from_bytes([3; 32]), suite);
        assert_eq!(c.suite(), suite);
        let mut tag = [0u8; SESSION_TAG_LEN];
        c.seal(5, false, &[], &mut [1, 2, 3], &mut tag).unwrap();
        for used in [0, 5] {
            let err = c
                .seal(used, false, &[], &mut [1, 2, 3], &mut tag)
                .unwrap_err();
            assert!(err.to_string().contains("nonce reuse"), "{err}");
        }
        c.seal(6, true, &[], &mut [], &mut tag).unwrap();
    }
}

#[test]
fn the_cipher_stops_when_its_counter_is_exhausted() {
    for suite in SUITES {
        let mut c = SessionCipher::new(&SessionKey::from_bytes([4; 32]), suite);
        let mut tag = [0u8; SESSION_TAG_LEN];
        c.seal(u64::MAX - 1, false, &[], &mut [0; 8], &mut tag)
            .unwrap();
        let err = c
            .seal(u64::MAX, true, &[], &mut [0; 8], &mut tag)
            .unwrap_err();
        assert!(err.to_string().contains("exhausted"), "{err}");
    }
}

#[test]
fn the_cipher_refuses_a_bad_tag_length_without_panicking() {
    for suite in SUITES {
        let mut c = SessionCipher::new(&SessionKey::from_bytes([4; 32]), suite);
        assert!(c.seal(0, false, &[], &mut [0; 8], &mut [0; 3]).is_err());
        let err = c.open(0, false, &[], &mut [0; 8], &[0; 40]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}

#[test]
fn no_shadow_frames_in_clear_and_test_shadow_scrambles() {
    let (alice, bob) = session_keys(CipherSuite::default());
    let wire = seal(&NoShadow::default(), &alice, &[b"plain text"]);
    assert!(wire.windows(10).any(|w| w == b"plain text"));
    assert_eq!(
        open(&NoShadow::default(), &bob, &wire, 1).unwrap(),
        [b"plain text".to_vec()]
    );

    let wire = seal(&TestShadow::default(), &alice, &[b"plain text"]);
    assert!(!wire.windows(10).any(|w| w == b"plain text"));
    assert_eq!(
        open(&TestShadow::default(), &bob, &wire, 1).unwrap(),
        [b"plain text".to_vec()]
    );
    let mut bad = wire.clone();
    bad[6] ^= 1;
    assert!(open(&TestShadow::default(), &bob, &bad, 1).is_err());
}
