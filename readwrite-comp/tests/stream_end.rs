//! A long-lived stream (a connection's session: one chunked message, flushed
//! many times, ended when the connection closes) ends with its last chunk:
//! the reader then sees a clean end of stream, `Ok(0)`. A stream cut before
//! that chunk, at any byte, is `UnexpectedEof`; an end that was not sealed
//! by the writer (a flag set on a chunk, a last chunk under another key or
//! from another position, a changed byte in it) is `InvalidData`, so cutting
//! a stream can never pass for closing it.

use readwrite_comp::testing::ChecksumCipher;
use readwrite_comp::{ChunkCipher, ChunkMode, ChunkR, ChunkW, CompR, CompW};
use std::io::{ErrorKind, Read, Write};

const KEY: u64 = 0x5eed;
/// The tag of [`ChecksumCipher`].
const TAG: usize = 8;
const VARIABLE: ChunkMode = ChunkMode::Variable { max_chunk: 16 };
const FIXED: ChunkMode = ChunkMode::Fixed { cell_size: 32 };

/// The session's payload: frames of various sizes, some over a chunk.
fn frames() -> Vec<Vec<u8>> {
    (0..9u8)
        .map(|i| (0..(i as usize * 7 + 1)).map(|b| b as u8 ^ i).collect())
        .collect()
}

/// The wire of a session in `mode` under `key`: each frame written and
/// flushed (one or more chunks each, none of them last), then, if `end`,
/// the stream's end (its last chunk). Also the offset where the last chunk
/// starts.
fn session(mode: ChunkMode, key: u64, end: bool) -> (Vec<u8>, usize) {
    let mut w = CompW::new(
        Vec::new(),
        ChunkW::new(ChecksumCipher::new(key), mode).unwrap(),
    );
    for f in frames() {
        w.write_all(&f).unwrap();
        w.flush().unwrap();
    }
    let before_end = w.get_ref().len();
    if end {
        w.write_end().unwrap();
    }
    (w.into_inner(), before_end)
}

fn reader(mode: ChunkMode, wire: &[u8]) -> CompR<&[u8], ChunkR<ChecksumCipher>> {
    CompR::new(wire, ChunkR::new(ChecksumCipher::new(KEY), mode).unwrap())
}

/// Reads `wire` to its end: the payload, or the error that stopped it.
fn read_all(mode: ChunkMode, wire: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut got = Vec::new();
    reader(mode, wire).read_to_end(&mut got)?;
    Ok(got)
}

#[test]
fn the_last_chunk_is_a_clean_end_of_stream() {
    for mode in [VARIABLE, FIXED] {
        let (wire, _) = session(mode, KEY, true);
        let mut r = reader(mode, &wire);
        let mut got = Vec::new();
        r.read_to_end(&mut got).expect("clean end");
        assert_eq!(got, frames().concat(), "{mode:?}");
        // The end stays an end, however often it is asked.
        assert_eq!(r.read(&mut [0; 8]).expect("still ended"), 0);
        assert_eq!(r.read(&mut [0; 64]).expect("still ended"), 0);
        // And it is the end of the wire: nothing of it is left unread.
        assert!(r.get_ref().is_empty(), "{mode:?}");
    }
}

#[test]
fn an_end_written_with_no_data_since_the_last_flush_is_one_empty_chunk() {
    let (wire, before_end) = session(VARIABLE, KEY, true);
    // Header and tag: no data.
    assert_eq!(wire.len() - before_end, 4 + TAG);
    assert_eq!(wire[before_end] & 0x80, 0x80, "the last flag");
    // Data written but not flushed goes into the last chunk itself.
    let mut w = CompW::new(
        Vec::new(),
        ChunkW::new(ChecksumCipher::new(KEY), VARIABLE).unwrap(),
    );
    w.write_all(b"tail").unwrap();
    w.write_end().unwrap();
    let wire = w.into_inner();
    assert_eq!(wire.len(), 4 + 4 + TAG);
    assert_eq!(read_all(VARIABLE, &wire).expect("clean end"), b"tail");
}

#[test]
fn a_stream_cut_anywhere_before_its_end_is_a_truncation() {
    for mode in [VARIABLE, FIXED] {
        let (wire, _) = session(mode, KEY, true);
        // Every cut, chunk boundaries included, up to the last chunk's last
        // byte excluded.
        for cut in 0..wire.len() {
            let err = read_all(mode, &wire[..cut]).expect_err("cut");
            assert_eq!(
                err.kind(),
                ErrorKind::UnexpectedEof,
                "{mode:?} cut at {cut}"
            );
        }
        // A session that never wrote its end (the writer vanished).
        let (unended, _) = session(mode, KEY, false);
        let err = read_all(mode, &unended).expect_err("no end");
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{mode:?}");
    }
}

#[test]
fn the_last_flag_set_on_a_chunk_by_someone_else_does_not_open() {
    // Variable mode, where the flag is in the clear header: the attacker
    // cuts the stream after a chunk and flags that chunk as the last.
    let (wire, before_end) = session(VARIABLE, KEY, true);
    let mut at = 0;
    while at < before_end {
        let len = (u32::from_be_bytes(wire[at..at + 4].try_into().unwrap()) & 0x7fff_ffff) as usize;
        let next = at + 4 + len + TAG;
        let mut forged = wire[..next].to_vec();
        forged[at] |= 0x80;
        let err = read_all(VARIABLE, &forged).expect_err("forged end");
        assert_eq!(err.kind(), ErrorKind::InvalidData, "flag set at {at}");
        at = next;
    }
    assert_eq!(at, before_end);
}

