//! Unit tests of the handshake that reach inside the crate: ephemeral keys
//! made ahead of time, deferred work, `NoAuth`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mydht_base::Peer;

use super::{Handshake, Step};
use crate::auth::challenge::ChallengeCache;
use crate::auth::crypto::EphemeralKey;
use crate::auth::error::AuthError;
use crate::auth::message::{AuthMessage, AuthPing};
use crate::auth::mode::AuthMode;
use crate::auth::suite::CipherSuite;
use crate::auth::transcript::EPHEMERAL_KEY_LEN;
use crate::identity::{Identity, LocalPeer};

const SIGNED: (AuthMode, CipherSuite) = (AuthMode::Signed, CipherSuite::ChaCha20Poly1305);

fn peer(addr: &str) -> Arc<LocalPeer> {
    Arc::new(LocalPeer::new(Identity::generate().unwrap(), addr.into()).unwrap())
}

/// Keys made ahead of time are the ones each side announces, and the
/// session keys still agree.
#[test]
fn premade_ephemeral_keys_are_used() {
    let (t, now) = (Duration::from_secs(5), Instant::now());
    let mut seen = ChallengeCache::new(16, 2 * t);
    let (a_key, z_key) = (
        EphemeralKey::generate().unwrap(),
        EphemeralKey::generate().unwrap(),
    );
    let (a_pub, z_pub) = (*a_key.public(), *z_key.public());
    let (mut i, ping) = Handshake::initiate_with(peer("a"), None, t, now, a_key, SIGNED).unwrap();
    let mut r = Handshake::respond_with(peer("z"), t, now, Some(z_key), SIGNED);
    assert_eq!(ping.ephemeral_key, a_pub);
    let pong = r.on_ping(&ping, &mut seen, now).unwrap();
    assert_eq!(pong.ephemeral_key, z_pub);
    let (fin, at_a) = i.on_pong(&pong, now).unwrap();
    let at_z = r.on_final(&fin, now).unwrap();
    assert_eq!(at_a.keys.send, at_z.keys.recv);
    assert_eq!(at_a.keys.recv, at_z.keys.send);
}

/// Keys derived after each message is sent are the ones derived on
/// demand, on both sides.
#[test]
fn keys_derived_after_sending_agree() {
    let (t, now) = (Duration::from_secs(5), Instant::now());
    let mut seen = ChallengeCache::new(16, 2 * t);
    let (mut i, ping) = Handshake::initiate(peer("a"), None, t, now).unwrap();
    let mut r = Handshake::respond(peer("z"), t, now);
    let pong = r.on_ping(&ping, &mut seen, now).unwrap();
    let early = r.derive_keys().unwrap().cloned();
    assert_eq!(r.derive_keys().unwrap().cloned(), early);
    let (fin, answered) = i.answer_pong(&pong, now).unwrap();
    let at_z = r.on_final(&fin.unwrap(), now).unwrap();
    let at_a = answered.finish().unwrap();
    assert_eq!(early, Some(at_z.keys.clone()));
    assert_eq!(at_a.keys.send, at_z.keys.recv);
    assert_eq!(at_a.keys.recv, at_z.keys.send);
    assert_eq!(at_a.peer.get_id(), r.local.info().get_id());
    assert_eq!(r.derive_keys(), Ok(None));
}

/// A pong announcing a small-order key is refused before the initiator
/// signs anything over it.
#[test]
fn a_pong_with_a_small_order_key_gets_no_final() {
    let (t, now) = (Duration::from_secs(5), Instant::now());
    let mut seen = ChallengeCache::new(16, 2 * t);
    let (mut i, ping) = Handshake::initiate(peer("a"), None, t, now).unwrap();
    let mut r = Handshake::respond(peer("z"), t, now);
    let mut pong = r.on_ping(&ping, &mut seen, now).unwrap();
    pong.ephemeral_key = vec![0; EPHEMERAL_KEY_LEN];
    assert!(matches!(
        i.answer_pong(&pong, now),
        Err(AuthError::KeyExchange)
    ));
    assert!(i.is_ended());
}

