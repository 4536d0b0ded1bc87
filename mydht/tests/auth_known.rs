//! The one-message known-key handshake driven in memory: the success path,
//! then one test per way a flight must be refused (each with its typed
//! error), and hostile flights that must never panic.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mydht::auth::{wall_clock_ms, AuthKnown, AuthMode, CipherSuite};
use mydht::{AuthError, ChallengeCache, Handshake, LocalPeer};
use mydht_base::Peer;
use mydht_basetest::peers::local_peer;
use proptest::prelude::*;

const TIMEOUT: Duration = Duration::from_secs(5);

/// A node's memory as the core makes it: flights are remembered for
/// `TIMEOUT` (half the ttl).
fn memory() -> ChallengeCache {
    ChallengeCache::new(64, 2 * TIMEOUT)
}

/// Alice knows Bob's keys (his binding checked) and dials him.
struct Dialled {
    alice: Arc<LocalPeer>,
    bob: Arc<LocalPeer>,
    flight: AuthKnown,
    at_alice: mydht::Authenticated,
    wall: u64,
}

fn dial() -> Dialled {
    dial_as(false)
}

/// [`dial`], the flight for a send-once connection or a pooled one.
fn dial_as(send_once: bool) -> Dialled {
    let (alice, bob) = (local_peer("alice:1"), local_peer("bob:2"));
    let mut alice_memory = memory();
    alice_memory
        .verify_peer(bob.info(), bob.identity().key_binding())
        .unwrap();
    let wall = wall_clock_ms();
    let dial = if send_once {
        Handshake::dial_known_send_once
    } else {
        Handshake::dial_known
    };
    let (flight, at_alice) = dial(
        &alice,
        bob.info(),
        &mut alice_memory,
        CipherSuite::default(),
        wall,
    )
    .unwrap();
    Dialled {
        alice,
        bob,
        flight,
        at_alice,
        wall,
    }
}

fn accept(
    local: &Arc<LocalPeer>,
    flight: &AuthKnown,
    seen: &mut ChallengeCache,
    wall: u64,
) -> Result<mydht::Authenticated, AuthError> {
    let now = Instant::now();
    Handshake::respond(local.clone(), TIMEOUT, now).on_known(flight, seen, now, wall)
}

#[test]
fn a_known_key_flight_authenticates_both_ways_in_one_message() {
    let d = dial();
    let mut seen = memory();
    let at_bob = accept(&d.bob, &d.flight, &mut seen, d.wall).unwrap();
    assert_eq!(&at_bob.peer, d.alice.info());
    assert_eq!(&d.at_alice.peer, d.bob.info());
    assert_eq!(at_bob.keys.recv, d.at_alice.keys.send);
    assert_eq!(at_bob.keys.send, d.at_alice.keys.recv);
    assert_ne!(at_bob.keys.send, at_bob.keys.recv);
    // Alice is now known to Bob: her binding is not checked again.
    assert_eq!(seen.known_sizes().0, 1);
    // Through the generic entry point too, as the core drives it.
    let d2 = dial();
    let now = Instant::now();
    let step = Handshake::respond(d2.bob.clone(), TIMEOUT, now)
        .handle(&mydht::AuthMessage::Known(d2.flight), &mut memory(), now)
        .unwrap();
    assert!(matches!(step, mydht::Step::Finish(auth) if &auth.peer == d2.alice.info()));
}

#[test]
fn a_send_once_flight_says_so_and_cannot_be_made_to_say_otherwise() {
    let Dialled {
        alice,
        bob,
        flight,
        at_alice,
        wall,
    } = dial_as(true);
    assert!(flight.send_once);
    let at_bob = accept(&bob, &flight, &mut memory(), wall).unwrap();
    assert_eq!(&at_bob.peer, alice.info());
    assert_eq!(at_bob.keys.recv, at_alice.keys.send);
    // Flipped (an acceptor made to write an admission nobody reads, or
    // a pooled dial made to get none): the flight does not open.
    let mut flipped = flight.clone();
    flipped.send_once = false;
    assert_eq!(
        accept(&bob, &flipped, &mut memory(), wall).unwrap_err(),
        AuthError::BadSeal
    );
    // Made to ask for a ticket (an acceptor made to keep one the dialler
    // never uses): does not open either.
    let mut asking = flight.clone();
    asking.ticket = true;
    assert_eq!(
        accept(&bob, &asking, &mut memory(), wall).unwrap_err(),
        AuthError::BadSeal
    );
    // A pooled dial's flight says no.
    assert!(!dial().flight.send_once);
}

#[test]
fn a_replayed_flight_is_refused() {
    let d = dial();
    let mut seen = memory();
    accept(&d.bob, &d.flight, &mut seen, d.wall).unwrap();
    assert_eq!(
        accept(&d.bob, &d.flight, &mut seen, d.wall + 10).unwrap_err(),
        AuthError::ReplayedFlight
    );
    // Later than its window, refused as stale (and forgotten).
    let late = d.wall + TIMEOUT.as_millis() as u64 + 1;
    assert_eq!(
        accept(&d.bob, &d.flight, &mut seen, late).unwrap_err(),
        AuthError::StaleFlight
    );
}