#[test]
fn a_last_chunk_not_sealed_by_the_writer_does_not_open() {
    for mode in [VARIABLE, FIXED] {
        let (wire, before_end) = session(mode, KEY, true);
        let body = &wire[..before_end];
        let genuine_end = &wire[before_end..];

        // The end of a session under another key, at the same position.
        let (other, other_before) = session(mode, KEY ^ 1, true);
        let forged = [body, &other[other_before..]].concat();
        let err = read_all(mode, &forged).expect_err("other key");
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{mode:?} other key");

        // The genuine end moved earlier (cut one chunk, then the end).
        let chunk_before = match mode {
            ChunkMode::Fixed { cell_size } => before_end - cell_size,
            ChunkMode::Variable { .. } => {
                let mut at = 0;
                let mut last_start = 0;
                while at < before_end {
                    last_start = at;
                    let len = (u32::from_be_bytes(wire[at..at + 4].try_into().unwrap())
                        & 0x7fff_ffff) as usize;
                    at += 4 + len + TAG;
                }
                last_start
            }
        };
        let forged = [&wire[..chunk_before], genuine_end].concat();
        let err = read_all(mode, &forged).expect_err("moved end");
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{mode:?} moved end");

        // An end made up: an empty last chunk with a guessed tag.
        let made_up = match mode {
            ChunkMode::Variable { .. } => {
                let mut c = (0x8000_0000u32).to_be_bytes().to_vec();
                c.extend_from_slice(&[0xa5; TAG]);
                c
            }
            ChunkMode::Fixed { cell_size } => vec![0xa5; cell_size],
        };
        let err = read_all(mode, &[body, &made_up].concat()).expect_err("made up");
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{mode:?} made up");

        // Any byte of the genuine end changed.
        for i in 0..genuine_end.len() {
            let mut forged = wire.clone();
            forged[before_end + i] ^= 0x10;
            let err = read_all(mode, &forged).expect_err("tampered end");
            // A changed length may also make the reader wait for more.
            assert!(
                matches!(
                    err.kind(),
                    ErrorKind::InvalidData | ErrorKind::UnexpectedEof
                ),
                "{mode:?} byte {i}: {err:?}"
            );
            if matches!(mode, ChunkMode::Fixed { .. }) || i >= 4 {
                assert_eq!(err.kind(), ErrorKind::InvalidData, "{mode:?} byte {i}");
            }
        }
    }
}

/// The cipher used by the writer never sealed a last chunk before the end:
/// the reader's clean end comes from the chunk sealed with `last` only.
#[test]
fn only_the_end_is_sealed_as_last() {
    struct Spy(ChecksumCipher, Vec<bool>);
    impl ChunkCipher for Spy {
        fn tag_len(&self) -> usize {
            self.0.tag_len()
        }
        fn seal(
            &mut self,
            i: u64,
            last: bool,
            aad: &[u8],
            data: &mut [u8],
            tag: &mut [u8],
        ) -> std::io::Result<()> {
            self.1.push(last);
            self.0.seal(i, last, aad, data, tag)
        }
        fn open(
            &mut self,
            i: u64,
            last: bool,
            aad: &[u8],
            data: &mut [u8],
            tag: &[u8],
        ) -> std::io::Result<()> {
            self.0.open(i, last, aad, data, tag)
        }
    }
    let mut w = CompW::new(
        Vec::new(),
        ChunkW::new(Spy(ChecksumCipher::new(KEY), Vec::new()), VARIABLE).unwrap(),
    );
    for f in frames() {
        w.write_all(&f).unwrap();
        w.flush().unwrap();
    }
    w.write_end().unwrap();
    let seals = &w.layer().cipher().1;
    assert!(seals.len() > 2);
    assert_eq!(seals.iter().filter(|l| **l).count(), 1);
    assert_eq!(seals.last(), Some(&true));
}

/// Refuses every write: a stream that takes nothing now.
struct Refuse<W>(W);

impl<W: Write> Write for Refuse<W> {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(ErrorKind::WouldBlock.into())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Ending through a view of the stream (a deadline, say) goes on with the
/// message where it stands: the same wire as ending on the stream itself,
/// and an end the view refused is written by repeating the call later.
#[test]
fn the_end_written_through_a_view_is_the_same_end() {
    let (expected, _) = session(VARIABLE, KEY, true);
    let frames = frames();
    let (last, rest) = frames.split_last().unwrap();
    let mut w = CompW::new(
        Vec::new(),
        ChunkW::new(ChecksumCipher::new(KEY), VARIABLE).unwrap(),
    );
    for f in rest {
        w.write_all(f).unwrap();
        w.flush().unwrap();
    }
    w.through(
        |inner| inner,
        |w| {
            w.write_all(last)?;
            w.flush()
        },
    )
    .unwrap();
    let refused = w.through(Refuse, |w| w.write_end()).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::WouldBlock);
    w.write_end().expect("the end, resumed");
    assert_eq!(w.into_inner(), expected);
}
