//! Frames and an attachment inside the connection's shadow: the session
//! shadow (ChaCha20-Poly1305 chunks) over streams that cut every call short
//! and block at random, as a non-blocking socket does.

mod frame_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use frame_support::{PatternCheck, PatternSource, TestMsg, Value};
use mydht::auth::SessionKeys;
use mydht::frame::{AttachmentReader, AttachmentWriter, FrameReader, FrameWriter};
use mydht::msgenc::Bincode;
use mydht::{ChallengeCache, Handshake, Identity, LocalPeer, SessionShadow, Shadow};
use mydht_base::{Attachment, Result};
use readwrite_comp::testing::{retry, FaultPlan, FaultyReader, FaultyWriter};
use readwrite_comp::{CompR, CompW};

/// Alice's and Bob's session keys, from a real handshake.
fn session_keys() -> (SessionKeys, SessionKeys) {
    let peer = |a: &str| Arc::new(LocalPeer::new(Identity::generate().unwrap(), a.into()).unwrap());
    let now = Instant::now();
    let t = Duration::from_secs(5);
    let (mut alice, ping) = Handshake::initiate(peer("a"), None, t, now).unwrap();
    let mut bob = Handshake::respond(peer("b"), t, now);
    let pong = bob
        .on_ping(&ping, &mut ChallengeCache::new(4, t), now)
        .unwrap();
    let (fin, alice) = alice.on_pong(&pong, now).unwrap();
    let bob = bob.on_final(&fin, now).unwrap();
    (alice.keys, bob.keys)
}

/// Repeats `op` while it would block, as a service woken by its poller.
fn again<T>(mut op: impl FnMut() -> Result<T>) -> Result<T> {
    loop {
        match op() {
            Err(e) if e.is_would_block() => continue,
            r => return r,
        }
    }
}

#[test]
fn a_message_and_its_attachment_cross_the_session_shadow() {
    const LEN: u64 = 300_001;
    let (alice, bob) = session_keys();
    let shadow = SessionShadow::default();
    let enc = Bincode::new();
    let announced = Attachment::new(LEN);
    let store = TestMsg::Store {
        key: b"key".to_vec(),
        value: Value::Text("with attachment".into()),
        attachment: Some(announced),
    };

    // Alice: one shadow message holding the frame and the attachment, then
    // one holding a frame alone.
    let wire = FaultyWriter::new(Vec::new(), FaultPlan::new().max_io(700).seeded(7, 300));
    let mut conn = CompW::new(wire, shadow.writer(&alice).unwrap());
    let mut frames = FrameWriter::new(1024);
    frames.push_msg(&enc, &store).unwrap();
    again(|| frames.write_to(&mut conn)).unwrap();
    let mut sending = AttachmentWriter::new(announced, 4096);
    let mut source = PatternSource::new(LEN);
    again(|| sending.write_from(&mut source, &mut conn)).unwrap();
    retry(|| conn.write_end()).unwrap();
    frames.push_msg(&enc, &TestMsg::Bye).unwrap();
    again(|| frames.write_to(&mut conn)).unwrap();
    retry(|| conn.write_end()).unwrap();
    let wire = conn.into_inner().into_inner();

    // Bob reads the same way, never past what the message announced.
    let stream = FaultyReader::new(&wire[..], FaultPlan::new().max_io(500).seeded(11, 300));
    let mut conn = CompR::new(stream, shadow.reader(&bob).unwrap());
    let mut frames = FrameReader::new(1024);
    let first: TestMsg = again(|| frames.read_msg(&enc, &mut conn)).unwrap().unwrap();
    assert_eq!(first, store);
    let TestMsg::Store {
        attachment: Some(a),
        ..
    } = first
    else {
        unreachable!("checked above")
    };
    let mut receiving = AttachmentReader::new(a, 1 << 20, 4096).unwrap();
    let mut sink = PatternCheck::new();
    again(|| receiving.read_into(&mut conn, &mut sink)).unwrap();
    assert_eq!(sink.received, LEN);
    // The shadow message ends right after the attachment.
    assert_eq!(
        again(|| frames.read_msg::<TestMsg, _, _>(&enc, &mut conn)).unwrap(),
        None
    );
    retry(|| conn.read_end()).unwrap();
    let second = again(|| frames.read_msg::<TestMsg, _, _>(&enc, &mut conn)).unwrap();
    assert_eq!(second, Some(TestMsg::Bye));
}
