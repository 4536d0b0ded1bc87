//! Frames encoded straight into the connection's shadow
//! (`FrameWriter::push_msg_into`): the shadow seals the encoding where it
//! lands and holds what a blocked stream does not take, so a frame is never
//! lost or cut whatever byte the stream blocks at, and the wire is the one
//! the buffered path (`push_msg`, then `write_to`) gives.

use mydht::auth::{SessionKey, SessionKeys};
use mydht::frame::{BufferedFrameReader, FrameWriter};
use mydht::msgenc::{Bincode, Json};
use mydht::{CipherSuite, SessionShadow, Shadow};
use mydht_base::{ErrorKind, ErrorLevel, MsgEnc};
use readwrite_comp::testing::{retry, FaultPlan, FaultyWriter};
use readwrite_comp::{ChunkMode, CompR, CompW};
use serde::{Deserialize, Serialize};

/// Small chunks, so a few frames cross many chunk boundaries.
const MODE: ChunkMode = ChunkMode::Variable { max_chunk: 96 };
/// Room for the JSON encoding of the largest test message (its bytes as
/// numbers).
const MAX_FRAME: usize = 1600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Msg {
    Note(String),
    Bytes(#[serde(with = "bytes")] Vec<u8>),
}

/// A payload as one byte string, as bulk messages carry it.
mod bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    /// Both encoders write a byte string as a sequence reads it back.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Vec::<u8>::deserialize(d)
    }
}

fn keys() -> SessionKeys {
    let key = SessionKey::from_bytes([9; 32]);
    SessionKeys {
        send: key.clone(),
        recv: key,
        suite: CipherSuite::ChaCha20Poly1305,
    }
}

fn messages() -> Vec<Msg> {
    vec![
        Msg::Note("first".into()),
        Msg::Bytes((0..350).map(|i| i as u8).collect()),
        Msg::Bytes(vec![7; 3]),
        Msg::Note("x".repeat(200)),
        Msg::Bytes((0..97).map(|i| (i * 3) as u8).collect()),
    ]
}

/// The wire of `msgs` through the buffered path.
fn buffered_wire<E: MsgEnc>(enc: &E, msgs: &[Msg]) -> Vec<u8> {
    let shadow = SessionShadow::new(MODE);
    let mut stream = CompW::new(Vec::new(), shadow.writer(&keys()).expect("writer"));
    let mut frames = FrameWriter::new(MAX_FRAME);
    for m in msgs {
        frames.push_msg(enc, m).expect("push");
        frames.write_unflushed(&mut stream).expect("write");
    }
    frames.write_to(&mut stream).expect("flush");
    stream.into_inner()
}

/// Reads `n` messages back; the shadow message stays open, as a
/// connection's does, and every byte of the wire is read.
fn read_back<E: MsgEnc>(enc: &E, wire: &[u8], n: usize) -> Vec<Msg> {
    let shadow = SessionShadow::new(MODE);
    let mut r = CompR::new(wire, shadow.reader(&keys()).expect("reader"));
    let mut reader = BufferedFrameReader::new(MAX_FRAME);
    let got = (0..n)
        .map(|_| {
            reader
                .read_msg(enc, &mut r)
                .expect("frame")
                .expect("a message")
        })
        .collect();
    assert!(r.get_ref().is_empty(), "every byte of the wire read");
    got
}

/// Blocking at any byte of the wire (and again a little later) loses or
/// cuts nothing: pushes never block, the held bytes go out on
/// `write_held` and the flush, and the wire is the buffered path's.
fn blocked_at_every_offset<E: MsgEnc>(enc: &E) {
    let msgs = messages();
    let expected = buffered_wire(enc, &msgs);
    assert_eq!(read_back(enc, &expected, msgs.len()), msgs);
    for at in 0..expected.len() as u64 {
        let plan = FaultPlan::new().block_at([at, at + 1, at + 150]);
        let shadow = SessionShadow::new(MODE);
        let writer = shadow.writer(&keys()).expect("writer");
        let mut stream = CompW::new(FaultyWriter::new(Vec::new(), plan), writer);
        let mut frames = FrameWriter::new(MAX_FRAME);
        for (i, m) in msgs.iter().enumerate() {
            frames
                .push_msg_into(enc, m, &mut stream)
                .expect("a push never blocks");
            assert_eq!(frames.pending(), 0, "nothing copied into the frame buffer");
            if i % 2 == 1 {
                retry(|| stream.write_held()).expect("held bytes out");
                assert_eq!(stream.held(), 0);
            }
        }
        loop {
            match frames.write_to(&mut stream) {
                Err(e) if e.is_would_block() => continue,
                r => break r.expect("flush"),
            }
        }
        assert_eq!(stream.get_ref().get_ref(), &expected, "blocked at {at}");
    }
}

#[test]
fn bincode_frames_survive_a_block_at_every_byte() {
    blocked_at_every_offset(&Bincode::new());
}

#[test]
fn json_frames_survive_a_block_at_every_byte() {
    blocked_at_every_offset(&Json);
}

/// A message over the frame maximum is refused before anything reaches
/// the shadow, the connection stays usable, and frames queued by the
/// buffered path go out before the next one encoded into the shadow.
#[test]
fn an_oversize_frame_is_refused_before_anything_is_written() {
    let enc = Bincode::new();
    let shadow = SessionShadow::new(MODE);
    let mut stream = CompW::new(Vec::new(), shadow.writer(&keys()).expect("writer"));
    let mut frames = FrameWriter::new(MAX_FRAME);
    let huge = Msg::Bytes(vec![1; MAX_FRAME]);
    let e = frames
        .push_msg_into(&enc, &huge, &mut stream)
        .expect_err("too large");
    assert_eq!(e.kind(), ErrorKind::TooLarge);
    assert_eq!(e.level(), ErrorLevel::Ignore);
    assert_eq!(stream.held(), 0);
    assert!(stream.get_ref().is_empty());
    assert_eq!(stream.layer().next_index(), 0, "nothing sealed");

    let msgs = messages();
    frames.push_msg(&enc, &msgs[0]).expect("buffered");
    for m in &msgs[1..] {
        frames.push_msg_into(&enc, m, &mut stream).expect("push");
    }
    frames.write_to(&mut stream).expect("flush");
    let wire = stream.into_inner();
    assert_eq!(wire, buffered_wire(&enc, &msgs));
    assert_eq!(read_back(&enc, &wire, msgs.len()), msgs);
}

/// Both encoders announce the length they write, and write what `encode`
/// appends.
#[test]
fn streamed_encodings_match_buffered_ones() {
    fn check<E: MsgEnc>(enc: &E) {
        for m in messages() {
            let mut buffered = Vec::new();
            enc.encode(&m, &mut buffered).expect("encode");
            let mut streamed = Vec::new();
            enc.encode_to(&m, &mut streamed).expect("encode_to");
            assert_eq!(streamed, buffered);
            assert_eq!(enc.encoded_len(&m).expect("len"), buffered.len());
        }
    }
    check(&Bincode::new());
    check(&Json);
}
