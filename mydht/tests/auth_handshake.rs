//! The three-message handshake driven in memory, with simulated time: the
//! success path, then one test per way it must fail.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mydht::auth::{AuthPing, AuthPong, AuthPongFinal, PeerInfoMsg};
use mydht::{AuthError, Authenticated, ChallengeCache, Handshake, LocalPeer};
use mydht_base::Peer;
use mydht_basetest::peers::local_peer;

const TIMEOUT: Duration = Duration::from_secs(5);

fn cache() -> ChallengeCache {
    ChallengeCache::new(64, Duration::from_secs(60))
}

/// Alice initiates, Bob responds: everything up to Bob's pong.
struct Started {
    alice: Arc<LocalPeer>,
    bob: Arc<LocalPeer>,
    initiator: Handshake,
    responder: Handshake,
    ping: AuthPing,
    pong: AuthPong,
    seen: ChallengeCache,
    t0: Instant,
}

fn start() -> Started {
    let (alice, bob) = (local_peer("alice:1"), local_peer("bob:2"));
    let t0 = Instant::now();
    let mut seen = cache();
    let (initiator, ping) =
        Handshake::initiate(alice.clone(), Some(*bob.info().get_id()), TIMEOUT, t0).unwrap();
    let mut responder = Handshake::respond(bob.clone(), TIMEOUT, t0);
    let pong = responder.on_ping(&ping, &mut seen, t0).unwrap();
    Started {
        alice,
        bob,
        initiator,
        responder,
        ping,
        pong,
        seen,
        t0,
    }
}

/// Runs the rest of a started handshake: both sides' results.
fn finish(mut s: Started) -> (Authenticated, Authenticated) {
    let (fin, at_alice) = s.initiator.on_pong(&s.pong, s.t0).unwrap();
    let at_bob = s.responder.on_final(&fin, s.t0).unwrap();
    (at_alice, at_bob)
}

#[test]
fn both_sides_agree_on_keys_and_peer_info() {
    let s = start();
    let (alice, bob) = (s.alice.clone(), s.bob.clone());
    let (at_alice, at_bob) = finish(s);
    assert_eq!(&at_alice.peer, bob.info());
    assert_eq!(&at_bob.peer, alice.info());
    assert_eq!(at_alice.peer.get_address(), "bob:2");
    assert_eq!(at_alice.keys.send, at_bob.keys.recv);
    assert_eq!(at_alice.keys.recv, at_bob.keys.send);
    assert_ne!(at_alice.keys.send, at_alice.keys.recv);
}

#[test]
fn every_handshake_derives_new_keys() {
    let (a1, _) = finish(start());
    let (a2, _) = finish(start());
    assert_ne!(a1.keys.send, a2.keys.send);
}

#[test]
fn the_generic_entry_point_runs_the_same_handshake() {
    use mydht::{AuthMessage, Step};
    let (alice, bob) = (local_peer("a"), local_peer("b"));
    let now = Instant::now();
    let mut seen = cache();
    let (mut i, ping) = Handshake::initiate(alice, None, TIMEOUT, now).unwrap();
    let mut r = Handshake::respond(bob, TIMEOUT, now);
    let Step::Send(pong) = r.handle(&AuthMessage::Ping(ping), &mut seen, now).unwrap() else {
        panic!("a ping is answered");
    };
    let Step::SendAndFinish(fin, at_i) = i.handle(&pong, &mut seen, now).unwrap() else {
        panic!("a pong is answered and ends the initiator");
    };
    let Step::Finish(at_r) = r.handle(&fin, &mut seen, now).unwrap() else {
        panic!("a final pong ends the responder");
    };
    assert_eq!(at_i.keys.send, at_r.keys.recv);
    assert!(i.is_ended() && r.is_ended());
}

#[test]
fn a_replayed_ping_is_refused() {
    let mut s = start();
    // The same ping again, on a new connection of the same node.
    let mut again = Handshake::respond(s.bob.clone(), TIMEOUT, s.t0);
    let err = again.on_ping(&s.ping, &mut s.seen, s.t0).unwrap_err();
    assert_eq!(err, AuthError::ReplayedPing);
    assert!(again.is_ended());
}

#[test]
fn a_replayed_pong_is_refused() {
    let old = start();
    // A second handshake between the same peers gets the first one's pong.
    let mut s = start();
    let err = s.initiator.on_pong(&old.pong, s.t0).unwrap_err();
    assert_eq!(err, AuthError::ReplayedPong);
    // Ended: even the genuine pong is refused now.
    let err = s.initiator.on_pong(&s.pong, s.t0).unwrap_err();
    assert!(matches!(err, AuthError::UnexpectedMessage { .. }));
}

