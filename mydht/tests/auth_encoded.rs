//! The handshake over real encoders: every message goes through `Json` or
//! `Bincode` bytes, and random bytes decoded as messages never panic it.

use std::time::{Duration, Instant};

use mydht::{AuthMessage, Bincode, ChallengeCache, Handshake, Json, Step};
use mydht_base::MsgEnc;
use mydht_basetest::peers::local_peer;
use proptest::prelude::*;

const TIMEOUT: Duration = Duration::from_secs(5);
/// The default encoder (its decode limit left at the default).
const BINCODE: Bincode = Bincode;

/// `m` as the other side decodes it.
fn carry<E: MsgEnc>(enc: &E, m: &AuthMessage) -> AuthMessage {
    let mut bytes = Vec::new();
    enc.encode(m, &mut bytes).unwrap();
    enc.decode(&bytes).unwrap()
}

fn handshake_over<E: MsgEnc>(enc: &E) {
    let (alice, bob) = (local_peer("alice:1"), local_peer("bob:2"));
    let now = Instant::now();
    let mut seen = ChallengeCache::new(8, TIMEOUT);
    let (mut i, ping) = Handshake::initiate(alice.clone(), None, TIMEOUT, now).unwrap();
    let mut r = Handshake::respond(bob.clone(), TIMEOUT, now);
    let ping = carry(enc, &AuthMessage::Ping(ping));
    let Step::Send(pong) = r.handle(&ping, &mut seen, now).unwrap() else {
        panic!("a ping is answered");
    };
    let pong = carry(enc, &pong);
    let Step::SendAndFinish(fin, at_alice) = i.handle(&pong, &mut seen, now).unwrap() else {
        panic!("a pong ends the initiator");
    };
    let fin = carry(enc, &fin);
    let Step::Finish(at_bob) = r.handle(&fin, &mut seen, now).unwrap() else {
        panic!("a final pong ends the responder");
    };
    assert_eq!(&at_alice.peer, bob.info());
    assert_eq!(&at_bob.peer, alice.info());
    assert_eq!(at_alice.keys.send, at_bob.keys.recv);
}

#[test]
fn a_handshake_completes_over_json() {
    handshake_over(&Json);
}

#[test]
fn a_handshake_completes_over_bincode() {
    handshake_over(&BINCODE);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bincode_never_panics_a_responder(raw in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(m) = BINCODE.decode::<AuthMessage>(&raw) {
            let now = Instant::now();
            let mut r = Handshake::respond(local_peer("b"), TIMEOUT, now);
            let _ = r.handle(&m, &mut ChallengeCache::new(4, TIMEOUT), now);
        }
    }
}
