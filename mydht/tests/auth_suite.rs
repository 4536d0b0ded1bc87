//! The cipher suite in the handshake: both ends must announce the same, a
//! mismatch is refused with `AuthError::SuiteMismatch` whichever side sees
//! it first and whichever suites, and a suite rewritten on the wire fails
//! the signatures instead of downgrading the connection.

use std::time::{Duration, Instant};

use mydht::auth::{AuthPing, CipherSuite};
use mydht::{AuthError, ChallengeCache, Handshake};
use mydht_basetest::peers::local_peer;

const T: Duration = Duration::from_secs(5);
const CHACHA: CipherSuite = CipherSuite::ChaCha20Poly1305;
const AES: CipherSuite = CipherSuite::Aes256Gcm;

fn initiator(suite: CipherSuite, now: Instant) -> (Handshake, AuthPing) {
    Handshake::initiate_with_suite(local_peer("i"), None, suite, T, now).unwrap()
}

fn responder(suite: CipherSuite, now: Instant) -> Handshake {
    Handshake::respond_with_suite(local_peer("r"), suite, T, now)
}

#[test]
fn the_default_suite_is_chacha20_poly1305() {
    let now = Instant::now();
    let (_, ping) = Handshake::initiate(local_peer("i"), None, T, now).unwrap();
    assert_eq!(ping.suite, CHACHA);
    assert_eq!(CipherSuite::default(), CHACHA);
}

/// Both sides in the same suite: keys that agree, for that suite.
#[test]
fn both_sides_in_a_suite_agree_on_keys_for_it() {
    for suite in [CHACHA, AES] {
        let now = Instant::now();
        let (mut i, ping) = initiator(suite, now);
        let mut r = responder(suite, now);
        let pong = r
            .on_ping(&ping, &mut ChallengeCache::new(4, T), now)
            .unwrap();
        assert_eq!(pong.suite, suite);
        let (fin, at_i) = i.on_pong(&pong, now).unwrap();
        let at_r = r.on_final(&fin, now).unwrap();
        assert_eq!(at_i.keys.send, at_r.keys.recv);
        assert_eq!(at_i.keys.recv, at_r.keys.send);
        assert_eq!((at_i.keys.suite, at_r.keys.suite), (suite, suite));
    }
}

/// A responder refuses a ping in another suite, both ways round, before it
/// signs anything; the error names both suites.
#[test]
fn a_responder_refuses_a_ping_in_another_suite() {
    for (ours, theirs) in [(AES, CHACHA), (CHACHA, AES)] {
        let now = Instant::now();
        let (_, ping) = initiator(theirs, now);
        let mut r = responder(ours, now);
        let err = r
            .on_ping(&ping, &mut ChallengeCache::new(4, T), now)
            .unwrap_err();
        assert_eq!(err, AuthError::SuiteMismatch { ours, theirs });
        assert!(r.is_ended());
        let text = err.to_string();
        assert!(
            text.contains(&ours.to_string()) && text.contains(&theirs.to_string()),
            "{text}"
        );
        let err: mydht_base::Error = err.into();
        assert_eq!(err.kind(), mydht_base::ErrorKind::Auth);
    }
}

/// An initiator refuses a pong in another suite (from a responder that
/// did not check the ping's), both ways round, and sends no final pong.
#[test]
fn an_initiator_refuses_a_pong_in_another_suite() {
    for (ours, theirs) in [(AES, CHACHA), (CHACHA, AES)] {
        let now = Instant::now();
        let (mut i, mut ping) = initiator(ours, now);
        ping.suite = theirs;
        let mut r = responder(theirs, now);
        let pong = r
            .on_ping(&ping, &mut ChallengeCache::new(4, T), now)
            .unwrap();
        let err = i.on_pong(&pong, now).unwrap_err();
        assert_eq!(err, AuthError::SuiteMismatch { ours, theirs });
        assert!(i.is_ended());
    }
}

/// A man in the middle who rewrites the ping's suite to the responder's
/// and the pong's back to the initiator's gets past both suite checks, but
/// the responder signed its own suite: the initiator refuses the signature
/// (and the final pong, signed over the initiator's suite, would not
/// verify at the responder either).
#[test]
fn a_suite_rewritten_on_the_wire_fails_the_signatures() {
    for (wanted, forced) in [(AES, CHACHA), (CHACHA, AES)] {
        let now = Instant::now();
        let (mut i, mut ping) = initiator(wanted, now);
        ping.suite = forced;
        let mut r = responder(forced, now);
        let mut pong = r
            .on_ping(&ping, &mut ChallengeCache::new(4, T), now)
            .unwrap();
        pong.suite = wanted;
        assert_eq!(i.on_pong(&pong, now).unwrap_err(), AuthError::BadSignature);
    }
}