#[test]
fn a_replayed_final_pong_is_refused() {
    let mut old = start();
    let (old_fin, _) = old.initiator.on_pong(&old.pong, old.t0).unwrap();
    let mut s = start();
    let err = s.responder.on_final(&old_fin, s.t0).unwrap_err();
    assert_eq!(err, AuthError::ReplayedPong);
}

#[test]
fn reordered_messages_are_refused() {
    let mut s = start();
    // The responder gets a pong, the initiator a ping: each ends.
    let err = s.responder.on_pong(&s.pong, s.t0).unwrap_err();
    assert_eq!(
        err,
        AuthError::UnexpectedMessage {
            expected: "final pong",
            got: "pong"
        }
    );
    let err = s.initiator.on_ping(&s.ping, &mut s.seen, s.t0).unwrap_err();
    assert!(matches!(
        err,
        AuthError::UnexpectedMessage { got: "ping", .. }
    ));
    // A final pong before any ping.
    let mut fresh = Handshake::respond(s.bob.clone(), TIMEOUT, s.t0);
    let fin = AuthPongFinal {
        your_challenge: vec![0; 32],
        signature: vec![0; 64],
    };
    let err = fresh.on_final(&fin, s.t0).unwrap_err();
    assert!(matches!(
        err,
        AuthError::UnexpectedMessage {
            expected: "ping",
            ..
        }
    ));
}

#[test]
fn a_bad_responder_signature_is_refused() {
    let mut s = start();
    s.pong.signature[10] ^= 1;
    assert_eq!(
        s.initiator.on_pong(&s.pong, s.t0).unwrap_err(),
        AuthError::BadSignature
    );
}

#[test]
fn a_bad_initiator_signature_is_refused() {
    let mut s = start();
    let (mut fin, _) = s.initiator.on_pong(&s.pong, s.t0).unwrap();
    fin.signature[0] ^= 0x80;
    assert_eq!(
        s.responder.on_final(&fin, s.t0).unwrap_err(),
        AuthError::BadSignature
    );
}

#[test]
fn a_signature_by_another_key_is_refused() {
    // Mallory relays Bob's pong under her own identity: her key did not sign.
    let mut s = start();
    let mallory = local_peer("bob:2");
    s.pong.peer = PeerInfoMsg::from(mallory.info());
    let mut anyone = Handshake::initiate(s.alice.clone(), None, TIMEOUT, s.t0).unwrap();
    s.pong.your_challenge = anyone.1.challenge.clone();
    assert_eq!(
        anyone.0.on_pong(&s.pong, s.t0).unwrap_err(),
        AuthError::BadSignature
    );
}

#[test]
fn a_tampered_transcript_field_breaks_the_signature() {
    // The address is signed: changing it in flight is detected.
    let mut s = start();
    s.pong.peer.address = "mallory:666".to_owned();
    assert_eq!(
        s.initiator.on_pong(&s.pong, s.t0).unwrap_err(),
        AuthError::BadSignature
    );
}

#[test]
fn a_ping_whose_id_is_not_the_hash_of_its_key_is_refused() {
    let s = start();
    let mut ping = s.ping.clone();
    ping.peer.id[0] ^= 1;
    let mut r = Handshake::respond(s.bob.clone(), TIMEOUT, s.t0);
    assert_eq!(
        r.on_ping(&ping, &mut cache(), s.t0).unwrap_err(),
        AuthError::WrongId
    );
}

#[test]
fn a_pong_whose_id_is_not_the_hash_of_its_key_is_refused() {
    let mut s = start();
    s.pong.peer.id = s.alice.info().get_id().as_bytes().to_vec();
    assert_eq!(
        s.initiator.on_pong(&s.pong, s.t0).unwrap_err(),
        AuthError::WrongId
    );
}

#[test]
fn another_peer_than_the_expected_one_is_refused() {
    let s = start();
    let carol = local_peer("carol:3");
    let t0 = s.t0;
    let (mut i, ping) =
        Handshake::initiate(s.alice.clone(), Some(*carol.info().get_id()), TIMEOUT, t0).unwrap();
    let mut r = Handshake::respond(s.bob.clone(), TIMEOUT, t0);
    let pong = r.on_ping(&ping, &mut cache(), t0).unwrap();
    assert_eq!(i.on_pong(&pong, t0).unwrap_err(), AuthError::UnexpectedPeer);
}