/// The final pong goes out before the responder's signature is checked,
/// but a bad signature still ends the handshake without a peer or keys.
#[test]
fn a_pong_with_a_bad_signature_is_answered_but_never_authenticated() {
    let (t, now) = (Duration::from_secs(5), Instant::now());
    let mut seen = ChallengeCache::new(16, 2 * t);
    let (mut i, ping) = Handshake::initiate(peer("a"), None, t, now).unwrap();
    let mut r = Handshake::respond(peer("z"), t, now);
    let mut pong = r.on_ping(&ping, &mut seen, now).unwrap();
    pong.signature[3] ^= 1;
    let (fin, answered) = i.answer_pong(&pong, now).unwrap();
    assert!(fin.is_some());
    assert!(i.is_ended());
    assert!(matches!(answered.finish(), Err(AuthError::BadSignature)));
}

/// Checks that need no signature (here: the peer named at connect) are
/// made before the initiator signs anything.
#[test]
fn a_pong_from_another_peer_than_expected_gets_no_final() {
    let (t, now) = (Duration::from_secs(5), Instant::now());
    let mut seen = ChallengeCache::new(16, 2 * t);
    let other = *peer("o").info().get_id();
    let (mut i, ping) = Handshake::initiate(peer("a"), Some(other), t, now).unwrap();
    let mut r = Handshake::respond(peer("z"), t, now);
    let pong = r.on_ping(&ping, &mut seen, now).unwrap();
    assert!(matches!(
        i.answer_pong(&pong, now),
        Err(AuthError::UnexpectedPeer)
    ));
}

fn pair(
    i_mode: AuthMode,
    r_mode: AuthMode,
) -> (Handshake, AuthPing, Handshake, ChallengeCache, Instant) {
    let (t, now) = (Duration::from_secs(5), Instant::now());
    let key = EphemeralKey::generate().unwrap();
    let suite = CipherSuite::default();
    let (i, ping) =
        Handshake::initiate_with(peer("a"), None, t, now, key, (i_mode, suite)).unwrap();
    let r = Handshake::respond_with(peer("z"), t, now, None, (r_mode, suite));
    (i, ping, r, ChallengeCache::new(16, 2 * t), now)
}

/// `NoAuth`: a ping and an unsigned pong, both sides done, the same keys
/// and each side's announced peer.
#[test]
fn no_auth_is_two_messages_with_agreeing_keys() {
    let (mut i, ping, mut r, mut seen, now) = pair(AuthMode::NoAuth, AuthMode::NoAuth);
    let Ok(Step::SendAndFinish(pong, at_z)) = r.handle(&AuthMessage::Ping(ping), &mut seen, now)
    else {
        panic!("a NoAuth responder is done once it answered");
    };
    let AuthMessage::Pong(p) = &pong else {
        panic!("a pong answers a ping");
    };
    assert!(p.signature.is_empty());
    let Ok(Step::Finish(at_a)) = i.handle(&pong, &mut seen, now) else {
        panic!("a NoAuth initiator sends no final pong");
    };
    assert_eq!(at_a.keys.send, at_z.keys.recv);
    assert_eq!(at_a.keys.recv, at_z.keys.send);
    assert_eq!(at_a.peer.get_id(), r.local.info().get_id());
    assert_eq!(at_z.peer.get_id(), i.local.info().get_id());
    assert!(i.is_ended() && r.is_ended());
}

/// A responder refuses a ping in the other mode, whichever it is.
#[test]
fn a_responder_refuses_the_other_mode() {
    for (i_mode, r_mode) in [
        (AuthMode::NoAuth, AuthMode::Signed),
        (AuthMode::Signed, AuthMode::NoAuth),
    ] {
        let (_, ping, mut r, mut seen, now) = pair(i_mode, r_mode);
        assert_eq!(
            r.on_ping(&ping, &mut seen, now).err(),
            Some(AuthError::ModeMismatch)
        );
    }
}

/// An initiator refuses a pong of the other mode (a responder that
/// ignored the ping's mode): a `Signed` one never takes an unsigned pong.
#[test]
fn an_initiator_refuses_a_pong_of_the_other_mode() {
    for (mode, other) in [
        (AuthMode::Signed, AuthMode::NoAuth),
        (AuthMode::NoAuth, AuthMode::Signed),
    ] {
        let (mut i, mut ping, mut r, mut seen, now) = pair(mode, other);
        ping.mode = other;
        let pong = r.on_ping(&ping, &mut seen, now).unwrap();
        let refused = i.answer_pong(&pong, now).err();
        let expected = match mode {
            AuthMode::Signed => AuthError::Malformed("signature"),
            AuthMode::NoAuth => AuthError::ModeMismatch,
        };
        assert_eq!(refused, Some(expected));
    }
}