#[test]
fn a_flight_from_the_future_is_stale() {
    let d = dial();
    let early = d.wall - TIMEOUT.as_millis() as u64 - 1;
    assert_eq!(
        accept(&d.bob, &d.flight, &mut memory(), early).unwrap_err(),
        AuthError::StaleFlight
    );
}

#[test]
fn a_flight_for_another_peer_is_refused() {
    let d = dial();
    let carol = local_peer("carol:3");
    // Carol is not the peer Alice expected: refused by its id.
    assert_eq!(
        accept(&carol, &d.flight, &mut memory(), d.wall).unwrap_err(),
        AuthError::UnexpectedPeer
    );
    // Relabelled for Carol, it still cannot be opened without Bob's key.
    let mut relabelled = d.flight.clone();
    relabelled.responder = carol.info().get_id().as_bytes().to_vec();
    assert_eq!(
        accept(&carol, &relabelled, &mut memory(), d.wall).unwrap_err(),
        AuthError::BadSeal
    );
}

#[test]
fn an_altered_flight_is_refused() {
    let d = dial();
    let mut sealed = d.flight.clone();
    sealed.sealed[3] ^= 1;
    assert_eq!(
        accept(&d.bob, &sealed, &mut memory(), d.wall).unwrap_err(),
        AuthError::BadSeal
    );
    let mut proof = d.flight.clone();
    proof.proof[0] ^= 1;
    assert_eq!(
        accept(&d.bob, &proof, &mut memory(), d.wall).unwrap_err(),
        AuthError::BadProof
    );
    let mut time = d.flight.clone();
    time.timestamp_ms += 1;
    assert_eq!(
        accept(&d.bob, &time, &mut memory(), d.wall).unwrap_err(),
        AuthError::BadSeal
    );
    // Whether the dialler sends one message only (then it gets no
    // admission) is under the seal: flipped either way, refused.
    let mut once = d.flight.clone();
    once.send_once = !once.send_once;
    assert_eq!(
        accept(&d.bob, &once, &mut memory(), d.wall).unwrap_err(),
        AuthError::BadSeal
    );
    let mut suite = d.flight.clone();
    suite.suite = CipherSuite::Aes256Gcm;
    assert!(matches!(
        accept(&d.bob, &suite, &mut memory(), d.wall).unwrap_err(),
        AuthError::SuiteMismatch { .. }
    ));
    // A refused flight is not remembered: the genuine one still passes.
    let mut seen = memory();
    let _ = accept(&d.bob, &proof, &mut seen, d.wall);
    accept(&d.bob, &d.flight, &mut seen, d.wall).unwrap();
}

#[test]
fn a_peer_whose_keys_are_not_verified_is_not_dialled_known_key() {
    let (alice, bob) = (local_peer("alice:1"), local_peer("bob:2"));
    let mut mem = memory();
    let err =
        Handshake::dial_known(&alice, bob.info(), &mut mem, CipherSuite::default(), 0).unwrap_err();
    assert_eq!(err, AuthError::UnknownPeer);
    // Nor with another identity's binding.
    let carol = local_peer("carol:3");
    assert_eq!(
        mem.verify_peer(bob.info(), carol.identity().key_binding()),
        Err(AuthError::BadBinding)
    );
}

#[test]
fn a_flight_ends_the_handshake_and_must_come_in_time() {
    let d = dial();
    let now = Instant::now();
    // A signed node that also accepts NoAuth send-once connections takes
    // it; the handshake is then over and refuses anything more.
    let mut r = Handshake::respond(d.bob.clone(), TIMEOUT, now).also_accept(AuthMode::NoAuth);
    r.on_known(&d.flight, &mut memory(), now, d.wall).unwrap();
    assert!(matches!(
        r.on_known(&d.flight, &mut memory(), now, d.wall),
        Err(AuthError::UnexpectedMessage { .. })
    ));
    // Too late for the handshake's own deadline.
    let mut late = Handshake::respond(d.bob.clone(), TIMEOUT, now);
    assert_eq!(
        late.on_known(&d.flight, &mut memory(), now + TIMEOUT, d.wall)
            .unwrap_err(),
        AuthError::Timeout
    );
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any flight of random fields is refused with a typed error, never a
    /// panic, and leaves nothing in the memory.
    #[test]
    fn random_flights_are_refused(
        responder in bytes(40),
        ephemeral_key in bytes(40),
        sealed in bytes(600),
        proof in bytes(40),
        skew in 0u64..10_000,
        real_responder in any::<bool>(),
        send_once in any::<bool>(),
    ) {
        let bob = local_peer("bob:2");
        let wall = wall_clock_ms();
        let responder = if real_responder {
            bob.info().get_id().as_bytes().to_vec()
        } else {
            responder
        };
        let flight = AuthKnown {
            responder,
            ephemeral_key,
            timestamp_ms: wall - skew,
            suite: CipherSuite::default(),
            send_once,
            ticket: send_once,
            sealed,
            proof,
        };
        let mut seen = memory();
        prop_assert!(accept(&bob, &flight, &mut seen, wall).is_err());
        prop_assert_eq!(seen.known_sizes(), (0, 0, 0));
    }
}