#[test]
fn a_node_refuses_to_authenticate_itself() {
    let alice = local_peer("alice:1");
    let now = Instant::now();
    let (_, ping) = Handshake::initiate(alice.clone(), None, TIMEOUT, now).unwrap();
    let mut r = Handshake::respond(alice, TIMEOUT, now);
    assert_eq!(
        r.on_ping(&ping, &mut cache(), now).unwrap_err(),
        AuthError::UnexpectedPeer
    );
}

#[test]
fn a_challenge_is_single_use() {
    let mut s = start();
    // A fresh ping (new ephemeral key) that reuses a seen challenge.
    let (_, mut other) = Handshake::initiate(s.alice.clone(), None, TIMEOUT, s.t0).unwrap();
    other.challenge = s.ping.challenge.clone();
    let mut r = Handshake::respond(s.bob.clone(), TIMEOUT, s.t0);
    assert_eq!(
        r.on_ping(&other, &mut s.seen, s.t0).unwrap_err(),
        AuthError::ReplayedPing
    );

    // The responder's challenge is answered once: a second final pong with it
    // is refused.
    let (fin, _) = s.initiator.on_pong(&s.pong, s.t0).unwrap();
    s.responder.on_final(&fin, s.t0).unwrap();
    let err = s.responder.on_final(&fin, s.t0).unwrap_err();
    assert!(matches!(err, AuthError::UnexpectedMessage { .. }));
}

#[test]
fn a_reflected_challenge_is_refused() {
    // The responder sends the initiator's own challenge back as its own.
    let mut s = start();
    s.pong.challenge = s.ping.challenge.clone();
    assert_eq!(
        s.initiator.on_pong(&s.pong, s.t0).unwrap_err(),
        AuthError::ChallengeReused
    );
}

#[test]
fn a_late_pong_times_out() {
    let mut s = start();
    let late = s.t0 + TIMEOUT;
    assert_eq!(
        s.initiator.on_pong(&s.pong, late).unwrap_err(),
        AuthError::Timeout
    );
    assert!(s.initiator.is_ended());
}

#[test]
fn a_late_final_pong_times_out() {
    let mut s = start();
    let (fin, _) = s.initiator.on_pong(&s.pong, s.t0).unwrap();
    let late = s.t0 + TIMEOUT + Duration::from_millis(1);
    assert_eq!(
        s.responder.on_final(&fin, late).unwrap_err(),
        AuthError::Timeout
    );
}

#[test]
fn a_silent_peer_times_out_on_the_owner_timer() {
    let bob = local_peer("bob");
    let t0 = Instant::now();
    let mut r = Handshake::respond(bob, TIMEOUT, t0);
    assert_eq!(r.deadline(), t0 + TIMEOUT);
    r.check_timeout(t0 + TIMEOUT / 2).unwrap();
    assert_eq!(
        r.check_timeout(r.deadline()).unwrap_err(),
        AuthError::Timeout
    );
    assert!(r.is_ended());
}

#[test]
fn fields_of_the_wrong_length_are_refused() {
    let s = start();
    let mut ping = s.ping.clone();
    ping.ephemeral_key.push(0);
    let mut r = Handshake::respond(s.bob.clone(), TIMEOUT, s.t0);
    let err = r.on_ping(&ping, &mut cache(), s.t0).unwrap_err();
    assert_eq!(err, AuthError::Malformed("ephemeral key"));
    let mapped = mydht_base::Error::from(err);
    assert_eq!(mapped.kind(), mydht_base::ErrorKind::Decode);
}

#[test]
fn a_low_order_ephemeral_key_is_refused() {
    let s = start();
    let mut ping = s.ping.clone();
    ping.ephemeral_key = vec![0; 32];
    let mut r = Handshake::respond(s.bob.clone(), TIMEOUT, s.t0);
    assert_eq!(
        r.on_ping(&ping, &mut cache(), s.t0).unwrap_err(),
        AuthError::KeyExchange
    );
}

#[test]
fn auth_errors_map_to_typed_node_errors() {
    use mydht_base::{Error, ErrorKind, ErrorLevel};
    let e = Error::from(AuthError::BadSignature);
    assert_eq!(
        (e.kind(), e.level()),
        (ErrorKind::Auth, ErrorLevel::ShutDown)
    );
    assert_eq!(Error::from(AuthError::Timeout).kind(), ErrorKind::Timeout);
}

#[test]
fn a_handshake_can_move_to_a_service_thread() {
    fn send<T: Send + 'static>() {}
    send::<Handshake>();
    send::<ChallengeCache>();
    send::<Authenticated>();
}

#[test]
fn a_huge_timeout_does_not_overflow() {
    let now = Instant::now();
    let r = Handshake::respond(local_peer("b"), Duration::MAX, now);
    assert!(r.deadline() > now);
}
