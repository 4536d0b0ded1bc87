//! Wire shape: cells of one size, exact message boundaries, configuration
//! limits, resumable steps.

mod common;

use common::{config, upper, write_plain, Spec};
use proptest::prelude::*;
use readwrite_comp::testing::{retry, ChecksumCipher, FaultPlan, FaultyReader, FaultyWriter};
use readwrite_comp::{
    ChunkMode, ChunkR, ChunkW, CompR, CompW, LimiterR, LimiterW, NoCipher, MAX_CHUNK_LEN,
};
use std::io::{ErrorKind, Read, Write};

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn every_message_is_whole_cells(
        upper in prop::collection::vec(upper(), 0..3),
        cell_size in 13..300usize,
        msgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..900), 1..4),
        flush_every in 0..400usize,
    ) {
        let mut layers = upper;
        layers.push(Spec::Cell { cell_size, key: 1 });
        let spec = Spec::Stack(layers);
        let mut w = CompW::new(Vec::new(), spec.writer());
        for m in &msgs {
            for (i, part) in m.chunks(flush_every.max(1)).enumerate() {
                w.write_all(part).unwrap();
                if flush_every != 0 && i % 2 == 0 {
                    w.flush().unwrap();
                    prop_assert_eq!(w.get_ref().len() % cell_size, 0);
                }
            }
            w.write_end().unwrap();
            prop_assert_eq!(w.get_ref().len() % cell_size, 0);
        }
    }
}

#[test]
fn cells_hide_the_exact_length() {
    let spec = Spec::Cell {
        cell_size: 64,
        key: 9,
    };
    // 1 and 52 (the capacity) data bytes: both one cell.
    assert_eq!(write_plain(&spec, &[vec![0; 1]]).len(), 64);
    assert_eq!(write_plain(&spec, &[vec![0; 52]]).len(), 64);
    assert_eq!(write_plain(&spec, &[vec![0; 53]]).len(), 128);
}

#[test]
fn reader_stops_exactly_at_the_end_of_each_message() {
    let mut w = CompW::new(Vec::new(), LimiterW::new(8).unwrap());
    let mut ends = Vec::new();
    for m in [&b"first message"[..], b"", b"third"] {
        w.write_all(m).unwrap();
        w.write_end().unwrap();
        ends.push(w.get_ref().len() as u64);
    }
    let mut wire = w.into_inner();
    wire.extend_from_slice(b"not a message");

    let plan = FaultPlan::new().seeded(11, 300);
    let mut r = CompR::new(
        FaultyReader::new(&wire[..], plan),
        LimiterR::new(8).unwrap(),
    );
    for (expected, end) in [&b"first message"[..], b"", b"third"].iter().zip(ends) {
        let mut got = Vec::new();
        let mut b = [0; 5];
        loop {
            let n = retry(|| r.read(&mut b)).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&b[..n]);
        }
        // Ok(0) comes as soon as the end marker is read, not later.
        assert_eq!(r.get_ref().position(), end);
        retry(|| r.read_end()).unwrap();
        assert_eq!(r.get_ref().position(), end);
        assert_eq!(&got, expected);
    }
}

#[test]
fn read_end_skips_the_unread_rest_of_a_message() {
    let spec = Spec::Chunk {
        max_chunk: 7,
        key: 4,
    };
    let wire = write_plain(&spec, &[vec![1; 50], vec![2; 3]]);
    let mut r = CompR::new(&wire[..], spec.reader());
    let mut b = [0; 10];
    r.read_exact(&mut b).unwrap();
    r.read_end().unwrap();
    let mut second = Vec::new();
    r.read_to_end(&mut second).unwrap();
    assert_eq!(second, [2; 3]);
}

#[test]
fn empty_message_is_one_end_chunk() {
    let mut w = CompW::new(Vec::new(), LimiterW::new(16).unwrap());
    w.write_end().unwrap();
    assert_eq!(w.get_ref(), &[0x80, 0, 0, 0]);
}

#[test]
fn full_last_chunk_needs_no_extra_end_chunk() {
    let mut w = CompW::new(Vec::new(), LimiterW::new(4).unwrap());
    w.write_all(&[1; 8]).unwrap();
    w.write_end().unwrap();
    assert_eq!(w.get_ref().len(), 2 * (4 + 4));
}

#[test]
fn bad_configurations_are_invalid_input() {
    let tag = ChecksumCipher::new(0);
    let bad = [
        ChunkMode::Variable { max_chunk: 0 },
        ChunkMode::Variable {
            max_chunk: MAX_CHUNK_LEN + 1,
        },
        ChunkMode::Fixed { cell_size: 12 }, // header 4 + tag 8: no room
        ChunkMode::Fixed {
            cell_size: MAX_CHUNK_LEN + 1,
        },
    ];
    for mode in bad {
        assert_eq!(
            ChunkW::new(tag, mode).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            ChunkR::new(tag, mode).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
    assert!(ChunkW::new(NoCipher, ChunkMode::Fixed { cell_size: 5 }).is_ok());
}

#[test]
fn blocked_end_is_resumed_by_repeating_the_call() {
    let plan = FaultPlan::new().block_at([0, 3, 6]);
    let mut w = CompW::new(
        FaultyWriter::new(Vec::new(), plan),
        LimiterW::new(64).unwrap(),
    );
    assert_eq!(w.write(b"abc").unwrap(), 3); // buffered: nothing written yet
    let mut blocked = 0;
    loop {
        match w.write_end() {
            Ok(()) => break,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::WouldBlock);
                blocked += 1;
            }
        }
    }
    assert_eq!(blocked, 3);
    assert_eq!(w.get_ref().get_ref(), &[0x80, 0, 0, 3, b'a', b'b', b'c']);
}

#[test]
fn blocked_write_takes_nothing() {
    // The writer holds four chunks: once all are sealed, they must go out
    // before more data is taken; while the inner stream blocks, `write`
    // reports the error and takes no byte.
    let plan = FaultPlan::new().block_at([0, 2]);
    let mut w = CompW::new(
        FaultyWriter::new(Vec::new(), plan),
        LimiterW::new(2).unwrap(),
    );
    for part in [b"ab", b"cd", b"ef", b"gh"] {
        assert_eq!(w.write(part).unwrap(), 2);
    }
    assert!(
        w.get_ref().get_ref().is_empty(),
        "sealed chunks wait for the next ones"
    );
    assert_eq!(w.write(b"ij").unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(w.write(b"ij").unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(w.write(b"ij").unwrap(), 2);
    assert_eq!(w.get_ref().get_ref().len(), 4 * (4 + 2), "all in one go");
    w.write_end().unwrap();
    let wire = w.into_inner().into_inner();
    let mut r = CompR::new(&wire[..], LimiterR::new(2).unwrap());
    let mut back = Vec::new();
    r.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"abcdefghij");
}

#[test]
fn stacked_headers_go_through_the_layers_below() {
    // [marker 1, marker 2, limiter]: marker 2's header, then marker 1's,
    // then the body, all framed by the limiter (one chunk here).
    let spec = Spec::Stack(vec![Spec::Marker(1), Spec::Marker(2), Spec::Limiter(64)]);
    let wire = write_plain(&spec, &[b"hi".to_vec()]);
    assert_eq!(wire, [0x80, 0, 0, 8, 0xA5, 2, !2, 0xA5, 1, !1, b'h', b'i']);
}
