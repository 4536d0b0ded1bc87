//! Garbage never panics the handshake: random messages in every state, and
//! random mutations of genuine messages, give a typed error (or, for an
//! untouched field, success) and nothing else.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use mydht::{AuthMessage, ChallengeCache, Handshake, Identity, LocalPeer};
use proptest::prelude::*;

mod auth_support;

use auth_support::auth_message;

const TIMEOUT: Duration = Duration::from_secs(5);

fn peers() -> &'static (Arc<LocalPeer>, Arc<LocalPeer>) {
    static PEERS: OnceLock<(Arc<LocalPeer>, Arc<LocalPeer>)> = OnceLock::new();
    PEERS.get_or_init(|| {
        let p =
            |a: &str| Arc::new(LocalPeer::new(Identity::generate().unwrap(), a.into()).unwrap());
        (p("alice"), p("bob"))
    })
}

/// Flips one byte (chosen by `at`) of one field (chosen by `field`).
fn mutate(field: &mut [&mut Vec<u8>], which: usize, at: usize, xor: u8) {
    let n = field.len();
    let f = &mut field[which % n];
    if !f.is_empty() {
        let i = at % f.len();
        f[i] ^= xor;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_messages_in_any_state_fail_cleanly(msgs in prop::collection::vec(auth_message(), 1..4)) {
        let (alice, bob) = peers();
        let now = Instant::now();
        let mut seen = ChallengeCache::new(16, TIMEOUT);
        let (mut initiator, _) = Handshake::initiate(alice.clone(), None, TIMEOUT, now).unwrap();
        let mut responder = Handshake::respond(bob.clone(), TIMEOUT, now);
        for m in &msgs {
            // Random signatures and challenges never authenticate anyone.
            let r = initiator.handle(m, &mut seen, now);
            prop_assert!(r.is_err());
            if !matches!(m, AuthMessage::Ping(_)) {
                prop_assert!(responder.handle(m, &mut seen, now).is_err());
            } else {
                let _ = responder.handle(m, &mut seen, now);
            }
        }
    }

    #[test]
    fn json_garbage_never_panics(raw in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(m) = serde_json::from_slice::<AuthMessage>(&raw) {
            let (_, bob) = peers();
            let now = Instant::now();
            let mut r = Handshake::respond(bob.clone(), TIMEOUT, now);
            let _ = r.handle(&m, &mut ChallengeCache::new(4, TIMEOUT), now);
        }
    }

    #[test]
    fn a_mutated_pong_or_final_never_authenticates(which in 0usize..8, at in any::<usize>(), xor in 1u8..) {
        let (alice, bob) = peers();
        let now = Instant::now();
        let mut seen = ChallengeCache::new(16, TIMEOUT);
        let (mut i, ping) = Handshake::initiate(alice.clone(), None, TIMEOUT, now).unwrap();
        let mut r = Handshake::respond(bob.clone(), TIMEOUT, now);
        let mut pong = r.on_ping(&ping, &mut seen, now).unwrap();
        let good = pong.clone();
        if which < 6 {
            let p = &mut pong;
            mutate(&mut [
                &mut p.peer.id, &mut p.peer.identity_key, &mut p.peer.tunnel_key,
                &mut p.challenge, &mut p.ephemeral_key, &mut p.signature,
            ], which, at, xor);
            prop_assert!(i.on_pong(&pong, now).is_err());
        } else {
            let (mut fin, _) = i.on_pong(&good, now).unwrap();
            mutate(&mut [&mut fin.your_challenge, &mut fin.signature], which, at, xor);
            prop_assert!(r.on_final(&fin, now).is_err());
        }
    }
}
